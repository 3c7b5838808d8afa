package reconcile

import (
	"context"

	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/transport"
)

// pruneSteps plans the clusters the transport knows but the selection no
// longer has (unusable clusters are still selected: they are not pruned);
// when scope is set, only those in it.
func (e *Engine) pruneSteps(ctx context.Context, sess transport.Session, sel fleet.Selection, scope map[string]bool, changes *[]Change) []Step {
	if ctx.Err() != nil {
		return nil // a stopped pass starts no new work
	}
	pruner, ok := sess.(transport.Pruner)
	if !ok {
		return nil // the transport keeps no hub-side state of spokes
	}
	known, err := pruner.Known(ctx)
	if err != nil {
		e.Log.Warn("listing the spokes known to the transport failed; nothing pruned", "err", err)
		return nil
	}
	in := map[string]bool{}
	for _, c := range sel.Clusters {
		in[c.Name] = true
	}
	for _, s := range sel.Skipped {
		in[s.Name] = true
	}
	var steps []Step
	for _, k := range known {
		if in[k] || scope != nil && !scope[k] {
			continue
		}
		if e.Opts.Prune {
			steps = append(steps, Step{Cluster: k, Action: Prune, Reason: "left the selection"})
			continue
		}
		*changes = append(*changes, Change{Step: Step{Cluster: k, Action: Skip, Reason: "left the selection; run with --prune to remove its token, Link and Secret"}, Outcome: OutcomeSkipped})
	}
	return steps
}

func (e *Engine) prune(ctx context.Context, sess transport.Session, c *Change) error {
	if err := sess.Apply(ctx, c.Cluster, transport.Op{Name: e.Opts.TokenName, Remove: transport.All}); err != nil {
		return err
	}
	if p, ok := sess.(transport.Pruner); ok {
		if err := p.Forget(ctx, c.Cluster); err != nil {
			return err
		}
	}
	c.Outcome = OutcomePruned
	return nil
}
