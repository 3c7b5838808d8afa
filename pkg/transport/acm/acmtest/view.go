package acmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	"github.com/vanlink/vanlink/pkg/transport/acm"
)

// View condition reasons and messages.
// upstream: stolostron/cluster-lifecycle-api view/v1beta1/types.go (vendored
// by stolostron/multicloud-operators-foundation).
const (
	ReasonResourceNameInvalid = "ResourceNameInvalid"
	ReasonResourceTypeInvalid = "ResourceTypeInvalid"
	ReasonResourceGVKInvalid  = "ResourceGVKInvalid"
	ReasonGetResourceFailed   = acm.ReasonGetResourceFailed
	ReasonGetResource         = "GetResourceProcessing"

	// DefaultUpdateInterval is the refresh interval of a view without
	// updateIntervalSeconds.
	// upstream: pkg/klusterlet/view/view_controller.go DefaultUpdateInterval.
	DefaultUpdateInterval = 30 * time.Second
)

// viewState is the agent's bookkeeping of one view: its pending requeue (a
// workqueue's AddAfter: the earliest wins) and the exact time of the last
// transition it wrote (the condition holds it in whole seconds).
type viewState struct {
	requeue          time.Time
	inFlight, dirty  bool
	transition       time.Time
	transitionString string
}

func (a *Agent) stateLocked(k string) *viewState {
	st := a.views[k]
	if st == nil {
		st = &viewState{}
		a.views[k] = st
	}
	return st
}

// requeueLocked queues a view at t unless it is queued earlier.
func requeueLocked(st *viewState, t time.Time) {
	if st.requeue.IsZero() || t.Before(st.requeue) {
		st.requeue = t
	}
}

func (a *Agent) forgetView(o any) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	if mcv, ok := o.(*unstructured.Unstructured); ok {
		a.mu.Lock()
		delete(a.views, key(mcv))
		a.mu.Unlock()
	}
}

// onViewEvent reconciles a view on its add or update event.
func (a *Agent) onViewEvent(ctx context.Context, o any) {
	if mcv, ok := o.(*unstructured.Unstructured); ok {
		a.reconcileView(ctx, mcv, time.Now())
	}
}

// onViewDue reconciles a view whose requeue came due, or that was never
// reconciled (its cluster was paused or not registered yet).
func (a *Agent) onViewDue(ctx context.Context, o any, now time.Time) {
	mcv, ok := o.(*unstructured.Unstructured)
	if !ok {
		return
	}
	if _, served := a.spoke(mcv.GetNamespace()); !served {
		return
	}
	a.mu.Lock()
	st := a.views[key(mcv)]
	due := st == nil || (!st.requeue.IsZero() && !now.Before(st.requeue))
	if due && st != nil {
		st.requeue = time.Time{}
	}
	a.mu.Unlock()
	if due {
		a.reconcileView(ctx, mcv, now)
	}
}

// interval is a view's update interval, mapped by Options.ViewRefresh.
func (a *Agent) interval(mcv *unstructured.Unstructured) time.Duration {
	seconds, _, _ := unstructured.NestedInt64(mcv.Object, "spec", "scope", "updateIntervalSeconds")
	if seconds == 0 {
		seconds = int64(DefaultUpdateInterval / time.Second)
	}
	return a.opts.ViewRefresh(seconds)
}

// reconcileView plays the agent's Reconcile of a view: while less than the
// update interval has passed since the Processing condition's last
// transition the view is requeued for the remainder and not queried;
// otherwise it is queried now, its status written, and it is requeued after
// the interval. A view already being handled is reconciled again after.
// upstream: stolostron/multicloud-operators-foundation
// pkg/klusterlet/view/view_controller.go Reconcile.
func (a *Agent) reconcileView(ctx context.Context, mcv *unstructured.Unstructured, now time.Time) {
	s, ok := a.spoke(mcv.GetNamespace())
	if !ok {
		return
	}
	k := key(mcv)
	interval := a.interval(mcv)
	a.mu.Lock()
	st := a.stateLocked(k)
	if st.inFlight {
		// controller-runtime's workqueue: an item changed while it is
		// processed is processed again after.
		st.dirty = true
		a.mu.Unlock()
		return
	}
	if c := meta.FindStatusCondition(conditions(mcv), acm.ConditionProcessing); c != nil {
		since := now.Sub(a.transitionLocked(st, c))
		if since < interval {
			requeueLocked(st, now.Add(interval-since))
			a.mu.Unlock()
			return
		}
	}
	st.inFlight = true
	a.mu.Unlock()
	go func() {
		a.queryView(ctx, s, mcv.DeepCopy(), st, interval)
		a.mu.Lock()
		st.inFlight = false
		dirty := st.dirty
		st.dirty = false
		a.mu.Unlock()
		if dirty && ctx.Err() == nil {
			if o, ok, _ := a.viewsInf.GetStore().Get(mcv); ok {
				if latest, ok := o.(*unstructured.Unstructured); ok {
					a.reconcileView(ctx, latest, time.Now())
				}
			}
		}
	}()
}

