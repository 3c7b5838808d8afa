package reconcile

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/types"

	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/logctx"
	"github.com/vanlink/vanlink/pkg/transport"
)

// Scope is what Reconcile handles: some spokes of a fleet, within a session
// that outlives it (a controller's, opened once per leadership term).
type Scope struct {
	// Selection is the whole fleet as it is now (Fleet.Select).
	Selection fleet.Selection
	// Spokes are the clusters to reconcile: each selected one is observed,
	// planned and applied as in a pass; each skipped one is reported
	// skipped; one the selection no longer has is pruned when Opts.Prune is
	// set and the session keeps state for it (reported skipped otherwise).
	Spokes []string
	// OtherInFlight counts tokens of the current grant being redeemed on
	// spokes outside Spokes: each will spend a redemption, so the budget
	// gate counts them (see InFlight).
	OtherInFlight int
	// Hold holds the pushes of these spokes while the grant is the one
	// named: planned as pending (a controller backs off a spoke it pushed
	// moments ago, so a token that keeps failing does not spend the grant's
	// redemptions; a new grant is pushed at once).
	Hold map[string]Hold
}

// Hold is a push held while the grant is Grant, and why.
type Hold struct {
	Grant  types.UID
	Reason string
}

// Reconcile runs the pipeline of a pass (observe, plan, budget gate, apply)
// over the spokes of sc, within sess, which the caller opened and closes,
// with the lock the caller holds (a controller leads while it holds the
// pass Lease). It reads the grant and the hub Site as a pass does and
// records nothing: the caller reports. Per-spoke failures are in the change
// set; an error is a failure of the whole reconcile (no usable grant, the
// hub Site unreadable, the observation failed).
func (e *Engine) Reconcile(ctx context.Context, sess transport.Session, sc Scope) (*Result, error) {
	e.defaults()
	res := &Result{Started: e.Clock.Now(), DryRun: e.Opts.DryRun,
		Grant: GrantSummary{Namespace: e.Opts.GrantNamespace, Name: e.Opts.GrantName}}
	err := e.reconcile(ctx, sess, sc, res)
	res.Duration = e.Clock.Since(res.Started)
	res.sort()
	if err != nil {
		res.Error = err.Error()
	}
	return res, err
}

func (e *Engine) reconcile(ctx context.Context, sess transport.Session, sc Scope, res *Result) error {
	grant, err := e.ReadGrant(ctx)
	if err != nil {
		return err
	}
	res.Grant.UID = grant.UID
	log := e.Log.With("grant", grant.Namespace+"/"+grant.Name)
	ctx = logctx.Into(ctx, log)
	hub, err := e.readHub(ctx)
	if err != nil {
		return err
	}
	if hub.blocked != "" {
		res.Warnings = append(res.Warnings, "no token pushed: the hub cannot issue links yet: "+hub.blocked)
	}
	scope := make(map[string]bool, len(sc.Spokes))
	for _, n := range sc.Spokes {
		scope[n] = true
	}
	var spokes []string
	for _, c := range sc.Selection.Clusters {
		if scope[c.Name] {
			spokes = append(spokes, c.Name)
		}
	}
	for _, s := range sc.Selection.Skipped {
		if scope[s.Name] {
			res.Changes = append(res.Changes, Change{Step: Step{Cluster: s.Name, Action: Skip, Reason: s.Reason}, Outcome: OutcomeSkipped})
		}
	}
	q := transport.Query{Spokes: spokes, LinkNames: hub.linkNames(e.Opts.TokenName)}
	p := &pass{e: e, log: log, res: res, sess: sess, grant: grant, sel: sc.Selection, q: q, scope: scope, otherInFlight: sc.OtherInFlight, hold: sc.Hold,
		in: PlanInput{GrantUID: grant.UID, LinkReadyTimeout: e.Opts.LinkReadyTimeout, HubBlocked: hub.blocked}}
	if err := p.run(ctx); err != nil {
		return fmt.Errorf("reconciling %d spoke(s): %w", len(sc.Spokes), err)
	}
	return nil
}

// InFlight reports whether the change left a token of the grant being
// redeemed (it will spend a redemption): planned as such, or just pushed.
func (c Change) InFlight() bool {
	return c.inflight || c.Outcome == OutcomePushed
}
