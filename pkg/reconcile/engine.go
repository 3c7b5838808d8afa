package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/clock"

	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// GrantClient reads (and, for rotation, re-creates) the hub AccessGrant; a
// dynamic client's namespaced AccessGrant resource satisfies it.
type GrantClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions, subresources ...string) (*unstructured.Unstructured, error)
	Create(ctx context.Context, obj *unstructured.Unstructured, opts metav1.CreateOptions, subresources ...string) (*unstructured.Unstructured, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions, subresources ...string) error
}

// Locker keeps two passes from pushing at the same time.
type Locker interface {
	Acquire(ctx context.Context) (release func(), err error)
}

// Reporter records a pass (events, status record).
type Reporter interface {
	Report(ctx context.Context, r *Result) error
}

// Options of a pass.
type Options struct {
	// GrantNamespace and GrantName locate the hub AccessGrant.
	GrantNamespace, GrantName string
	// TokenName names the token, Link and Secret on each spoke.
	TokenName string
	// SpokeNamespace is where each spoke's Site lives.
	SpokeNamespace string
	// LinkCost sets spec.linkCost of pushed tokens when above zero.
	LinkCost int64
	// Concurrency bounds the spokes handled at once (default 32).
	Concurrency int
	// SpokeTimeout is the deadline of one spoke's push or prune (default 2m);
	// it also bounds the observation of a pass that observes the whole fleet
	// first (a streamed pass leaves each spoke's observation deadline to the
	// transport).
	SpokeTimeout time.Duration
	// Rotate re-creates an exhausted or expiring grant.
	Rotate bool
	// ExpiryMargin: a grant expiring within it counts as expiring. It is
	// bounded by half the grant's spec.expirationWindow (10 minutes when
	// unset, as upstream), so a short-lived grant is not expiring as soon
	// as it is made (see Engine.margin).
	ExpiryMargin time.Duration
	// LinkReadyTimeout: a spoke whose Links have not been Ready for longer
	// than this while its Site is Ready is re-linked (0: never).
	LinkReadyTimeout time.Duration
	// Fresh opens sessions that read every spoke as it is now, even one
	// whose Links a cache shows Ready (see transport.SessionOptions). A push
	// or removal always rests on a fresh read, whatever this says.
	Fresh bool
	// RotationTimeout bounds the wait for a re-created grant (default 2m).
	RotationTimeout time.Duration
	// Prune removes the token of clusters that left the selection.
	Prune bool
	// DryRun observes and plans but pushes, removes and records nothing.
	DryRun bool
}

// SiteLister lists the hub Sites of the grant's namespace; a dynamic
// client's namespaced Site resource satisfies it.
type SiteLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*unstructured.UnstructuredList, error)
}

// Engine runs passes.
type Engine struct {
	Grants GrantClient
	// Sites reads the hub Site that issues the links; nil skips the hub
	// check (one router group assumed).
	Sites     SiteLister
	Fleet     fleet.Source
	Transport transport.Transport
	Lock      Locker
	Reporter  Reporter
	Clock     clock.PassiveClock
	Log       *slog.Logger
	Opts      Options
}

// ErrGrantNotFound: the AccessGrant does not exist.
var ErrGrantNotFound = errors.New("AccessGrant not found")

func (e *Engine) defaults() {
	if e.Opts.Concurrency < 1 {
		e.Opts.Concurrency = 32
	}
	if e.Opts.SpokeTimeout == 0 {
		e.Opts.SpokeTimeout = 2 * time.Minute
	}
	if e.Opts.RotationTimeout == 0 {
		e.Opts.RotationTimeout = 2 * time.Minute
	}
	if e.Clock == nil {
		e.Clock = clock.RealClock{}
	}
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
}

