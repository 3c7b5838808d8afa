package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// pass is the pipeline of one pass: observe, plan, the budget gate, apply.
type pass struct {
	e     *Engine
	log   *slog.Logger
	res   *Result
	sess  transport.Session
	grant *skupper.Grant
	sel   fleet.Selection
	q     transport.Query
	in    PlanInput
	// scope, when set, limits pruning to these spokes (a controller's
	// reconcile of some spokes, see Engine.Reconcile); otherInFlight counts
	// tokens of the grant being redeemed on spokes outside the scope.
	scope         map[string]bool
	otherInFlight int
	hold          map[string]Hold

	mu    sync.Mutex
	held  []heldStep
	steps []Step
	// budget is the gate's measure, taken before it blocked anything.
	budget  *Budget
	changes []Change
	// apply runs the steps the gate lets through, Concurrency at a time.
	workers errgroup.Group
}

// heldStep is a step the gate holds, with the observation it rests on (a
// rotated grant plans it again).
type heldStep struct {
	obs  *transport.Observation
	step Step
}

// run observes the spokes and plans each as soon as its observation
// arrives. The budget gate then either passes each step straight to apply,
// Concurrency spokes at a time, while the next spokes are still being
// observed (so the agent's round trips overlap), or holds every step until
// the whole fleet is planned, checks the grant's budget (rotating it when
// allowed) and only then lets through the steps it covers. It passes steps
// through when the grant can redeem a token for every selected spoke, is not
// expired and needs no rotation (see streams): no plan can then exceed it.
// What was done is recorded even when the observation fails half-way: those
// pushes spent redemptions.
func (p *pass) run(ctx context.Context) error {
	e := p.e
	through := e.streams(p.grant, len(p.q.Spokes)+p.otherInFlight)
	p.workers.SetLimit(e.Opts.Concurrency)
	octx, cancel := ctx, context.CancelFunc(func() {})
	if !through {
		octx, cancel = context.WithTimeout(ctx, e.Opts.ObserveTimeout)
	}
	t0 := e.Clock.Now()
	// Steps the gate passes through wait in a small queue for the apply
	// workers: while every worker is busy and the queue is full, emit
	// blocks and the session slows its observation down to the pace of the
	// pushes, running at most one queue ahead of them.
	queue := make(chan Step, e.Opts.Concurrency)
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		for s := range queue {
			p.release(ctx, s)
		}
	}()
	observeErr := p.sess.Observe(octx, p.q, func(o *transport.Observation) {
		in := p.in
		in.Now = e.Clock.Now()
		s := p.plan(o, in)
		if through {
			queue <- s
			return
		}
		p.mu.Lock()
		p.held = append(p.held, heldStep{o, s})
		p.mu.Unlock()
	})
	close(queue)
	<-dispatched
	cancel()
	p.log.Debug("spokes observed", "duration", e.Clock.Since(t0))
	if observeErr != nil {
		_ = p.workers.Wait()
		p.record(nil)
		return fmt.Errorf("observing spokes: %w", observeErr)
	}
	prune := e.pruneSteps(ctx, p.sess, p.sel, p.scope, &p.res.Changes)
	if !through {
		if err := p.gate(ctx, prune); err != nil {
			_ = p.workers.Wait()
			p.record(nil)
			return err
		}
	} else {
		for _, s := range prune {
			p.release(ctx, s)
		}
	}
	_ = p.workers.Wait()
	p.record(func(b Budget) []string {
		if !through {
			return nil // the gate applied the budget
		}
		// The grant covers every push (see streams): only a warning can come of it.
		return applyBudget(p.steps, b)
	})
	return nil
}

// release hands a step to the apply workers.
func (p *pass) release(ctx context.Context, s Step) {
	p.mu.Lock()
	p.steps = append(p.steps, s)
	p.mu.Unlock()
	p.workers.Go(func() error {
		c := p.apply(ctx, s)
		p.mu.Lock()
		p.changes = append(p.changes, c)
		p.mu.Unlock()
		return nil
	})
}

// gate checks the budget of the held steps (in cluster order, so the same
// spokes are served first on every pass), rotates the grant when it falls
// short and rotation is allowed, blocks what the grant cannot serve, and
// releases every step.
func (p *pass) gate(ctx context.Context, prune []Step) error {
	e := p.e
	sort.Slice(p.held, func(i, j int) bool { return p.held[i].step.Cluster < p.held[j].step.Cluster })
	steps := make([]Step, 0, len(p.held)+len(prune))
	for _, h := range p.held {
		steps = append(steps, h.step)
	}
	steps = append(steps, prune...)
	now := e.Clock.Now()
	b := p.budgetFor(steps, now)
	if b.Short() && e.Opts.Rotate {
		if e.Opts.DryRun {
			p.res.Warnings = append(p.res.Warnings, "the grant would be rotated (dry run)")
		} else {
			rotated, err := e.rotate(ctx, p.grant)
			if err != nil {
				return err
			}
			p.log.Info("grant rotated", "previousUID", p.grant.UID, "uid", rotated.UID)
			p.res.Grant.Rotated, p.res.Grant.PreviousUID, p.res.Grant.UID = true, p.grant.UID, rotated.UID
			p.grant, p.in.GrantUID = rotated, rotated.UID
			// Tokens of the old grant that were not redeemed can no longer be.
			for i, h := range p.held {
				in := p.in
				in.Now = e.Clock.Now()
				steps[i] = p.plan(h.obs, in)
			}
			b = p.budgetFor(steps, e.Clock.Now())
		}
	}
	p.budget = &b
	if !(e.Opts.DryRun && e.Opts.Rotate && b.Short()) {
		// (A dry run that would rotate shows the pushes the new grant would serve.)
		p.res.Warnings = append(p.res.Warnings, applyBudget(steps, b)...)
	}
	for _, s := range steps {
		p.release(ctx, s)
	}
	return nil
}

// record puts what was done in the result, with the budget measured over
// the steps released; warn, when set, adds the budget's warnings.
func (p *pass) record(warn func(Budget) []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.res.Changes = append(p.res.Changes, p.changes...)
	if p.budget != nil {
		p.res.Budget = *p.budget
		return
	}
	p.res.Budget = p.budgetFor(p.steps, p.e.Clock.Now())
	if warn != nil {
		p.res.Warnings = append(p.res.Warnings, warn(p.res.Budget)...)
	}
}

// budgetFor measures the grant against the steps and the tokens in flight
// outside the pass's scope.
func (p *pass) budgetFor(steps []Step, now time.Time) Budget {
	b := budgetFor(steps, p.grant.Health(now), now, p.e.margin(p.grant))
	b.InFlight += p.otherInFlight
	return b
}

// plan plans a spoke; a push the caller holds (Scope.Hold) for the
// current grant waits, pending.
func (p *pass) plan(o *transport.Observation, in PlanInput) Step {
	s := PlanSpoke(o, in)
	if h, ok := p.hold[s.Cluster]; ok && s.Action == Push && h.Grant == in.GrantUID {
		s.Action, s.Remove = Pending, transport.RemoveOptions{}
		s.Reason = "needs a token (" + s.Reason + "), held: " + h.Reason
	}
	return s
}