// transitionLocked is the time of a condition's last transition: the exact
// time when the agent wrote it, else the condition's (whole seconds). After
// ExpireViews, a transition before it counts as long ago.
func (a *Agent) transitionLocked(st *viewState, c *metav1.Condition) time.Time {
	t := c.LastTransitionTime.Time
	if st.transitionString != "" && st.transitionString == c.LastTransitionTime.UTC().Format(time.RFC3339) {
		t = st.transition
	}
	if !a.expiredAt.IsZero() && !t.After(a.expiredAt) {
		return time.Time{}
	}
	return t
}

// queryView queries the viewed object, sets Processing, and writes the status
// (when it changed), then requeues the view after the interval.
func (a *Agent) queryView(ctx context.Context, s servedSpoke, mcv *unstructured.Unstructured, st *viewState, interval time.Duration) {
	if !a.delay(ctx) {
		return
	}
	now := time.Now()
	scope, _, _ := unstructured.NestedMap(mcv.Object, "spec", "scope")
	cond, result := queryResource(ctx, s, scope)
	a.refreshed.Add(1)

	conds := conditions(mcv)
	cond.LastTransitionTime = metav1.NewTime(now)
	// upstream: meta.SetStatusCondition keeps lastTransitionTime unless the
	// status changes.
	meta.SetStatusCondition(&conds, cond)
	old, _, _ := unstructured.NestedMap(mcv.Object, "status")
	status := map[string]any{}
	for k, v := range old {
		status[k] = v
	}
	status["conditions"] = conditionsJSON(conds)
	if result != nil {
		status["result"] = result
	}
	written := meta.FindStatusCondition(conds, acm.ConditionProcessing)

	var err error
	if !sameJSON(old, status) {
		err = a.writeStatus(ctx, acm.ViewsGVR, mcv, status)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err == nil && written.LastTransitionTime.Time.Equal(now) {
		st.transition, st.transitionString = now, written.LastTransitionTime.UTC().Format(time.RFC3339)
	}
	if err != nil && isConflict(err) {
		// upstream: the failed update is returned, and the view is
		// reconciled again (with backoff) from the newer copy.
		requeueLocked(st, time.Now())
		return
	}
	// upstream: Reconcile returns RequeueAfter: updateInterval after a query.
	requeueLocked(st, time.Now().Add(interval))
}

func isConflict(err error) bool { return apierrors.IsConflict(err) }

func sameJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// queryResource resolves a view's scope through the spoke's mapper and GETs
// the object. It returns the Processing condition (without transition time)
// and, on success only, the whole object: a failure keeps the old result.
// upstream: stolostron/multicloud-operators-foundation
// pkg/klusterlet/view/view_controller.go queryResource.
func queryResource(ctx context.Context, s servedSpoke, scope map[string]any) (metav1.Condition, map[string]any) {
	str := func(k string) string { v, _, _ := unstructured.NestedString(scope, k); return v }
	failed := func(reason string, err error) metav1.Condition {
		return metav1.Condition{Type: acm.ConditionProcessing, Status: metav1.ConditionFalse, Reason: reason,
			Message: fmt.Sprintf("failed to get resource with err: %v", err)}
	}
	name, resource, kind, version := str("name"), str("resource"), str("kind"), str("version")
	if name == "" {
		return failed(ReasonResourceNameInvalid, errors.New("invalid resource name")), nil
	}
	if resource == "" && (kind == "" || version == "") {
		return failed(ReasonResourceTypeInvalid, errors.New("invalid resource type")), nil
	}
	var gvr schema.GroupVersionResource
	if resource == "" {
		// kind + version (+ apiGroup), mapped exactly.
		mapping, err := s.mapper.RESTMapping(schema.GroupKind{Group: str("apiGroup"), Kind: kind}, version)
		if err != nil {
			return failed(ReasonResourceGVKInvalid, err), nil
		}
		gvr = mapping.Resource
	} else {
		// kubectl's resolution; apiGroup, version and kind are ignored.
		mapping, err := mappingFor(s.mapper, resource)
		if err != nil {
			return failed(ReasonResourceTypeInvalid, err), nil
		}
		gvr = mapping.Resource
	}
	if gvr.Resource == "secrets" {
		// upstream: "Do not return content of secrets", whatever the group.
		return metav1.Condition{Type: acm.ConditionProcessing, Status: metav1.ConditionFalse, Reason: ReasonResourceTypeInvalid,
			Message: "viewing secrets is not allowed"}, nil
	}
	obj, err := s.Get(ctx, gvr, str("namespace"), name)
	if err != nil {
		return failed(ReasonGetResourceFailed, err), nil
	}
	return metav1.Condition{Type: acm.ConditionProcessing, Status: metav1.ConditionTrue, Reason: ReasonGetResource,
		Message: "Watching resources successfully"}, obj.Object
}

// fingerprint identifies a version of an object by its content: what an
// update event would carry, without the fields the API server stamps.
func fingerprint(o *unstructured.Unstructured) string {
	c := o.DeepCopy()
	c.SetResourceVersion("")
	c.SetManagedFields(nil)
	b, _ := json.Marshal(c.Object)
	return string(b)
}
