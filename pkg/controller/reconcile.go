package controller

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/transport"
)

// reconcile runs Engine.Reconcile over a batch, keeps each spoke's latest
// change, queues each spoke again as its outcome says, and reports.
func (c *Controller) reconcile(ctx context.Context, sess transport.Session, q workqueue.TypedRateLimitingInterface[string], batch []string) {
	if ctx.Err() != nil {
		return
	}
	e := c.Engine
	start := time.Now()
	sel, err := e.Fleet.Select(ctx)
	if err != nil {
		c.Log.Error("listing the fleet failed", "err", err)
		for _, n := range batch {
			q.AddRateLimited(n)
		}
		return
	}
	in := make(map[string]bool, len(batch))
	for _, n := range batch {
		in[n] = true
	}
	other := 0
	hold := map[string]reconcile.Hold{}
	holdFor := map[string]time.Duration{}
	c.mu.Lock()
	for n, ch := range c.spokes {
		if !in[n] && ch.InFlight() {
			other++
		}
	}
	for _, n := range batch {
		if p, ok := c.pushed[n]; ok {
			if left := p.at.Add(p.wait).Sub(start); left > 0 {
				hold[n] = reconcile.Hold{Grant: p.grant, Reason: fmt.Sprintf("pushed %s ago, not pushed again for %s (backoff)", start.Sub(p.at).Round(time.Second), left.Round(time.Second))}
				holdFor[n] = left
			}
		}
	}
	c.mu.Unlock()
	res, err := e.Reconcile(ctx, sess, reconcile.Scope{Selection: sel, Spokes: batch, OtherInFlight: other, Hold: hold})
	c.Metrics.observe(res, time.Since(start), e.Clock.Now())
	if err != nil && ctx.Err() == nil {
		c.Log.Error("reconcile failed", "spokes", len(batch), "err", err)
	}
	got := map[string]reconcile.Change{}
	c.mu.Lock()
	for _, ch := range res.Changes {
		got[ch.Cluster] = ch
		if prev, ok := c.spokes[ch.Cluster]; !ok || entry(prev) != entry(ch) {
			c.entries++
		}
		c.spokes[ch.Cluster] = ch
		switch ch.Outcome {
		case reconcile.OutcomePushed:
			// A spoke pushed again before it ever linked waits twice as
			// long for its next push: a token that keeps failing (a grant
			// server that answers 503) does not drain the grant.
			wait := c.Opts.PushBackoff
			if p, ok := c.pushed[ch.Cluster]; ok && p.grant == res.Grant.UID {
				wait = min(2*p.wait, c.Opts.MaxBackoff)
			}
			c.pushed[ch.Cluster] = pushRecord{at: start, wait: wait, grant: res.Grant.UID}
		case reconcile.OutcomeLinked, reconcile.OutcomePruned:
			delete(c.pushed, ch.Cluster)
		}
		if ch.Outcome == reconcile.OutcomePruned {
			c.prunedAt[ch.Cluster] = start
		} else {
			delete(c.prunedAt, ch.Cluster)
		}
	}
	if err == nil {
		for _, n := range batch {
			// Left the selection with nothing to prune: forgotten, unless
			// it was pruned, which the status record shows until
			// dropPruned.
			if _, ok := got[n]; !ok && c.spokes[n].Outcome != reconcile.OutcomePruned {
				if _, had := c.spokes[n]; had {
					c.entries++
				}
				delete(c.spokes, n)
				delete(c.prunedAt, n)
			}
		}
	}
	c.Metrics.setSpokes(c.spokes)
	c.mu.Unlock()
	for _, n := range batch {
		ch, ok := got[n]
		switch {
		case !ok && err != nil:
			q.AddRateLimited(n)
		case !ok:
			q.Forget(n)
		case ch.Outcome == reconcile.OutcomePushed:
			// Observed again soon: the token is redeemed within seconds.
			q.Forget(n)
			q.AddRateLimited(n)
		case holdFor[n] > 0 && ch.Outcome == reconcile.OutcomePending && strings.Contains(ch.Reason, "held: "):
			q.AddAfter(n, holdFor[n])
		case ch.Outcome == reconcile.OutcomePending || ch.Outcome == reconcile.OutcomeFailed:
			q.AddRateLimited(n)
		default:
			// Linked, skipped, pruned, blocked: an event queues it again
			// (a state change, the cluster's, a new grant or budget).
			q.Forget(n)
		}
	}
	c.report(ctx, res)
}

