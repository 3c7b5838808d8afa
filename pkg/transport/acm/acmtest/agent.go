// Package acmtest is a test double of ACM's work-manager agent
// (stolostron/multicloud-operators-foundation, cmd/agent), faithful to the
// behaviour vanlink depends on. Every resource named in a view or an action
// is resolved through the spoke's RESTMapper as the agent does (a bare plural
// such as `links` takes the first group discovery lists). Actions: Create
// fails on an existing object, Update is a GET and a three-way JSON merge
// patch, Delete resolves kube.resource like kubectl, an empty kube.resource
// crashes the handler so the action never completes; the single Completed
// condition carries the real reasons, and the hub's garbage collection of
// completed actions is played after GCDelay. Views: the single Processing
// condition, refreshed on the agent's Reconcile schedule (not before
// updateIntervalSeconds since the condition's last transition, then on every
// update event and every interval), secrets refused, the old result kept
// when a GET fails. An agent can be paused per cluster, as if its spoke were
// unreachable.
package acmtest

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/vanlink/vanlink/pkg/transport/acm"
)

// Options tune the agent.
type Options struct {
	// GCDelay is how long the hub keeps a completed action (default 60 s).
	GCDelay time.Duration
	// Latency is added before each action and view read (default 0).
	Latency time.Duration
	// ViewRefresh maps a view's updateIntervalSeconds (30 when unset) to the
	// interval used; nil means seconds as they are.
	ViewRefresh func(seconds int64) time.Duration
	// Tick is how often the agent sweeps for due work (default 250 ms):
	// view requeues that came due, the hub's garbage collection, and work
	// that waited for a paused cluster. New actions and view updates are
	// handled on their watch events.
	Tick time.Duration
	// Log receives one line per action; nil discards.
	Log *slog.Logger
}

// Agent plays the work-manager agent of every registered spoke.
type Agent struct {
	hub  dynamic.Interface
	opts Options

	mu       sync.Mutex
	spokes   map[string]servedSpoke
	paused   map[string]bool
	inFlight map[string]bool
	// ran holds, per action, the fingerprint of the object the agent last
	// ran it for (see claimAction).
	ran       map[string]string
	views     map[string]*viewState
	expiredAt time.Time

	actionsInf, viewsInf cache.SharedIndexInformer
	executed             atomic.Int64
	refreshed            atomic.Int64
}

// servedSpoke is a registered spoke with the mapper the agent keeps for it
// (one per agent, as upstream builds one reload mapper at start-up).
type servedSpoke struct {
	Spoke
	mapper meta.RESTMapper
}

// New returns an agent for the hub; register spokes with AddSpoke.
func New(hub dynamic.Interface, opts Options) *Agent {
	if opts.GCDelay == 0 {
		opts.GCDelay = 60 * time.Second
	}
	if opts.Tick == 0 {
		opts.Tick = 250 * time.Millisecond
	}
	if opts.ViewRefresh == nil {
		opts.ViewRefresh = func(s int64) time.Duration { return time.Duration(s) * time.Second }
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Agent{hub: hub, opts: opts, spokes: map[string]servedSpoke{}, paused: map[string]bool{},
		inFlight: map[string]bool{}, ran: map[string]string{}, views: map[string]*viewState{}}
}

// AddSpoke registers the spoke whose hub namespace is cluster.
func (a *Agent) AddSpoke(cluster string, s Spoke) {
	m := s.RESTMapper()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.spokes[cluster] = servedSpoke{Spoke: s, mapper: m}
}

// RemoveSpoke forgets a spoke: its actions and views are never answered again.
func (a *Agent) RemoveSpoke(cluster string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.spokes, cluster)
}

// Pause stops answering for a cluster (unreachable spoke); Resume restarts.
func (a *Agent) Pause(cluster string)  { a.setPaused(cluster, true) }
func (a *Agent) Resume(cluster string) { a.setPaused(cluster, false) }

func (a *Agent) setPaused(cluster string, p bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.paused[cluster] = p
}

// Executed counts the actions executed; Refreshed the view queries.
func (a *Agent) Executed() int64  { return a.executed.Load() }
func (a *Agent) Refreshed() int64 { return a.refreshed.Load() }

// ExpireViews plays the passing of every view's update interval: each view
// is requeued for the next sweep, and every Processing condition that
// transitioned before now counts as older than its interval, so the sweep
// and any later update event query it (a benchmark's stand-in for the time
// between two CronJob runs, 30 minutes against views refreshed every 5).
func (a *Agent) ExpireViews() {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	a.expiredAt = now
	for _, st := range a.views {
		st.requeue = now
	}
}

