package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// apply carries out one step, a push or prune within the spoke's deadline,
// and returns its change.
func (p *pass) apply(ctx context.Context, s Step) Change {
	e, log := p.e, p.log
	c := Change{Step: s}
	switch s.Action {
	case InSync:
		c.Outcome = OutcomeLinked
	case Pending:
		c.Outcome = OutcomePending
	case Blocked:
		c.Outcome = OutcomeBlocked
	case Push, Prune:
		if e.Opts.DryRun {
			c.Outcome = OutcomePlanned
			return c
		}
		cctx, cancel := context.WithTimeout(ctx, e.Opts.SpokeTimeout)
		defer cancel()
		start := e.Clock.Now()
		var err error
		if s.Action == Push {
			err = p.push(cctx, &c)
		} else {
			err = e.prune(cctx, p.sess, &c)
		}
		c.Duration = e.Clock.Since(start)
		l := log.With("cluster", s.Cluster, "action", s.Action, "reason", c.Reason, "duration", c.Duration.Round(time.Millisecond).String())
		if err != nil && ctx.Err() != nil {
			// The pass was stopped (a signal) while the spoke's request was
			// under way: it may have run. The next pass observes it.
			c.Outcome, c.Reason = OutcomePending, c.Reason+"; the pass was stopped before the outcome was known (the next pass observes it)"
			l.Warn("spoke interrupted", "err", err)
			return c
		}
		if err != nil {
			c.Outcome, c.Error, c.FailReason = OutcomeFailed, err.Error(), failReason(err)
			if e.Opts.ErrorsPrinted {
				// The caller prints the error, once, with the result.
				l.Info("spoke failed", "failReason", c.FailReason)
			} else {
				l.Error("spoke failed", "failReason", c.FailReason, "err", err)
			}
			return c
		}
		l.Info("spoke " + string(c.Outcome))
		return c
	}
	log.Info("spoke planned", "cluster", s.Cluster, "action", s.Action, "reason", s.Reason)
	return c
}

func (p *pass) push(ctx context.Context, c *Change) error {
	e, sess := p.e, p.sess
	if err := sess.Apply(ctx, c.Cluster, transport.Op{Name: e.Opts.TokenName, Remove: c.Remove}); err != nil {
		return fmt.Errorf("removing the old token, Link or Secret: %w", err)
	}
	// The transport builds the AccessToken (the code read) when it sends it.
	op := transport.Op{Name: e.Opts.TokenName,
		Push: skupper.NewTokenRequest(p.grant, skupper.TokenOptions{Name: e.Opts.TokenName, Namespace: e.Opts.SpokeNamespace, LinkCost: e.Opts.LinkCost})}
	err := sess.Apply(ctx, c.Cluster, op)
	// A token just deleted may still be terminating on the spoke: retry a
	// few times within the spoke's deadline.
	for wait := time.Second; errors.Is(err, transport.ErrAlreadyExists) && c.Remove.Token && wait <= 4*time.Second; wait *= 2 {
		select {
		case <-ctx.Done():
		case <-time.After(wait):
			err = sess.Apply(ctx, c.Cluster, op)
		}
		if ctx.Err() != nil {
			break
		}
	}
	switch {
	case errors.Is(err, transport.ErrAlreadyExists):
		// The observation was older than the spoke: leave the token to the next pass.
		c.Outcome, c.Reason = OutcomePending, c.Reason+"; an AccessToken appeared meanwhile, left for the next pass"
		return nil
	case errors.Is(err, transport.ErrOutcomeUnknown):
		c.Outcome, c.Reason = OutcomePending, c.Reason+"; pushed, but the outcome could not be read (the next pass observes it)"
		return nil
	case err != nil:
		return err
	}
	c.Outcome = OutcomePushed
	return nil
}

// failReason sorts a failure into a short machine-readable reason.
func failReason(err error) string {
	var se *transport.SpokeError
	switch {
	case errors.Is(err, transport.ErrAgentTimeout):
		return "AgentTimeout"
	case errors.Is(err, transport.ErrOutcomeUnknown):
		return "OutcomeUnknown"
	case errors.Is(err, context.DeadlineExceeded):
		return "Timeout"
	case errors.As(err, &se) && se.Reason != "":
		return se.Reason
	}
	return "Error"
}
