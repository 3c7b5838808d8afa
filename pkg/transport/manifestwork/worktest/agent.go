package worktest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/jsonpath"
	"k8s.io/client-go/util/workqueue"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

// Options tune the double.
type Options struct {
	// StatusSync is the agent's --status-sync-interval (default 10 s, as
	// upstream): every work's status is read again that often.
	StatusSync time.Duration
	// Latency is added before the agent applies a new generation of a work
	// (its round trip to the spoke on a loaded fleet, as the ACM double's
	// per action; 0 in unit tests). Status reads add none: the agent
	// re-reads a work after each of its own status writes (its informer
	// sees them), and a delay there would queue the next generation
	// behind reads that change nothing.
	Latency time.Duration
	// Workers is how many works are synced at once (default 10).
	Workers int
	Log     *slog.Logger
}

// Agent plays the work agents of many spokes over one hub.
type Agent struct {
	hub  dynamic.Interface
	opts Options

	mu     sync.Mutex
	spokes map[string]acmtest.Spoke
	paused map[string]bool
	// applied is, per work (ns/name), what its AppliedManifestWork tracks:
	// the objects applied, with their uid; appliedGen the generation.
	applied    map[string]map[workv1.ResourceIdentifier]string
	appliedGen map[string]int64

	queue  workqueue.TypedDelayingInterface[string]
	inf    cache.SharedIndexInformer
	writes atomic.Int64
}

// New returns a double over a hub; register spokes with AddSpoke.
func New(hub dynamic.Interface, opts Options) *Agent {
	if opts.StatusSync == 0 {
		opts.StatusSync = 10 * time.Second
	}
	if opts.Workers < 1 {
		opts.Workers = 10
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Agent{hub: hub, opts: opts, spokes: map[string]acmtest.Spoke{}, paused: map[string]bool{},
		applied: map[string]map[workv1.ResourceIdentifier]string{}, appliedGen: map[string]int64{}}
}

// AddSpoke registers the spoke whose hub namespace is cluster.
func (a *Agent) AddSpoke(cluster string, s acmtest.Spoke) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.spokes[cluster] = s
}

// Pause stops the agent of a cluster (its works are neither applied nor
// reported on); Resume starts it again.
func (a *Agent) Pause(cluster string)  { a.setPaused(cluster, false) }
func (a *Agent) Resume(cluster string) { a.setPaused(cluster, true) }

func (a *Agent) setPaused(cluster string, running bool) {
	a.mu.Lock()
	a.paused[cluster] = !running
	a.mu.Unlock()
	if running && a.inf != nil {
		for _, o := range a.inf.GetStore().List() {
			if u := o.(*unstructured.Unstructured); u.GetNamespace() == cluster {
				a.queue.Add(u.GetNamespace() + "/" + u.GetName())
			}
		}
	}
}

// HubWrites counts the double's writes to the hub (status patches).
func (a *Agent) HubWrites() int64 { return a.writes.Load() }

// Run watches the works and syncs them until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	f := dynamicinformer.NewDynamicSharedInformerFactory(a.hub, 0)
	a.inf = f.ForResource(manifestwork.WorksGVR).Informer()
	a.queue = workqueue.NewTypedDelayingQueue[string]()
	defer a.queue.ShutDown()
	enqueue := func(o any) {
		if k, err := cache.MetaNamespaceKeyFunc(o); err == nil {
			a.queue.Add(k)
		}
	}
	// Every change of a work queues its sync (upstream: the
	// ManifestWorkController and the AvailableStatusController are both
	// queued by the work informer).
	if _, err := a.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	var wg sync.WaitGroup
	for range a.opts.Workers {
		wg.Go(func() {
			for {
				key, quit := a.queue.Get()
				if quit {
					return
				}
				a.sync(ctx, key)
				a.queue.Done(key)
			}
		})
	}
	<-ctx.Done()
	a.queue.ShutDown()
	wg.Wait()
	return nil
}