// Run serves until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	f := dynamicinformer.NewDynamicSharedInformerFactory(a.hub, 0)
	a.actionsInf = f.ForResource(acm.ActionsGVR).Informer()
	a.viewsInf = f.ForResource(acm.ViewsGVR).Informer()
	// Work starts on watch events; the sweep catches the rest.
	if _, err := a.actionsInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.onAction(ctx, o, time.Now()) },
		UpdateFunc: func(_, o any) { a.onAction(ctx, o, time.Now()) },
	}); err != nil {
		return err
	}
	// upstream: stolostron/multicloud-operators-foundation
	// pkg/klusterlet/view/view_controller.go SetupWithManager (For the view,
	// no predicate): every add and update of a view, status writes included,
	// is reconciled.
	if _, err := a.viewsInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { a.onViewEvent(ctx, o) },
		UpdateFunc: func(_, o any) { a.onViewEvent(ctx, o) },
		DeleteFunc: a.forgetView,
	}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	for gvr, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("agent: cannot list %s on the hub", gvr.Resource)
		}
	}
	tick := time.NewTicker(a.opts.Tick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			a.scan(ctx)
		}
	}
}

// spoke returns the spoke of a namespace if it is served now.
func (a *Agent) spoke(cluster string) (servedSpoke, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.spokes[cluster]
	return s, ok && !a.paused[cluster]
}

// claim marks an object as being handled; false if it already is.
func (a *Agent) claim(uid string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inFlight[uid] {
		return false
	}
	a.inFlight[uid] = true
	return true
}

func (a *Agent) release(uid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.inFlight, uid)
}

// scan is the periodic sweep: the hub's garbage collection of completed
// actions, view requeues that came due, and anything a watch event missed
// (or that waited for a paused cluster).
func (a *Agent) scan(ctx context.Context) {
	now := time.Now()
	for _, o := range a.actionsInf.GetStore().List() {
		a.onAction(ctx, o, now)
	}
	for _, o := range a.viewsInf.GetStore().List() {
		a.onViewDue(ctx, o, now)
	}
}

// delay waits the agent's latency; false when ctx ended first.
func (a *Agent) delay(ctx context.Context) bool {
	if a.opts.Latency <= 0 {
		return true
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(a.opts.Latency):
		return true
	}
}

// writeStatus writes obj's status through the status subresource. A write
// that changes nothing is not sent: the API server would make it a no-op
// without a watch event, while a fake hub would emit one and loop.
func (a *Agent) writeStatus(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, status map[string]any) error {
	obj.Object["status"] = status
	_, err := a.hub.Resource(gvr).Namespace(obj.GetNamespace()).UpdateStatus(ctx, obj, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
		a.opts.Log.Warn("agent: status update failed", "cluster", obj.GetNamespace(), "object", obj.GetName(), "err", err)
	}
	return err
}

// key identifies an object for the agent's bookkeeping (UIDs are not set by
// every fake API).
func key(o *unstructured.Unstructured) string {
	return o.GetNamespace() + "/" + o.GetName() + "/" + string(o.GetUID())
}

// conditions reads status.conditions as metav1.Conditions.
func conditions(obj *unstructured.Unstructured) []metav1.Condition {
	raw, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	var out []metav1.Condition
	for _, c := range raw {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		var cond metav1.Condition
		cond.Type, _, _ = unstructured.NestedString(m, "type")
		s, _, _ := unstructured.NestedString(m, "status")
		cond.Status = metav1.ConditionStatus(s)
		cond.Reason, _, _ = unstructured.NestedString(m, "reason")
		cond.Message, _, _ = unstructured.NestedString(m, "message")
		cond.ObservedGeneration, _, _ = unstructured.NestedInt64(m, "observedGeneration")
		if t, _, _ := unstructured.NestedString(m, "lastTransitionTime"); t != "" {
			_ = cond.LastTransitionTime.UnmarshalQueryParameter(t)
		}
		out = append(out, cond)
	}
	return out
}

// conditionsJSON renders conditions as a metav1.Time would (RFC 3339 in
// seconds, UTC).
func conditionsJSON(conds []metav1.Condition) []any {
	out := make([]any, 0, len(conds))
	for _, c := range conds {
		m := map[string]any{"type": c.Type, "status": string(c.Status), "reason": c.Reason, "message": c.Message,
			"lastTransitionTime": c.LastTransitionTime.UTC().Format(time.RFC3339)}
		if c.ObservedGeneration != 0 {
			m["observedGeneration"] = c.ObservedGeneration
		}
		out = append(out, m)
	}
	return out
}
