// Package acmagent is a test double of ACM's work-manager agent, faithful to
// the behaviour vanlink depends on: it executes ManagedClusterActions on the
// spoke (Create fails on an existing object, Update is a JSON merge patch,
// Delete by kube.resource, an empty resource crashes the handler so the
// action never completes), reports the single Completed condition with the
// real reasons, and plays the hub's garbage collection of completed actions
// after GCDelay. It serves ManagedClusterViews with the single Processing
// condition, refreshing each view every spec.scope.updateIntervalSeconds and
// keeping the old result when a GET fails. An agent can be paused per
// cluster, as if its spoke were unreachable.
package acmagent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	// refresh period used; nil means seconds as they are.
	ViewRefresh func(seconds int64) time.Duration
	// Tick is how often the agent sweeps for due work (default 250 ms);
	// new actions and views are handled on their watch events.
	Tick time.Duration
	// Log receives one line per action; nil discards.
	Log *slog.Logger
}

// Agent plays the work-manager agent of every registered spoke.
type Agent struct {
	hub  dynamic.Interface
	opts Options

	mu       sync.Mutex
	spokes   map[string]Spoke
	paused   map[string]bool
	inFlight map[string]bool
	ran      map[string]bool
	viewRead map[string]time.Time

	actions, views cache.SharedIndexInformer
	executed       atomic.Int64
	refreshed      atomic.Int64
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
	return &Agent{hub: hub, opts: opts, spokes: map[string]Spoke{}, paused: map[string]bool{},
		inFlight: map[string]bool{}, ran: map[string]bool{}, viewRead: map[string]time.Time{}}
}

// AddSpoke registers the spoke whose hub namespace is cluster.
func (a *Agent) AddSpoke(cluster string, s Spoke) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.spokes[cluster] = s
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

// Executed counts the actions executed; Refreshed the view reads.
func (a *Agent) Executed() int64  { return a.executed.Load() }
func (a *Agent) Refreshed() int64 { return a.refreshed.Load() }

// ExpireViews makes every view due for a refresh at the next sweep, as if
// its update interval had passed: a benchmark's stand-in for the time
// between two CronJob runs (30 minutes, against views refreshed every 5).
func (a *Agent) ExpireViews() {
	a.mu.Lock()
	defer a.mu.Unlock()
	clear(a.viewRead)
}

// Run serves until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	f := dynamicinformer.NewDynamicSharedInformerFactory(a.hub, 0)
	a.actions = f.ForResource(acm.ActionsGVR).Informer()
	a.views = f.ForResource(acm.ViewsGVR).Informer()
	// Work starts on watch events; the sweep catches the rest.
	for inf, on := range map[cache.SharedIndexInformer]func(context.Context, any, time.Time){a.actions: a.onAction, a.views: a.onView} {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { on(ctx, o, time.Now()) },
			UpdateFunc: func(_, o any) { on(ctx, o, time.Now()) },
		}); err != nil {
			return err
		}
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
func (a *Agent) spoke(cluster string) (Spoke, bool) {
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

// claimAction marks an action as taken: an action runs once, ever (its
// status may reach the watch cache after the next scan).
func (a *Agent) claimAction(uid string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ran[uid] {
		return false
	}
	a.ran[uid] = true
	return true
}

func (a *Agent) release(uid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.inFlight, uid)
}

// scan is the periodic sweep: the hub's garbage collection of completed
// actions, view refreshes that came due, and anything a watch event missed
// (or that waited for a paused cluster).
func (a *Agent) scan(ctx context.Context) {
	now := time.Now()
	for _, o := range a.actions.GetStore().List() {
		a.onAction(ctx, o, now)
	}
	for _, o := range a.views.GetStore().List() {
		a.onView(ctx, o, now)
	}
}

