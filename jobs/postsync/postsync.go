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
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

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
	// Server (host:port) names the hub API server in UnreachableError; when
	// empty, the host of the failed request's URL is used.
	Server string
	// Unreachable is how many reads in a row may fail at the transport
	// level (refused, reset, no answer) before the wait ends with an
	// UnreachableError (default 3): one blip, as during an upgrade of the
	// hub API server, is waited out, a hub that cannot be reached is not.
	Unreachable int
}

// UnreachableError ends the wait when the hub API server could not be
// reached, or did not answer, several reads in a row: a grant the hub cannot
// be asked about is not a grant "not usable yet".
type UnreachableError struct {
	// Server is the hub API server (host:port).
	Server string
	// Reads is the number of reads in a row that failed.
	Reads int
	// Waiting says what for: "the AccessGrant", "the hub Site".
	Waiting string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("the hub API server %s could not be reached or did not answer %d reads in a row while waiting for %s: %v", e.Server, e.Reads, e.Waiting, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// transportError reports whether err is a failure to reach the hub API
// server or to get its answer (a refused or reset connection, a DNS
// failure, a timeout), not an answer of the API (a status error such as
// NotFound, or a grant that is not ready). It returns the server of the
// failed request when the error names it.
func transportError(err error) (server string, ok bool) {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return "", false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			server = u.Host
		}
		return server, true
	}
	var ne net.Error
	return "", errors.As(err, &ne)
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
	if o.Unreachable == 0 {
		o.Unreachable = 3
	}
	deadline := time.Now().Add(o.GrantTimeout)
	if err := WaitForGrant(ctx, e, o); err != nil {
		return nil, exitcode.For(o.FailOn, nil, err), err
	}
	hubErr := waitForHub(ctx, e, o, deadline)
	if ctx.Err() != nil || errors.As(hubErr, new(*UnreachableError)) {
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
	return poll(ctx, o, time.Now().Add(o.GrantTimeout), "the AccessGrant", "the AccessGrant did not become usable within "+o.GrantTimeout.String(),
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
	return poll(ctx, o, deadline, "the hub Site", "the hub Site could not issue links within "+o.GrantTimeout.String()+" (spokes stay unlinked until it can)",
		"waiting for the hub Site to be able to issue links", func() error { return e.CheckHub(ctx) })
}

// poll calls check until it returns nil, ctx ends or deadline passes, or
// o.Unreachable checks in a row fail to reach the hub API server (what names
// the object waited for in that error).
func poll(ctx context.Context, o Options, deadline time.Time, what, gaveUp, waiting string, check func() error) error {
	lastLog := time.Time{}
	unreachable := 0
	for {
		err := check()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		server, isTransport := transportError(err)
		if o.Server != "" {
			server = o.Server
		}
		if isTransport {
			unreachable++
			if unreachable >= max(o.Unreachable, 1) {
				return &UnreachableError{Server: server, Reads: unreachable, Waiting: what, Err: err}
			}
		} else {
			unreachable = 0
		}
		if time.Now().After(deadline) {
			return errors.Join(errors.New(gaveUp), err)
		}
		switch {
		case isTransport:
			o.Log.Warn("could not reach the hub API server; reading again", "server", server, "waitingFor", what,
				"failedReads", unreachable, "giveUpAfter", max(o.Unreachable, 1), "err", err.Error())
		case time.Since(lastLog) > 15*time.Second:
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
