package worktest

import (
	"context"
	"encoding/json"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

// addFinalizer puts the agent's cleanup finalizer on a work it sees for the
// first time, with the resourceVersion it read (upstream: pkg/work/spoke/
// controllers/finalizercontroller add_finalizer_controller.go, through
// sdk-go's patcher AddFinalizer: a merge patch of metadata.finalizers). The
// agent applies and reports on a work only once the finalizer is there
// (manifestwork_controller.go and availablestatus_controller.go return
// early without it), so that what it applied is removed when the work is
// deleted.
func (a *Agent) addFinalizer(ctx context.Context, w *workv1.ManifestWork) error {
	return a.patchFinalizers(ctx, w, append(slices.Clone(w.Finalizers), workv1.ManifestWorkFinalizer))
}

// finalize cleans up after a work being deleted (a real hub keeps it until
// its finalizer is removed): it reports the Deleting condition, deletes the
// objects the work owns on the spoke, and removes the finalizer (upstream:
// finalizercontroller manifestwork_finalize_controller.go, sync and
// deleteAppliedManifestWork; appliedmanifestwork_finalize_controller.go,
// helper.DeleteAppliedResources).
func (a *Agent) finalize(ctx context.Context, spoke acmtest.Spoke, w *workv1.ManifestWork, key string) error {
	if !slices.Contains(w.Finalizers, workv1.ManifestWorkFinalizer) {
		return nil
	}
	status := w.Status.DeepCopy()
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: workv1.WorkDeleting, Status: metav1.ConditionTrue,
		Reason: "WorkDeleting", Message: "ManifestWork is being deleted", ObservedGeneration: w.Generation})
	if err := a.patchStatus(ctx, w, status); err != nil {
		return err
	}
	a.mu.Lock()
	applied := a.applied[key]
	delete(a.applied, key)
	delete(a.appliedGen, key)
	a.mu.Unlock()
	mapper := spoke.RESTMapper()
	for id, uid := range applied {
		a.deleteOwned(ctx, spoke, mapper, id, uid, owner(w))
	}
	return a.patchFinalizers(ctx, w, slices.DeleteFunc(slices.Clone(w.Finalizers), func(f string) bool { return f == workv1.ManifestWorkFinalizer }))
}

// patchFinalizers writes a work's finalizers with the uid and
// resourceVersion it was read at (a Conflict when it changed since), as
// sdk-go's patcher does.
func (a *Agent) patchFinalizers(ctx context.Context, w *workv1.ManifestWork, finalizers []string) error {
	data, err := json.Marshal(map[string]any{"metadata": map[string]any{"uid": w.UID, "resourceVersion": w.ResourceVersion, "finalizers": finalizers}})
	if err != nil {
		return err
	}
	a.writes.Add(1)
	_, err = a.hub.Resource(manifestwork.WorksGVR).Namespace(w.Namespace).Patch(ctx, w.Name, types.MergePatchType, data, metav1.PatchOptions{})
	return err
}
