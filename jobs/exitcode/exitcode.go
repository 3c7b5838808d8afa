// Package exitcode is the exit policy both job policies share (jobs/postsync
// and jobs/cron): how a pass's result and error map to a process exit code
// under --fail-on. It sits below both, so neither job imports the other.
package exitcode

import (
	"github.com/vanlink/vanlink/pkg/lease"
	"github.com/vanlink/vanlink/pkg/reconcile"
)

// For maps a pass to an exit code: 0, or 1 when the policy f fails it. A pass
// that did nothing because another pass holds the lease exits 0: that pass
// does the work.
func For(f reconcile.FailOn, res *reconcile.Result, err error) int {
	switch {
	case lease.IsHeld(err):
		return 0
	case f == reconcile.FailOnNever:
		return 0
	case err != nil:
		return 1
	case res != nil && f.Failed(res):
		return 1
	}
	return 0
}