// onAction executes a new action once, or garbage-collects a completed one.
func (a *Agent) onAction(ctx context.Context, o any, now time.Time) {
	mca, ok := o.(*unstructured.Unstructured)
	if !ok {
		return
	}
	if c := condition(mca, "Completed"); c != nil {
		// The hub's garbage collection, independent of the agent.
		if t, err := time.Parse(time.RFC3339, c["lastTransitionTime"]); err == nil && now.Sub(t) >= a.opts.GCDelay && a.claim(key(mca)) {
			go func() {
				defer a.release(key(mca))
				_ = a.hub.Resource(acm.ActionsGVR).Namespace(mca.GetNamespace()).Delete(ctx, mca.GetName(), metav1.DeleteOptions{})
			}()
		}
		return
	}
	s, ok := a.spoke(mca.GetNamespace())
	if !ok || !a.claimAction(key(mca)) {
		return
	}
	go a.execute(ctx, s, mca.DeepCopy())
}

// onView refreshes a view that is new or due.
func (a *Agent) onView(ctx context.Context, o any, now time.Time) {
	mcv, ok := o.(*unstructured.Unstructured)
	if !ok {
		return
	}
	s, ok := a.spoke(mcv.GetNamespace())
	if !ok || !a.viewDue(mcv, now) || !a.claim(key(mcv)) {
		return
	}
	go func() {
		defer a.release(key(mcv))
		a.refresh(ctx, s, mcv.DeepCopy())
	}()
}