// sync applies a work and reports its status, then queues its next status
// sync (upstream: availablestatus_controller.go requeues each work after
// the sync interval).
func (a *Agent) sync(ctx context.Context, key string) {
	ns, _, _ := strings.Cut(key, "/")
	a.mu.Lock()
	spoke, ok := a.spokes[ns]
	paused := a.paused[ns]
	a.mu.Unlock()
	if !ok || paused {
		return
	}
	o, exists, err := a.inf.GetStore().GetByKey(key)
	if err != nil || !exists {
		a.mu.Lock()
		delete(a.applied, key)
		delete(a.appliedGen, key)
		a.mu.Unlock()
		return
	}
	w, err := toWork(o.(*unstructured.Unstructured))
	if err != nil {
		a.opts.Log.Warn("work double: reading a work failed", "work", key, "err", err)
		return
	}
	a.mu.Lock()
	fresh := a.appliedGen[key] != w.Generation
	a.appliedGen[key] = w.Generation
	a.mu.Unlock()
	if fresh && a.opts.Latency > 0 {
		select {
		case <-time.After(a.opts.Latency):
		case <-ctx.Done():
			return
		}
	}
	err = a.apply(ctx, spoke, w)
	if err == nil {
		err = a.report(ctx, spoke, w)
	}
	switch {
	case apierrors.IsConflict(err):
		// The work changed since the cache showed it: sync it again as it
		// is now (the upstream patcher fails the same way and is requeued).
		a.mu.Lock()
		delete(a.appliedGen, key)
		a.mu.Unlock()
		a.queue.AddAfter(key, 10*time.Millisecond)
		return
	case err != nil:
		a.opts.Log.Warn("work double: sync failed", "work", key, "err", err)
	}
	a.queue.AddAfter(key, a.opts.StatusSync)
}

// owner is the AppliedManifestWork owner reference of a work (one uid per
// work, as the AppliedManifestWork the agent makes for it).
func owner(w *workv1.ManifestWork) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "work.open-cluster-management.io/v1", Kind: "AppliedManifestWork",
		Name: "hub-" + w.Name, UID: types.UID("amw-" + string(w.UID))}
}

// orphaned reports whether the work's delete option orphans an object
// (upstream: pkg/work/helper/helpers.go, OwnedByTheWork).
func orphaned(w *workv1.ManifestWork, id workv1.ResourceIdentifier) bool {
	d := w.Spec.DeleteOption
	switch {
	case d == nil:
		return false
	case d.PropagationPolicy == workv1.DeletePropagationPolicyTypeOrphan:
		return true
	case d.PropagationPolicy != workv1.DeletePropagationPolicyTypeSelectivelyOrphan || d.SelectivelyOrphan == nil:
		return false
	}
	for _, r := range d.SelectivelyOrphan.OrphaningRules {
		if workv1.ResourceIdentifier(r) == id {
			return true
		}
	}
	return false
}

type manifestResult struct {
	meta workv1.ManifestResourceMeta
	gvr  schema.GroupVersionResource
	err  error
	uid  string
}

