package worktest

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/jsonpath"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

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
	if err := a.patchStatus(ctx, w, status); err != nil {
		return err
	}
	w.Status = *status
	return nil
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
