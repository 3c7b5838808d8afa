package acmtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/mergepatch"

	"github.com/vanlink/vanlink/pkg/transport/acm"
)

// errHandlerCrashed marks a Delete action without kube.resource.
var errHandlerCrashed = errors.New("handler crashed")

// onAction runs an action that is not Completed, or garbage-collects a
// completed one.
func (a *Agent) onAction(ctx context.Context, o any, now time.Time) {
	mca, ok := o.(*unstructured.Unstructured)
	if !ok {
		return
	}
	c := meta.FindStatusCondition(conditions(mca), acm.ConditionCompleted)
	if c != nil && now.Sub(c.LastTransitionTime.Time) >= a.opts.GCDelay {
		// The hub's garbage collection, independent of the agent: an
		// action with a Completed condition, True or False, is deleted
		// once the condition is older than the delay.
		// upstream: stolostron/multicloud-operators-foundation
		// pkg/controllers/gc/garbagecollector_controller.go Reconcile
		if a.claim(key(mca)) {
			go func() {
				defer a.release(key(mca))
				_ = a.hub.Resource(acm.ActionsGVR).Namespace(mca.GetNamespace()).Delete(ctx, mca.GetName(), metav1.DeleteOptions{})
			}()
		}
		return
	}
	if c != nil && c.Status == metav1.ConditionTrue {
		return
	}
	s, ok := a.spoke(mca.GetNamespace())
	if !ok || !a.claimAction(key(mca), fingerprint(mca)) {
		return
	}
	go func() {
		defer a.release(key(mca))
		a.execute(ctx, s, mca.DeepCopy())
	}()
}

// claimAction says whether an action runs now: it is not running already
// and this version of it has not been run. Upstream reconciles an action on
// every event while its Completed condition is not True, its own status
// write included, and one action at a time: so a failed action runs a
// second time right after its failure is written, and again whenever the
// action changes; when the second run fails the same way its status write
// changes nothing, the API server makes it a no-op with no event, and the
// action rests until the manager's resync (10 h). A second run can succeed
// where the first failed (the spoke changed in between), after the hub has
// already seen the failure. The version is a fingerprint of the object, not
// its resourceVersion, which a fake hub leaves empty.
// upstream: stolostron/multicloud-operators-foundation
// pkg/klusterlet/action/action_controller.go Reconcile (returns at once when
// Completed is True; handleAction's error is logged, not returned, so no
// requeue; the status is updated after every run) and SetupWithManager (For
// the action, no predicate).
func (a *Agent) claimAction(k, version string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inFlight[k] || a.ran[k] == version {
		return false
	}
	a.ran[k] = version
	a.inFlight[k] = true
	return true
}

// execute runs one action on the spoke and reports Completed.
// upstream: stolostron/multicloud-operators-foundation
// pkg/klusterlet/action/handle_action.go handleAction.
func (a *Agent) execute(ctx context.Context, s servedSpoke, mca *unstructured.Unstructured) {
	if !a.delay(ctx) {
		return
	}
	actionType, _, _ := unstructured.NestedString(mca.Object, "spec", "actionType")
	kube, _, _ := unstructured.NestedMap(mca.Object, "spec", "kube")
	resource, _, _ := unstructured.NestedString(kube, "resource")
	name, _, _ := unstructured.NestedString(kube, "name")
	namespace, _, _ := unstructured.NestedString(kube, "namespace")
	template, _, _ := unstructured.NestedMap(kube, "template")
	oldResult, hadResult, _ := unstructured.NestedFieldNoCopy(mca.Object, "status", "result")

	var (
		result any
		err    error
		reason string
	)
	switch actionType {
	case acm.ActionCreate:
		result, err = a.create(ctx, s, namespace, template)
		reason = acm.ReasonCreateFailed
	case acm.ActionDelete:
		err = a.delete(ctx, s, resource, namespace, name)
		reason = acm.ReasonDeleteFailed
	case acm.ActionUpdate:
		var unchanged bool
		result, unchanged, err = a.update(ctx, s, namespace, template)
		if unchanged {
			// upstream: handleUpdateAction returns action.Status.Result when
			// the patch is "{}".
			result = nil
			if hadResult {
				result = oldResult
			}
		}
		reason = acm.ReasonUpdateFailed
	default:
		err = errors.New("invalid action type")
		reason = acm.ReasonActionTypeInvalid
	}
	if errors.Is(err, errHandlerCrashed) {
		// The real handler dereferences a nil GroupVersionKind when
		// kube.resource is empty (handleDeleteAction passes nil, and
		// KubeControl.Delete maps gvk.GroupKind() when resource is ""):
		// controller-runtime recovers the panic and requeues with backoff,
		// the panic repeats, and Completed is never written.
		// upstream: stolostron/multicloud-operators-foundation
		// pkg/klusterlet/action/handle_action.go handleDeleteAction,
		// pkg/utils/rest/kubecontrol.go KubeControl.Delete.
		a.opts.Log.Error("agent: delete action without kube.resource crashed the handler", "cluster", mca.GetNamespace(), "action", mca.GetName())
		return
	}
	a.executed.Add(1)

	// upstream: handleAction sets Completed with meta.SetStatusCondition;
	// the result only on success.
	conds := conditions(mca)
	status, _, _ := unstructured.NestedMap(mca.Object, "status")
	if status == nil {
		status = map[string]any{}
	}
	cond := metav1.Condition{Type: acm.ConditionCompleted, Status: metav1.ConditionTrue, Reason: acm.ReasonActionDone,
		Message: "Resource action is done.", LastTransitionTime: metav1.Now()}
	if err != nil {
		cond.Status, cond.Reason = metav1.ConditionFalse, reason
		cond.Message = fmt.Sprintf("failed to handle %v action with err: %v", actionType, err)
	} else if result != nil {
		status["result"] = result
	} else {
		delete(status, "result")
	}
	meta.SetStatusCondition(&conds, cond)
	status["conditions"] = conditionsJSON(conds)
	a.opts.Log.Info("agent: action", "cluster", mca.GetNamespace(), "type", actionType, "resource", resource, "name", name, "reason", cond.Reason)
	if old, _, _ := unstructured.NestedMap(mca.Object, "status"); equality.Semantic.DeepEqual(old, status) {
		// The same outcome as last time: the real API server makes the
		// update a no-op, with no watch event (a fake hub would send one).
		return
	}
	a.writeActionStatus(ctx, mca, status)
}