// ReadGrant reads, parses and validates the grant.
func (e *Engine) ReadGrant(ctx context.Context) (*skupper.Grant, error) {
	obj, err := e.Grants.Get(ctx, e.Opts.GrantName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s/%s", ErrGrantNotFound, e.Opts.GrantNamespace, e.Opts.GrantName)
	}
	if err != nil {
		return nil, fmt.Errorf("reading AccessGrant %s/%s: %w", e.Opts.GrantNamespace, e.Opts.GrantName, err)
	}
	g, err := skupper.ParseGrant(obj)
	if err != nil {
		return nil, err
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}

// Run performs one pass. A pass-level failure (no usable grant, spokes not
// discoverable, lease not acquired) is returned as an error and recorded in
// the result; per-spoke failures are only in the change set.
func (e *Engine) Run(ctx context.Context) (*Result, error) {
	e.defaults()
	// Everything a pass starts (e.g. the transport's watches) ends with it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res := &Result{Started: e.Clock.Now(), DryRun: e.Opts.DryRun,
		Grant: GrantSummary{Namespace: e.Opts.GrantNamespace, Name: e.Opts.GrantName}}
	if e.Lock != nil && !e.Opts.DryRun {
		release, err := e.Lock.Acquire(ctx)
		if err != nil {
			// Not recorded: the pass holding the lease records its own.
			res.Error = err.Error()
			return res, err
		}
		defer release()
	}
	err := e.run(ctx, res)
	res.Duration = e.Clock.Since(res.Started)
	res.sort()
	if err != nil {
		res.Error = err.Error()
	}
	if !e.Opts.DryRun && e.Reporter != nil {
		if rerr := e.Reporter.Report(context.WithoutCancel(ctx), res); rerr != nil {
			e.Log.Warn("recording the pass failed", "err", rerr)
		}
	}
	return res, err
}

func (e *Engine) run(ctx context.Context, res *Result) error {
	grant, err := e.ReadGrant(ctx)
	if err != nil {
		return err
	}
	res.Grant.UID = grant.UID
	log := e.Log.With("grant", grant.Namespace+"/"+grant.Name)
	log.Debug("grant usable", "uid", grant.UID, "redemptions", grant.Redemptions, "allowed", grant.RedemptionsAllowed, "expires", grant.ExpirationTime)
	hub, err := e.readHub(ctx)
	if err != nil {
		return err
	}
	if hub.blocked != "" {
		res.Warnings = append(res.Warnings, "no token pushed: the hub cannot issue links yet: "+hub.blocked)
		log.Warn("the hub cannot issue links yet; no token is pushed", "reason", hub.blocked)
	}

	sel, err := e.Fleet.Select(ctx)
	if err != nil {
		return err
	}
	for _, s := range sel.Skipped {
		res.Changes = append(res.Changes, Change{Step: Step{Cluster: s.Name, Action: Skip, Reason: s.Reason}, Outcome: OutcomeSkipped})
		log.Info("spoke skipped", "cluster", s.Name, "reason", s.Reason)
	}
	sess, err := e.Transport.Open(ctx, transport.SessionOptions{ReadOnly: e.Opts.DryRun, Fresh: e.Opts.Fresh})
	if err != nil {
		return fmt.Errorf("opening a transport session: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := sess.Close(cctx); err != nil {
			log.Warn("the transport did not finish its cleanup; the next pass removes what is left", "err", err)
		}
	}()
	q := transport.Query{Spokes: sel.Names(), LinkNames: skupper.LinkNames(e.Opts.TokenName, hub.groups)}
	log.Debug("spokes selected", "selected", len(q.Spokes), "skipped", len(sel.Skipped), "links", q.LinkNames)
	in := PlanInput{GrantUID: grant.UID, LinkReadyTimeout: e.Opts.LinkReadyTimeout, HubBlocked: hub.blocked}
	if e.streams(grant, len(q.Spokes)) {
		return e.stream(ctx, log, res, sess, grant, sel, q, in)
	}
	octx, cancel := context.WithTimeout(ctx, e.Opts.SpokeTimeout)
	t0 := e.Clock.Now()
	obs, err := transport.ObserveAll(octx, sess, q)
	cancel()
	if err != nil {
		return fmt.Errorf("observing spokes: %w", err)
	}
	log.Debug("spokes observed", "duration", e.Clock.Since(t0))
	steps := make([]Step, len(q.Spokes))
	for i, n := range q.Spokes {
		in.Now = e.Clock.Now()
		steps[i] = PlanSpoke(obs[n], in)
	}
	steps = append(steps, e.pruneSteps(ctx, sess, sel, &res.Changes)...)

	now := e.Clock.Now()
	margin := e.margin(grant)
	res.Budget = budgetFor(steps, grant.Health(now), now, margin)
	if res.Budget.Short() && e.Opts.Rotate {
		if e.Opts.DryRun {
			res.Warnings = append(res.Warnings, "the grant would be rotated (dry run)")
		} else {
			rotated, err := e.rotate(ctx, grant)
			if err != nil {
				return err
			}
			log.Info("grant rotated", "previousUID", grant.UID, "uid", rotated.UID)
			res.Grant.Rotated, res.Grant.PreviousUID, res.Grant.UID = true, grant.UID, rotated.UID
			grant, in.GrantUID = rotated, rotated.UID
			// Tokens of the old grant that were not redeemed can no longer be.
			for i, s := range steps {
				if s.Action != Prune {
					in.Now = e.Clock.Now()
					steps[i] = PlanSpoke(obs[s.Cluster], in)
				}
			}
			now = e.Clock.Now()
			res.Budget = budgetFor(steps, grant.Health(now), now, e.margin(grant))
		}
	}
	if !(e.Opts.DryRun && e.Opts.Rotate && res.Budget.Short()) {
		// (A dry run that would rotate shows the pushes the new grant would serve.)
		res.Warnings = append(res.Warnings, applyBudget(steps, res.Budget)...)
	}
	res.Changes = append(res.Changes, e.execute(ctx, log, sess, grant, steps)...)
	return nil
}