func (a *Agent) viewDue(mcv *unstructured.Unstructured, now time.Time) bool {
	a.mu.Lock()
	last, seen := a.viewRead[key(mcv)]
	a.mu.Unlock()
	if !seen {
		return true
	}
	if condition(mcv, "Processing") == nil {
		// Read, but no status in this copy: either the watch cache has not
		// caught up with the status just written (wait for it) or the write
		// was lost (retry after a few sweeps).
		return now.Sub(last) >= 8*a.opts.Tick
	}
	interval, found, _ := unstructured.NestedInt64(mcv.Object, "spec", "scope", "updateIntervalSeconds")
	if !found || interval <= 0 {
		interval = 30
	}
	return now.Sub(last) >= a.opts.ViewRefresh(interval)
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

// execute runs one action on the spoke and reports Completed.
func (a *Agent) execute(ctx context.Context, s Spoke, mca *unstructured.Unstructured) {
	if !a.delay(ctx) {
		return
	}
	actionType, _, _ := unstructured.NestedString(mca.Object, "spec", "actionType")
	kube, _, _ := unstructured.NestedMap(mca.Object, "spec", "kube")
	resource, _, _ := unstructured.NestedString(kube, "resource")
	name, _, _ := unstructured.NestedString(kube, "name")
	namespace, _, _ := unstructured.NestedString(kube, "namespace")
	template, _, _ := unstructured.NestedMap(kube, "template")
	var err error
	reason := "ActionDone"
	switch actionType {
	case "Create":
		tmpl := &unstructured.Unstructured{Object: template}
		if tmpl.GetAPIVersion() == "" || tmpl.GetKind() == "" {
			err, reason = fmt.Errorf("template has no apiVersion or kind"), "CreateResourceFailed"
			break
		}
		ns := namespace
		if ns == "" {
			ns = tmpl.GetNamespace()
		}
		gv, _ := schema.ParseGroupVersion(tmpl.GetAPIVersion())
		gvr := gv.WithResource(strings.ToLower(tmpl.GetKind()) + "s")
		if _, err = s.Create(ctx, gvr, ns, tmpl); err != nil {
			reason = "CreateResourceFailed"
		}
	case "Update":
		tmpl := &unstructured.Unstructured{Object: template}
		gv, _ := schema.ParseGroupVersion(tmpl.GetAPIVersion())
		gvr := gv.WithResource(strings.ToLower(tmpl.GetKind()) + "s")
		ns := namespace
		if ns == "" {
			ns = tmpl.GetNamespace()
		}
		n := name
		if n == "" {
			n = tmpl.GetName()
		}
		patch, _ := json.Marshal(template)
		if _, err = s.Get(ctx, gvr, ns, n); err == nil {
			_, err = s.MergePatch(ctx, gvr, ns, n, patch)
		}
		if err != nil {
			reason = "UpdateResourceFailed"
		}
	case "Delete":
		if resource == "" {
			// The real agent's handler crashes on an empty resource: the
			// action is never completed.
			a.opts.Log.Error("agent: delete action without kube.resource crashed the handler", "action", mca.GetNamespace()+"/"+mca.GetName())
			return
		}
		gvr, rerr := resourceFromAction(resource)
		if rerr != nil {
			err, reason = rerr, "DeleteResourceFailed"
			break
		}
		if err = s.Delete(ctx, gvr, namespace, name); err != nil {
			reason = "DeleteResourceFailed"
		}
	default:
		err, reason = fmt.Errorf("invalid action type %q", actionType), "ActionTypeInvalid"
	}
	a.executed.Add(1)
	cond := map[string]any{"type": "Completed", "status": "True", "reason": reason, "message": "Resource action is done.",
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
	status := map[string]any{"conditions": []any{cond}}
	if err != nil {
		cond["status"] = "False"
		cond["message"] = fmt.Sprintf("failed to handle %s action with err: %v", actionType, err)
	} else if template != nil {
		status["result"] = template
	}
	a.opts.Log.Info("agent: action", "cluster", mca.GetNamespace(), "type", actionType, "resource", resource, "name", name, "reason", reason)
	a.writeStatus(ctx, acm.ActionsGVR, mca, status)
}

// refresh reads the viewed object and reports Processing; a failed GET keeps
// the old result, as the real agent does.
func (a *Agent) refresh(ctx context.Context, s Spoke, mcv *unstructured.Unstructured) {
	if !a.delay(ctx) {
		return
	}
	scope, _, _ := unstructured.NestedMap(mcv.Object, "spec", "scope")
	str := func(k string) string { v, _, _ := unstructured.NestedString(scope, k); return v }
	resource := str("resource")
	if resource == "" {
		resource = strings.ToLower(str("kind")) + "s"
	}
	gvr := schema.GroupVersionResource{Group: str("apiGroup"), Version: str("version"), Resource: resource}
	status, _, _ := unstructured.NestedMap(mcv.Object, "status")
	if status == nil {
		status = map[string]any{}
	}
	cond := map[string]any{"type": "Processing", "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}
	switch {
	case gvr.Resource == "secrets" && gvr.Group == "":
		cond["status"], cond["reason"], cond["message"] = "False", "ResourceTypeInvalid", "viewing secrets is not allowed"
	case str("name") == "":
		cond["status"], cond["reason"], cond["message"] = "False", "ResourceNameInvalid", "name is required"
	default:
		obj, err := s.Get(ctx, gvr, str("namespace"), str("name"))
		if err != nil {
			msg := err.Error()
			if apierrors.IsNotFound(err) {
				msg = fmt.Sprintf("%s %q not found", gvr.GroupResource().String(), str("name"))
			}
			cond["status"], cond["reason"], cond["message"] = "False", "GetResourceFailed", msg
		} else {
			cond["status"], cond["reason"], cond["message"] = "True", "GetResourceProcessing", "Watching resources successfully"
			status["result"] = obj.Object
		}
	}
	status["conditions"] = []any{cond}
	a.refreshed.Add(1)
	a.mu.Lock()
	a.viewRead[key(mcv)] = time.Now()
	a.mu.Unlock()
	a.writeStatus(ctx, acm.ViewsGVR, mcv, status)
}

func (a *Agent) writeStatus(ctx context.Context, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, status map[string]any) {
	client := a.hub.Resource(gvr).Namespace(obj.GetNamespace())
	for range 5 {
		obj.Object["status"] = status
		_, err := client.UpdateStatus(ctx, obj, metav1.UpdateOptions{})
		if err == nil || apierrors.IsNotFound(err) || ctx.Err() != nil {
			return
		}
		if !apierrors.IsConflict(err) {
			a.opts.Log.Warn("agent: status update failed", "object", obj.GetNamespace()+"/"+obj.GetName(), "err", err)
			time.Sleep(50 * time.Millisecond)
		}
		fresh, gerr := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if gerr != nil {
			return
		}
		obj = fresh
	}
}

// key identifies an object for the agent's bookkeeping (UIDs are not set by
// every fake API).
func key(o *unstructured.Unstructured) string {
	return o.GetNamespace() + "/" + o.GetName() + "/" + string(o.GetUID())
}

func condition(obj *unstructured.Unstructured, t string) map[string]string {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok || m["type"] != t {
			continue
		}
		out := map[string]string{}
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		return out
	}
	return nil
}