// writeActionStatus writes an action's status, re-reading it on a conflict.
// (Upstream returns the conflict and runs the whole action again; vanlink
// never writes an action after creating it, so the double keeps it simple.)
func (a *Agent) writeActionStatus(ctx context.Context, mca *unstructured.Unstructured, status map[string]any) {
	client := a.hub.Resource(acm.ActionsGVR).Namespace(mca.GetNamespace())
	for range 5 {
		err := a.writeStatus(ctx, acm.ActionsGVR, mca, status)
		if err == nil || !isConflict(err) || ctx.Err() != nil {
			return
		}
		fresh, gerr := client.Get(ctx, mca.GetName(), metav1.GetOptions{})
		if gerr != nil {
			return
		}
		mca = fresh
	}
}

// templateObject decodes a template as the agent does: json.Unmarshal of the
// raw template into an Unstructured (which requires a kind).
func templateObject(template map[string]any) (*unstructured.Unstructured, []byte, error) {
	var raw []byte
	if template != nil {
		var err error
		if raw, err = json.Marshal(template); err != nil {
			return nil, nil, err
		}
	}
	obj := &unstructured.Unstructured{}
	if err := json.Unmarshal(raw, obj); err != nil {
		return nil, nil, err
	}
	return obj, raw, nil
}

// create maps the template's apiVersion/kind and creates it; an existing
// object is an AlreadyExists error. The result is the template.
// upstream: stolostron/multicloud-operators-foundation
// pkg/klusterlet/action/handle_action.go handleCreateAction,
// pkg/utils/rest/kubecontrol.go KubeControl.Create.
func (a *Agent) create(ctx context.Context, s servedSpoke, namespace string, template map[string]any) (any, error) {
	obj, _, err := templateObject(template)
	if err != nil {
		return nil, err
	}
	gvk := obj.GroupVersionKind()
	mapping, err := s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, err
	}
	ns := namespace
	if ns == "" {
		ns = obj.GetNamespace()
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace && ns == "" {
		return nil, errors.New("namespace must be set")
	}
	if _, err := s.Create(ctx, mapping.Resource, ns, obj); err != nil {
		return nil, err
	}
	return template, nil
}

// update GETs the object the template names (its name, and kube.namespace
// or its namespace) through the template's apiVersion/kind, and applies a
// three-way JSON merge patch from the current object to the template (the
// current object serving as the original: fields the template lacks are
// removed). unchanged is true when the patch is empty.
// upstream: stolostron/multicloud-operators-foundation
// pkg/klusterlet/action/handle_action.go handleUpdateAction,
// pkg/utils/rest/kubecontrol.go GeneratePatch, KubeControl.Get, KubeControl.Patch.
func (a *Agent) update(ctx context.Context, s servedSpoke, namespace string, template map[string]any) (result any, unchanged bool, err error) {
	obj, raw, err := templateObject(template)
	if err != nil {
		return nil, false, err
	}
	gvk := obj.GroupVersionKind()
	ns := namespace
	if ns == "" {
		ns = obj.GetNamespace()
	}
	mapping, err := s.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, false, err
	}
	current, err := s.Get(ctx, mapping.Resource, ns, obj.GetName())
	if err != nil {
		return nil, false, err
	}
	currentRaw, err := json.Marshal(current)
	if err != nil {
		return nil, false, err
	}
	patch, err := jsonmergepatch.CreateThreeWayJSONMergePatch(currentRaw, raw, currentRaw,
		mergepatch.RequireKeyUnchanged("apiVersion"), mergepatch.RequireKeyUnchanged("kind"), mergepatch.RequireMetadataKeyUnchanged("name"))
	if err != nil {
		return nil, false, err
	}
	if string(patch) == "{}" {
		return nil, true, nil
	}
	if _, err := s.MergePatch(ctx, mapping.Resource, ns, obj.GetName(), patch); err != nil {
		return nil, false, err
	}
	return template, false, nil
}

// delete resolves kube.resource as kubectl does and deletes with foreground
// propagation (see APISpoke.Delete). An empty resource crashes the handler.
// upstream: stolostron/multicloud-operators-foundation, handleDeleteAction
// (pkg/klusterlet/action/handle_action.go), KubeControl.Delete and MappingFor
// (pkg/utils/rest/kubecontrol.go).
func (a *Agent) delete(ctx context.Context, s servedSpoke, resource, namespace, name string) error {
	if resource == "" {
		return errHandlerCrashed
	}
	mapping, err := mappingFor(s.mapper, resource)
	if err != nil {
		return err
	}
	return s.Delete(ctx, mapping.Resource, namespace, name)
}