// hubState is what the hub Site allows: the router groups spokes link to
// (one Link each), or why no link can be issued now.
type hubState struct {
	groups  int
	blocked string
}

// ErrHubNotReady is wrapped by CheckHub's error when the hub Site cannot
// issue links yet.
var ErrHubNotReady = errors.New("the hub cannot issue links yet")

// readHub reads the Site in the grant's namespace. A redemption is counted
// before the grant server looks for the granting Site's endpoints, then
// fails with HTTP 500 when there are none, and the spoke controller retries
// it about every 30 s, each time spending one more: so while the hub Site is
// not Ready with link endpoints, no token is pushed (upstream:
// skupperproject/skupper internal/kube/grants/grants.go and tokens.go).
// An error is returned only when the Sites cannot be read.
func (e *Engine) readHub(ctx context.Context) (hubState, error) {
	if e.Sites == nil {
		return hubState{groups: 1}, nil
	}
	list, err := e.Sites.List(ctx, metav1.ListOptions{})
	if err != nil {
		return hubState{}, fmt.Errorf("reading the hub Site in namespace %s: %w", e.Opts.GrantNamespace, err)
	}
	if len(list.Items) == 0 {
		return hubState{blocked: fmt.Sprintf("no Site in namespace %s: the grant server has no Site to issue links for", e.Opts.GrantNamespace)}, nil
	}
	var reasons []string
	for i := range list.Items {
		site, err := skupper.ParseSite(&list.Items[i])
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		if err := site.CanIssueLinks(); err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		return hubState{groups: site.LinkGroups()}, nil
	}
	return hubState{blocked: strings.Join(reasons, "; ")}, nil
}

// CheckHub returns nil when the hub Site can issue links, or an error
// wrapping ErrHubNotReady that names the Site and says why not.
func (e *Engine) CheckHub(ctx context.Context) error {
	e.defaults()
	h, err := e.readHub(ctx)
	if err != nil {
		return err
	}
	if h.blocked != "" {
		return fmt.Errorf("%w: %s", ErrHubNotReady, h.blocked)
	}
	return nil
}

