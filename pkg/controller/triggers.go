package controller

import (
	"context"

	"github.com/vanlink/vanlink/pkg/reconcile"
)

// What queues a spoke: the informers' events (see Watch), the session's
// (transport.Watcher), and the periodic resync.

// MembershipChanged says that what chooses the spokes changed (a
// ManagedCluster, a PlacementDecision, a credentials Secret): the spokes
// whose membership changed are queued. It never blocks.
func (c *Controller) MembershipChanged() {
	c.init()
	select {
	case c.membership <- struct{}{}:
	default:
	}
}

// GrantChanged says that the grant (code, budget, expiry) or the hub Site
// changed: every spoke that is not linked is queued. It never blocks.
func (c *Controller) GrantChanged() {
	c.init()
	select {
	case c.grantCh <- struct{}{}:
	default:
	}
}

// GrantReplaced says that the grant was re-created (a new uid): every spoke
// is queued, as a pass would observe them all (a linked spoke is left
// alone; a broken one no event reported is re-linked). It never blocks.
func (c *Controller) GrantReplaced() {
	c.init()
	select {
	case c.replaced <- struct{}{}:
	default:
	}
}

// membershipDiff selects the fleet and queues the spokes that joined, left
// or changed since the last selection.
func (c *Controller) membershipDiff(ctx context.Context) {
	sel, err := c.Engine.Fleet.Select(ctx)
	if err != nil {
		c.Log.Warn("listing the fleet failed", "err", err)
		return
	}
	now := map[string]string{}
	for _, n := range sel.Names() {
		now[n] = ""
	}
	for _, s := range sel.Skipped {
		now[s.Name] = s.Reason
	}
	c.mu.Lock()
	var changed []string
	for n, r := range now {
		if prev, ok := c.selection[n]; !ok || prev != r {
			changed = append(changed, n)
		}
	}
	for n := range c.selection {
		if _, ok := now[n]; !ok {
			changed = append(changed, n)
		}
	}
	c.selection = now
	c.mu.Unlock()
	if len(changed) > 0 {
		c.Log.Debug("membership changed", "spokes", len(changed))
	}
	c.Enqueue(changed...)
}

// EnqueueUnlinked queues every selected spoke that is not known to be
// linked (a grant or hub Site change: linked spokes keep working whatever
// grant made their token).
func (c *Controller) EnqueueUnlinked(ctx context.Context) {
	sel, err := c.Engine.Fleet.Select(ctx)
	if err != nil {
		c.Log.Warn("listing the fleet failed", "err", err)
		return
	}
	c.mu.Lock()
	var out []string
	for _, n := range sel.Names() {
		if ch, ok := c.spokes[n]; !ok || ch.Outcome != reconcile.OutcomeLinked {
			out = append(out, n)
		}
	}
	c.mu.Unlock()
	c.Enqueue(out...)
}

// EnqueueAll queues every selected spoke and every spoke the controller
// knows (one that left the selection is pruned or reported).
func (c *Controller) EnqueueAll(ctx context.Context) {
	sel, err := c.Engine.Fleet.Select(ctx)
	if err != nil {
		c.Log.Warn("listing the fleet failed", "err", err)
		return
	}
	names := sel.Names()
	for _, s := range sel.Skipped {
		names = append(names, s.Name)
	}
	c.mu.Lock()
	for n := range c.spokes {
		names = append(names, n)
	}
	c.mu.Unlock()
	c.Enqueue(names...)
}