// report records the reconcile's events when it did something, and the
// fleet's status record when any spoke's entry or what the record says of
// the grant changed: a steady fleet writes nothing, and a batch that
// changed nothing builds nothing (at 10,000 spokes, building the fleet's
// record and its fingerprint after each batch of a resync allocated about
// 8 MB a batch).
func (c *Controller) report(ctx context.Context, res *reconcile.Result) {
	if c.Engine.Opts.DryRun {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if c.Events != nil && eventful(res) {
		if err := c.Events.Report(rctx, res); err != nil {
			c.Log.Warn("recording events failed", "err", err)
		}
	}
	if c.Status == nil {
		return
	}
	hd := head(res)
	c.mu.Lock()
	if c.reportedOnce && c.entries == c.reportedEntries && hd == c.reportedHead {
		c.mu.Unlock()
		return
	}
	entries := c.entries
	full := &reconcile.Result{Started: res.Started, Duration: res.Duration, Grant: res.Grant, Budget: res.Budget,
		Warnings: res.Warnings, Error: res.Error, Changes: make([]reconcile.Change, 0, len(c.spokes))}
	for _, ch := range c.spokes {
		full.Changes = append(full.Changes, ch)
	}
	c.mu.Unlock()
	sort.Slice(full.Changes, func(i, j int) bool { return full.Changes[i].Cluster < full.Changes[j].Cluster })
	if err := c.Status.Report(rctx, full); err != nil {
		c.Log.Warn("recording the status failed", "err", err)
		return
	}
	c.mu.Lock()
	c.reportedEntries, c.reportedHead, c.reportedOnce = entries, hd, true
	c.mu.Unlock()
}

// eventful reports whether a reconcile deserves events (see
// report.EventsFor): it wrote, failed, was blocked or rotated the grant.
func eventful(res *reconcile.Result) bool {
	if res.Error != "" || res.Grant.Rotated {
		return true
	}
	for _, ch := range res.Changes {
		switch ch.Outcome {
		case reconcile.OutcomePushed, reconcile.OutcomePruned, reconcile.OutcomeFailed, reconcile.OutcomeBlocked:
			return true
		}
	}
	return false
}

// head is what the status record shows of a reconcile besides the spokes
// (the grant, its budget, the warnings and the error), without the times
// and the measures of one reconcile.
func head(r *reconcile.Result) string {
	return fmt.Sprintf("%s|%s|%q|%d/%d|%t%t", r.Grant.UID, r.Error, r.Warnings, r.Budget.Left, r.Budget.Allowed, r.Budget.Expired, r.Budget.ExpiringSoon)
}

// entry is what the status record shows of a spoke's latest change.
type entryKey struct {
	outcome       reconcile.Outcome
	action        reconcile.Action
	reason, error string
}

func entry(ch reconcile.Change) entryKey {
	return entryKey{ch.Outcome, ch.Action, ch.Reason, ch.Error}
}

// dropPruned forgets the spokes still pruned that were pruned at least one
// resync period before now, and returns them to be queued, so that their
// reconcile records the fleet without them. A pass records a prune once and
// its next pass no longer lists the spoke; the controller's status record
// shows a pruned spoke from its prune to the first resync one period later
// (one to two resync periods).
func (c *Controller) dropPruned(now time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for n, at := range c.prunedAt {
		if ch, ok := c.spokes[n]; ok && ch.Outcome == reconcile.OutcomePruned && now.Sub(at) >= c.Opts.Resync {
			c.entries++
			delete(c.spokes, n)
			delete(c.prunedAt, n)
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// pushRecord is when a spoke was last pushed and how long its next push
// waits.
type pushRecord struct {
	at    time.Time
	wait  time.Duration
	grant types.UID
}
