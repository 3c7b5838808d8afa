package worktest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
)

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
	ref := own
	if !owned {
		ref.UID += "-"
	}
	cur, err := spoke.Get(ctx, gvr, ns, name)
	if apierrors.IsNotFound(err) {
		// The API server refuses an object to be created that carries a
		// resourceVersion (k8s.io/apiserver storage/etcd3 store.go, Create).
		if required.GetResourceVersion() != "" {
			return "", apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
		}
		// The object is created with the owner reference manageOwnerRef
		// gives: the work's own, or for an orphaned manifest its removal key
		// (the uid plus "-"), which the owner merge below strips at once
		// (upstream: manifestcontroller manageOwnerRef; CreateOnlyApply.Apply
		// creates with it, then calls helper.ApplyOwnerReferences).
		obj := required.DeepCopy()
		obj.SetOwnerReferences([]metav1.OwnerReference{ref})
		if cur, err = spoke.Create(ctx, gvr, ns, obj); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	// The object gets (or loses) the work's owner reference, matched by
	// name, kind and group as library-go's resourcemerge.MergeOwnerRefs
	// does (helper.ApplyOwnerReferences): a removal key removes the match,
	// a reference is otherwise added or replaced.
	kept := cur.GetOwnerReferences()
	i := slices.IndexFunc(kept, func(r metav1.OwnerReference) bool { return sameOwner(r, ref) })
	switch {
	case i < 0 && !owned, i >= 0 && owned && reflect.DeepEqual(kept[i], ref):
		return string(cur.GetUID()), nil
	case i < 0:
		kept = append(kept, ref)
	case !owned:
		kept = slices.Delete(slices.Clone(kept), i, i+1)
	default:
		kept = slices.Clone(kept)
		kept[i] = ref
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

// sameOwner matches owner references as library-go's ownerRefMatched does:
// by name, kind and API group, whatever the uid and version.
func sameOwner(a, b metav1.OwnerReference) bool {
	ga, errA := schema.ParseGroupVersion(a.APIVersion)
	gb, errB := schema.ParseGroupVersion(b.APIVersion)
	return errA == nil && errB == nil && a.Name == b.Name && a.Kind == b.Kind && ga.Group == gb.Group
}
