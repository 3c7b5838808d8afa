package exitcode

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/pkg/lease"
	"github.com/vanlink/vanlink/pkg/reconcile"
)

func TestExitCode(t *testing.T) {
	res := func(outcomes ...reconcile.Outcome) *reconcile.Result {
		r := &reconcile.Result{}
		for _, o := range outcomes {
			r.Changes = append(r.Changes, reconcile.Change{Outcome: o})
		}
		return r
	}
	tests := map[string]struct {
		failOn reconcile.FailOn
		res    *reconcile.Result
		err    error
		want   int
	}{
		"linked and pending spokes do not fail the hook":  {reconcile.FailOnError, res(reconcile.OutcomeLinked, reconcile.OutcomePending, reconcile.OutcomePushed), nil, 0},
		"a failed spoke fails it":                         {reconcile.FailOnError, res(reconcile.OutcomeLinked, reconcile.OutcomeFailed), nil, 1},
		"a blocked spoke fails it":                        {reconcile.FailOnError, res(reconcile.OutcomeBlocked), nil, 1},
		"a pass error fails it":                           {reconcile.FailOnError, nil, errors.New("invalid grant"), 1},
		"pending fails it with --fail-on=pending":         {reconcile.FailOnPending, res(reconcile.OutcomePending), nil, 1},
		"nothing fails it with --fail-on=never":           {reconcile.FailOnNever, res(reconcile.OutcomeFailed), errors.New("x"), 0},
		"another pass holding the lease is not a failure": {reconcile.FailOnError, nil, &lease.HeldError{Holder: "cron"}, 0},
		"skipped clusters alone are fine":                 {reconcile.FailOnPending, res(reconcile.OutcomeSkipped, reconcile.OutcomeLinked), nil, 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			require.Equal(t, tc.want, For(tc.failOn, tc.res, tc.err))
		})
	}
}