// apply applies every manifest, deletes what the work no longer holds and
// writes the Applied conditions (upstream: manifestcontroller
// manifestwork_reconciler.go and appliedmanifestwork_reconciler.go).
func (a *Agent) apply(ctx context.Context, spoke acmtest.Spoke, w *workv1.ManifestWork) error {
	mapper := spoke.RESTMapper()
	var results []manifestResult
	for i, m := range w.Spec.Workload.Manifests {
		required := &unstructured.Unstructured{}
		if err := required.UnmarshalJSON(m.Raw); err != nil {
			results = append(results, manifestResult{meta: workv1.ManifestResourceMeta{Ordinal: int32(i)}, err: err})
			continue
		}
		gvk := required.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		r := manifestResult{meta: workv1.ManifestResourceMeta{Ordinal: int32(i), Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind,
			Name: required.GetName(), Namespace: required.GetNamespace()}}
		if err != nil {
			r.err = err
			results = append(results, r)
			continue
		}
		r.gvr, r.meta.Resource = mapping.Resource, mapping.Resource.Resource
		id := workv1.ResourceIdentifier{Group: gvk.Group, Resource: r.meta.Resource, Name: r.meta.Name, Namespace: r.meta.Namespace}
		strategy := workv1.UpdateStrategyTypeUpdate
		for _, c := range w.Spec.ManifestConfigs {
			if c.ResourceIdentifier == id && c.UpdateStrategy != nil {
				strategy = c.UpdateStrategy.Type
			}
		}
		r.uid, r.err = a.applyOne(ctx, spoke, r.gvr, required, strategy, owner(w), !orphaned(w, id))
		results = append(results, r)
	}
	key := w.Namespace + "/" + w.Name
	now := map[workv1.ResourceIdentifier]string{}
	for _, r := range results {
		if r.uid != "" {
			now[workv1.ResourceIdentifier{Group: r.meta.Group, Resource: r.meta.Resource, Name: r.meta.Name, Namespace: r.meta.Namespace}] = r.uid
		}
	}
	a.mu.Lock()
	before := a.applied[key]
	a.applied[key] = now
	a.mu.Unlock()
	for id, uid := range before {
		if _, ok := now[id]; !ok {
			a.deleteOwned(ctx, spoke, mapper, id, uid, owner(w))
		}
	}
	var conds []workv1.ManifestCondition
	allApplied := true
	for _, r := range results {
		c := metav1.Condition{Type: workv1.ManifestApplied, Status: metav1.ConditionTrue, Reason: "AppliedManifestComplete",
			Message: "Apply manifest complete", ObservedGeneration: w.Generation}
		if r.err != nil {
			allApplied = false
			c.Status, c.Reason, c.Message = metav1.ConditionFalse, "AppliedManifestFailed", "Failed to apply manifest: "+r.err.Error()
		}
		// Merged with the manifest's earlier status (its Available
		// condition and feedback), as helper.MergeManifestConditions does;
		// a condition's transition time changes with its status only.
		mc := workv1.ManifestCondition{ResourceMeta: r.meta}
		for _, old := range w.Status.ResourceStatus.Manifests {
			if sameObject(old.ResourceMeta, r.meta) {
				mc.StatusFeedbacks = old.StatusFeedbacks
				mc.Conditions = append([]metav1.Condition{}, old.Conditions...)
			}
		}
		meta.SetStatusCondition(&mc.Conditions, c)
		conds = append(conds, mc)
	}
	status := w.Status.DeepCopy()
	status.ResourceStatus.Manifests = conds
	applied := metav1.Condition{Type: workv1.WorkApplied, Status: metav1.ConditionTrue, Reason: "AppliedManifestWorkComplete",
		Message: "Apply manifest work complete", ObservedGeneration: w.Generation}
	if !allApplied {
		applied.Status, applied.Reason, applied.Message = metav1.ConditionFalse, "AppliedManifestWorkFailed", "Failed to apply manifest work"
	}
	meta.SetStatusCondition(&status.Conditions, applied)
	if err := a.patchStatus(ctx, w, status); err != nil {
		return err
	}
	w.Status = *status
	return nil
}

func sameObject(a, b workv1.ManifestResourceMeta) bool {
	a.Ordinal, b.Ordinal = 0, 0
	return a == b
}

