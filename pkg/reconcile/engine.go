package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/clock"

	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/logctx"
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
	// SpokeTimeout is the deadline of one spoke's push or prune (default
	// 2m). Each spoke's observation has its own, the transport's.
	SpokeTimeout time.Duration
	// ObserveTimeout bounds the observation of the whole fleet when the
	// pass holds every push until it is complete (default 5m; see pass.run
	// and Engine.streams). A pass that pushes as it observes has none: it is
	// paced by the pushes.
	ObserveTimeout time.Duration
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
	// ErrorsPrinted says the caller prints each spoke's error with the
	// result (`vanlink sync`'s table, or its JSON): a failed spoke is then
	// logged at Info with its fail reason only, so a Job's log, which
	// holds both, shows each error once. Unset (a controller, `vanlink
	// run`, which print no result), the log line carries the error.
	ErrorsPrinted bool
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

func (e *Engine) defaults() {
	if e.Opts.Concurrency < 1 {
		e.Opts.Concurrency = 32
	}
	if e.Opts.SpokeTimeout == 0 {
		e.Opts.SpokeTimeout = 2 * time.Minute
	}
	if e.Opts.ObserveTimeout == 0 {
		e.Opts.ObserveTimeout = 5 * time.Minute
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

// run is one pass with the lease held: the grant and the hub Site, the
// fleet, a transport session, then the pipeline.
func (e *Engine) run(ctx context.Context, res *Result) error {
	grant, err := e.ReadGrant(ctx)
	if err != nil {
		return err
	}
	res.Grant.UID = grant.UID
	log := e.Log.With("grant", grant.Namespace+"/"+grant.Name)
	// The transports log through the context, with the pass's attributes.
	ctx = logctx.Into(ctx, log)
	log.Debug("grant usable", "uid", grant.UID, "redemptions", grant.Redemptions, "allowed", grant.RedemptionsAllowed, "expires", grant.ExpirationTime)
	hub, err := e.readHub(ctx)
	if err != nil {
		return err
	}
	if hub.blocked != "" {
		// A value for the report (the command prints it once), not a log line.
		res.Warnings = append(res.Warnings, "no token pushed: the hub cannot issue links yet: "+hub.blocked)
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
	q := transport.Query{Spokes: sel.Names(), LinkNames: hub.linkNames(e.Opts.TokenName)}
	log.Debug("spokes selected", "selected", len(q.Spokes), "skipped", len(sel.Skipped), "links", q.LinkNames)
	p := &pass{e: e, log: log, res: res, sess: sess, grant: grant, sel: sel, q: q,
		in: PlanInput{GrantUID: grant.UID, LinkReadyTimeout: e.Opts.LinkReadyTimeout, HubBlocked: hub.blocked}}
	return p.run(ctx)
}
