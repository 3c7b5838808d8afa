// Package postsync is the policy of the Argo CD PostSync hook (and Helm's
// post-install/post-upgrade hook): wait, within a bound, for the grant to be
// usable and for the hub Site to be able to issue links, run one pass, and
// fail the hook only for real errors: a failing
// hook fails the user's whole sync, so spokes that are merely pending (no
// Site yet, token being redeemed, router coming up) never do.
package postsync

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/vanlink/vanlink/jobs/exitcode"
	"github.com/vanlink/vanlink/pkg/reconcile"
)

// Options of the policy.
type Options struct {
	// GrantTimeout bounds the wait for a usable grant and a hub Site that
	// can issue links, together (default 5 min).
	GrantTimeout time.Duration
	// Poll is the interval between reads (default 2 s).
	Poll time.Duration
	// FailOn decides the exit code (default error).
	FailOn reconcile.FailOn
	Log    *slog.Logger
}

// Run waits for the grant, runs one pass and returns its result and the
// process exit code. err describes a pass-level failure (already reflected
// in the exit code).
func Run(ctx context.Context, e *reconcile.Engine, o Options) (*reconcile.Result, int, error) {
	if o.GrantTimeout == 0 {
		o.GrantTimeout = 5 * time.Minute
	}
	if o.Poll == 0 {
		o.Poll = 2 * time.Second
	}
	if o.FailOn == "" {
		o.FailOn = reconcile.FailOnError
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	deadline := time.Now().Add(o.GrantTimeout)
	if err := WaitForGrant(ctx, e, o); err != nil {
		return nil, exitcode.For(o.FailOn, nil, err), err
	}
	hubErr := waitForHub(ctx, e, o, deadline)
	if ctx.Err() != nil {
		return nil, exitcode.For(o.FailOn, nil, hubErr), hubErr
	}
	// A hub that still cannot issue links: the pass pushes nothing and
	// records each spoke pending with the reason, and the hook fails.
	res, err := e.Run(ctx)
	if err == nil {
		err = hubErr
	}
	return res, exitcode.For(o.FailOn, res, err), err
}

// WaitForGrant polls the grant until it is usable or the timeout passes.
func WaitForGrant(ctx context.Context, e *reconcile.Engine, o Options) error {
	return poll(ctx, o, time.Now().Add(o.GrantTimeout), "the AccessGrant did not become usable within "+o.GrantTimeout.String(),
		"waiting for the AccessGrant to become usable", func() error {
			_, err := e.ReadGrant(ctx)
			return err
		})
}

// waitForHub polls the hub Site in the grant's namespace until it can issue
// links (Ready, with link endpoints) or the deadline passes: a token pushed
// before that is redeemed, counted and refused by the grant server, again
// and again (see reconcile.Engine.CheckHub).
func waitForHub(ctx context.Context, e *reconcile.Engine, o Options, deadline time.Time) error {
	return poll(ctx, o, deadline, "the hub Site could not issue links within "+o.GrantTimeout.String()+" (spokes stay unlinked until it can)",
		"waiting for the hub Site to be able to issue links", func() error { return e.CheckHub(ctx) })
}

// poll calls check until it returns nil, ctx ends or deadline passes.
func poll(ctx context.Context, o Options, deadline time.Time, gaveUp, waiting string, check func() error) error {
	lastLog := time.Time{}
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(errors.New(gaveUp), err)
		}
		if time.Since(lastLog) > 15*time.Second {
			o.Log.Info(waiting, "reason", err.Error(), "timeout", o.GrantTimeout)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(o.Poll):
		}
	}
}