// applyOne applies one manifest and returns the uid of the object applied
// (upstream: pkg/work/spoke/apply, ReadOnlyApply and CreateOnlyApply).
func (a *Agent) applyOne(ctx context.Context, spoke acmtest.Spoke, gvr schema.GroupVersionResource, required *unstructured.Unstructured,
	strategy workv1.UpdateStrategyType, own metav1.OwnerReference, owned bool) (string, error) {
	ns, name := required.GetNamespace(), required.GetName()
	switch strategy {
	case workv1.UpdateStrategyTypeReadOnly:
		// Read-only: nothing is written; the object is tracked if it exists.
		if cur, err := spoke.Get(ctx, gvr, ns, name); err == nil {
			return string(cur.GetUID()), nil
		}
		return "", nil
	case workv1.UpdateStrategyTypeCreateOnly:
	default:
		return "", fmt.Errorf("the work double does not simulate the %s update strategy", strategy)
	}
	cur, err := spoke.Get(ctx, gvr, ns, name)
	if apierrors.IsNotFound(err) {
		// The API server refuses an object to be created that carries a
		// resourceVersion (k8s.io/apiserver storage/etcd3 store.go, Create).
		if required.GetResourceVersion() != "" {
			return "", apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
		}
		obj := required.DeepCopy()
		obj.SetOwnerReferences(nil)
		if owned {
			obj.SetOwnerReferences([]metav1.OwnerReference{own})
		}
		created, err := spoke.Create(ctx, gvr, ns, obj)
		if err != nil {
			return "", err
		}
		return string(created.GetUID()), nil
	}
	if err != nil {
		return "", err
	}
	// An existing object only gets (or loses) the owner reference
	// (helper.ApplyOwnerReferences).
	refs := cur.GetOwnerReferences()
	has := false
	var kept []metav1.OwnerReference
	for _, r := range refs {
		if r.UID == own.UID {
			has = true
			if !owned {
				continue
			}
		}
		kept = append(kept, r)
	}
	switch {
	case owned && !has:
		kept = append(kept, own)
	case owned == has:
		return string(cur.GetUID()), nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": kept}})
	if err != nil {
		return "", err
	}
	if _, err := spoke.MergePatch(ctx, gvr, ns, name, patch); err != nil {
		return "", err
	}
	return string(cur.GetUID()), nil
}

// deleteOwned deletes an object the work no longer holds if it owns it and
// it is still the object applied (upstream: helper.DeleteAppliedResources).
func (a *Agent) deleteOwned(ctx context.Context, spoke acmtest.Spoke, mapper meta.RESTMapper, id workv1.ResourceIdentifier, uid string, own metav1.OwnerReference) {
	gvr := schema.GroupVersionResource{Group: id.Group, Resource: id.Resource}
	mapped, err := mapper.ResourceFor(gvr)
	if err != nil {
		return
	}
	cur, err := spoke.Get(ctx, mapped, id.Namespace, id.Name)
	if err != nil || string(cur.GetUID()) != uid {
		return
	}
	for _, r := range cur.GetOwnerReferences() {
		if r.UID == own.UID {
			if err := spoke.Delete(ctx, mapped, id.Namespace, id.Name); err != nil && !apierrors.IsNotFound(err) {
				a.opts.Log.Warn("work double: delete failed", "object", id, "err", err)
			}
			return
		}
	}
}

// report reads every manifest's object and feedback and writes the
// Available conditions (upstream: statuscontroller
// availablestatus_controller.go, objectreader ObjectReader.Get,
// statusfeedback StatusReader.GetValuesByRule, conditions
// AggregateManifestConditions).
func (a *Agent) report(ctx context.Context, spoke acmtest.Spoke, w *workv1.ManifestWork) error {
	if meta.FindStatusCondition(w.Status.Conditions, workv1.WorkApplied) == nil {
		return nil
	}
	status := w.Status.DeepCopy()
	var nFalse, nTrue, nUnknown int
	for i := range status.ResourceStatus.Manifests {
		m := &status.ResourceStatus.Manifests[i]
		gvr := schema.GroupVersionResource{Group: m.ResourceMeta.Group, Version: m.ResourceMeta.Version, Resource: m.ResourceMeta.Resource}
		avail := metav1.Condition{Type: workv1.ManifestAvailable, Status: metav1.ConditionTrue, Reason: "ResourceAvailable", Message: "Resource is available"}
		obj, err := spoke.Get(ctx, gvr, m.ResourceMeta.Namespace, m.ResourceMeta.Name)
		switch {
		case m.ResourceMeta.Resource == "":
			avail.Status, avail.Reason, avail.Message = metav1.ConditionUnknown, "IncompleteResourceMeta", "Resource meta is incomplete"
		case apierrors.IsNotFound(err):
			avail.Status, avail.Reason, avail.Message = metav1.ConditionFalse, "ResourceNotAvailable", "Resource is not available"
		case err != nil:
			avail.Status, avail.Reason, avail.Message = metav1.ConditionUnknown, "FetchingResourceFailed", "Failed to fetch resource: "+err.Error()
		}
		meta.SetStatusCondition(&m.Conditions, avail)
		switch avail.Status {
		case metav1.ConditionTrue:
			nTrue++
		case metav1.ConditionFalse:
			nFalse++
		default:
			nUnknown++
		}
		if err != nil || obj == nil {
			continue
		}
		id := workv1.ResourceIdentifier{Group: m.ResourceMeta.Group, Resource: m.ResourceMeta.Resource, Name: m.ResourceMeta.Name, Namespace: m.ResourceMeta.Namespace}
		var rules []workv1.FeedbackRule
		for _, c := range w.Spec.ManifestConfigs {
			if c.ResourceIdentifier == id {
				rules = c.FeedbackRules
			}
		}
		values, ferr := feedback(obj, rules)
		synced := metav1.Condition{Type: "StatusFeedbackSynced", Status: metav1.ConditionTrue, Reason: "StatusFeedbackSynced"}
		if len(rules) == 0 {
			synced.Reason = "NoStatusFeedbackSynced"
		}
		if ferr != nil {
			synced.Status, synced.Reason, synced.Message = metav1.ConditionFalse, "StatusFeedbackSyncFailed", "Sync status feedback failed with error "+ferr.Error()
		}
		if !reflect.DeepEqual(m.StatusFeedbacks.Values, values) {
			meta.RemoveStatusCondition(&m.Conditions, synced.Type)
		}
		meta.SetStatusCondition(&m.Conditions, synced)
		m.StatusFeedbacks.Values = values
	}
	available := metav1.Condition{Type: workv1.WorkAvailable, ObservedGeneration: w.Generation}
	total := len(status.ResourceStatus.Manifests)
	switch {
	case nFalse > 0:
		available.Status, available.Reason, available.Message = metav1.ConditionFalse, "ResourcesNotAvailable", fmt.Sprintf("%d of %d resources are not available", nFalse, total)
	case nUnknown > 0 || nTrue == 0:
		available.Status, available.Reason, available.Message = metav1.ConditionUnknown, "ResourcesStatusUnknown", fmt.Sprintf("%d of %d resources have unknown status", nUnknown, total)
	default:
		available.Status, available.Reason, available.Message = metav1.ConditionTrue, "ResourcesAvailable", "All resources are available"
	}
	meta.SetStatusCondition(&status.Conditions, available)
	return a.patchStatus(ctx, w, status)
}

// feedback evaluates JSONPaths rules as the agent does: Kubernetes'
// jsonpath with missing keys allowed, the first match of a path, scalar
// values only.
func feedback(obj *unstructured.Unstructured, rules []workv1.FeedbackRule) ([]workv1.FeedbackValue, error) {
	var out []workv1.FeedbackValue
	var errs []string
	for _, rule := range rules {
		if rule.Type != workv1.JSONPathsType {
			errs = append(errs, "the work double evaluates JSONPaths rules only")
			continue
		}
		for _, p := range rule.JsonPaths {
			j := jsonpath.New(p.Name).AllowMissingKeys(true)
			if err := j.Parse("{" + p.Path + "}"); err != nil {
				errs = append(errs, err.Error())
				continue
			}
			res, err := j.FindResults(obj.UnstructuredContent())
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			if len(res) == 0 || len(res[0]) == 0 {
				continue
			}
			v := workv1.FeedbackValue{Name: p.Name}
			switch t := res[0][0].Interface().(type) {
			case int64:
				v.Value = workv1.FieldValue{Type: workv1.Integer, Integer: &t}
			case string:
				v.Value = workv1.FieldValue{Type: workv1.String, String: &t}
			case bool:
				v.Value = workv1.FieldValue{Type: workv1.Boolean, Boolean: &t}
			default:
				continue
			}
			out = append(out, v)
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// patchStatus writes the status when it changed (upstream: the patcher's
// PatchStatus writes nothing for an unchanged status).
func (a *Agent) patchStatus(ctx context.Context, w *workv1.ManifestWork, status *workv1.ManifestWorkStatus) error {
	if reflect.DeepEqual(&w.Status, status) {
		return nil
	}
	// The resourceVersion the status was computed from makes the write
	// fail (Conflict) when the work changed since: a status computed from a
	// stale cache never overwrites a newer one.
	data, err := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": w.ResourceVersion}, "status": status})
	if err != nil {
		return err
	}
	a.writes.Add(1)
	out, err := a.hub.Resource(manifestwork.WorksGVR).Namespace(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, data, metav1.PatchOptions{}, "status")
	if err == nil {
		w.ResourceVersion = out.GetResourceVersion()
	}
	return err
}

func toWork(u *unstructured.Unstructured) (*workv1.ManifestWork, error) {
	data, err := u.MarshalJSON()
	if err != nil {
		return nil, err
	}
	w := &workv1.ManifestWork{}
	return w, json.Unmarshal(data, w)
}