// margin is the expiry margin for this grant: ExpiryMargin, at most half of
// the grant's expiration window (10 minutes when unset, as upstream), so a
// grant is never "expiring" for most of its life.
func (e *Engine) margin(g *skupper.Grant) time.Duration {
	window := 10 * time.Minute
	if w, err := time.ParseDuration(g.ExpirationWindow); err == nil && w > 0 {
		window = w
	}
	return min(e.Opts.ExpiryMargin, window/2)
}

// streams reports whether the pass can push each spoke as soon as it is
// observed instead of observing the whole fleet first: the grant can redeem a
// token for every selected spoke (so no plan can exceed it, whatever is
// observed), it is not expired, it needs no rotation, and the pass is not a
// dry run. Otherwise the pass observes everything, then checks the budget.
func (e *Engine) streams(grant *skupper.Grant, spokes int) bool {
	now := e.Clock.Now()
	h := grant.Health(now)
	margin := e.margin(grant)
	expiring := margin > 0 && h.ExpiresWithin(now, margin)
	return !e.Opts.DryRun && !h.Expired && h.Left >= int64(spokes) && !(e.Opts.Rotate && expiring)
}

// stream observes the spokes and handles each as soon as its observation
// arrives (fresh read when needed, plan, push), Concurrency spokes at a
// time, so the agent's round trips of the first spokes overlap the
// observation of the others. Only used when streams says the grant covers
// every push. What was done is recorded even when the observation fails
// half-way: those pushes spent redemptions.
func (e *Engine) stream(ctx context.Context, log *slog.Logger, res *Result, sess transport.Session, grant *skupper.Grant, sel fleet.Selection, q transport.Query, in PlanInput) error {
	// A small queue: while every worker is busy, emit blocks and the
	// transport slows its observation down to the pace of the pushes.
	observed := make(chan *transport.Observation, e.Opts.Concurrency)
	var observeErr error
	t0 := e.Clock.Now()
	go func() {
		defer close(observed)
		// No deadline for the whole observation: it is paced by the pushes
		// and lasts as long as they do. Each spoke has its own (the
		// transport's spoke timeout).
		observeErr = sess.Observe(ctx, q, func(o *transport.Observation) { observed <- o })
		log.Debug("spokes observed", "duration", e.Clock.Since(t0))
	}()
	var (
		mu      sync.Mutex
		steps   []Step
		changes []Change
		g       errgroup.Group
	)
	g.SetLimit(e.Opts.Concurrency)
	for o := range observed {
		g.Go(func() error {
			in := in
			in.Now = e.Clock.Now()
			s := PlanSpoke(o, in)
			c := e.apply(ctx, log, sess, grant, s)
			mu.Lock()
			steps, changes = append(steps, s), append(changes, c)
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	res.Changes = append(res.Changes, changes...)
	now := e.Clock.Now()
	if observeErr != nil {
		res.Budget = budgetFor(steps, grant.Health(now), now, e.margin(grant))
		return fmt.Errorf("observing spokes: %w", observeErr)
	}
	prune := e.pruneSteps(ctx, sess, sel, &res.Changes)
	res.Changes = append(res.Changes, e.execute(ctx, log, sess, grant, prune)...)
	now = e.Clock.Now()
	res.Budget = budgetFor(append(steps, prune...), grant.Health(now), now, e.margin(grant))
	// The grant covers every push (see streams): only a warning can come of it.
	res.Warnings = append(res.Warnings, applyBudget(steps, res.Budget)...)
	return nil
}

// pruneSteps plans the clusters the transport knows but the selection no
// longer has (unusable clusters are still selected: they are not pruned).
func (e *Engine) pruneSteps(ctx context.Context, sess transport.Session, sel fleet.Selection, changes *[]Change) []Step {
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
		if in[k] {
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

// execute runs push and prune steps with bounded concurrency and a deadline
// per spoke; other steps become changes as they are.
func (e *Engine) execute(ctx context.Context, log *slog.Logger, sess transport.Session, grant *skupper.Grant, steps []Step) []Change {
	changes := make([]Change, len(steps))
	var g errgroup.Group
	g.SetLimit(e.Opts.Concurrency)
	for i, s := range steps {
		g.Go(func() error {
			changes[i] = e.apply(ctx, log, sess, grant, s)
			return nil
		})
	}
	_ = g.Wait()
	return changes
}

// apply carries out one step, a push or prune within the spoke's deadline,
// and returns its change.
func (e *Engine) apply(ctx context.Context, log *slog.Logger, sess transport.Session, grant *skupper.Grant, s Step) Change {
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
			err = e.push(cctx, sess, grant, &c)
		} else {
			err = e.prune(cctx, sess, &c)
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
			c.Outcome, c.Error = OutcomeFailed, err.Error()
			l.Error("spoke failed", "err", err)
			return c
		}
		l.Info("spoke " + string(c.Outcome))
		return c
	}
	log.Info("spoke planned", "cluster", s.Cluster, "action", s.Action, "reason", s.Reason)
	return c
}

func (e *Engine) push(ctx context.Context, sess transport.Session, grant *skupper.Grant, c *Change) error {
	if err := sess.Apply(ctx, c.Cluster, transport.Op{Name: e.Opts.TokenName, Remove: c.Remove}); err != nil {
		return fmt.Errorf("removing the old token, Link or Secret: %w", err)
	}
	op := transport.Op{Name: e.Opts.TokenName,
		Push: skupper.NewAccessToken(grant, skupper.TokenOptions{Name: e.Opts.TokenName, Namespace: e.Opts.SpokeNamespace, LinkCost: e.Opts.LinkCost})}
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

// rotate deletes the grant and re-creates it with the same spec, labels and
// annotations (so Helm and Argo CD still own it), then waits for the
// controller to make the new one usable.
func (e *Engine) rotate(ctx context.Context, old *skupper.Grant) (*skupper.Grant, error) {
	cur, err := e.Grants.Get(ctx, old.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("rotating AccessGrant %s/%s: %w", old.Namespace, old.Name, err)
	}
	fresh := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": cur.GetAPIVersion(), "kind": cur.GetKind(),
		"metadata": map[string]any{"name": cur.GetName(), "namespace": cur.GetNamespace()},
	}}
	fresh.SetLabels(cur.GetLabels())
	fresh.SetAnnotations(cur.GetAnnotations())
	if spec, ok, _ := unstructured.NestedMap(cur.Object, "spec"); ok {
		_ = unstructured.SetNestedMap(fresh.Object, spec, "spec")
	}
	uid := cur.GetUID()
	if err := e.Grants.Delete(ctx, old.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("rotating AccessGrant %s/%s: deleting it: %w", old.Namespace, old.Name, err)
	}
	rctx, cancel := context.WithTimeout(ctx, e.Opts.RotationTimeout)
	defer cancel()
	created := false
	var last error
	for {
		if !created {
			_, err := e.Grants.Create(rctx, fresh, metav1.CreateOptions{})
			switch {
			case err == nil:
				created = true
			case apierrors.IsAlreadyExists(err):
				// The old one is still being deleted.
			default:
				last = err
			}
		}
		if created {
			g, err := e.ReadGrant(rctx)
			if err == nil && g.UID != old.UID {
				return g, nil
			}
			last = err
		}
		select {
		case <-rctx.Done():
			return nil, fmt.Errorf("rotating AccessGrant %s/%s: the new grant was not usable within %s: %w", old.Namespace, old.Name, e.Opts.RotationTimeout, errors.Join(last, rctx.Err()))
		case <-time.After(250 * time.Millisecond):
		}
	}
}
