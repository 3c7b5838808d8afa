package acm

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ACM API facts: ManagedClusterAction and ManagedClusterView (not available
// as Go modules, so read as unstructured objects).
var (
	ActionsGVR = schema.GroupVersionResource{Group: "action.open-cluster-management.io", Version: "v1beta1", Resource: "managedclusteractions"}
	ViewsGVR   = schema.GroupVersionResource{Group: "view.open-cluster-management.io", Version: "v1beta1", Resource: "managedclusterviews"}
)

// Action types and the conditions the work-manager agent reports.
const (
	ActionCreate = "Create"
	ActionUpdate = "Update"
	ActionDelete = "Delete"

	// ConditionCompleted is the only condition of a ManagedClusterAction.
	ConditionCompleted = "Completed"
	// ReasonActionDone is the reason of a successful action.
	ReasonActionDone = "ActionDone"
	// Failure reasons of an action.
	ReasonCreateFailed      = "CreateResourceFailed"
	ReasonUpdateFailed      = "UpdateResourceFailed"
	ReasonDeleteFailed      = "DeleteResourceFailed"
	ReasonActionTypeInvalid = "ActionTypeInvalid"

	// ConditionProcessing is the only condition of a ManagedClusterView.
	ConditionProcessing = "Processing"
	// ReasonGetResourceFailed is the reason of a view whose GET failed.
	ReasonGetResourceFailed = "GetResourceFailed"
)

// Labels vanlink puts on every MCA and MCV it creates.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "vanlink"
	// ObjectLabel says what a view or action is about: site, link, token.
	ObjectLabel = "vanlink.io/object"
	// TokenNameLabel is the token name the object belongs to.
	TokenNameLabel = "vanlink.io/token-name"
	// PurposeLabel: "observe" for persistent views, "transient" for objects
	// deleted by the pass that made them (token views, actions).
	PurposeLabel = "vanlink.io/purpose"
)

// Kube resources addressed by actions, each fully qualified as
// <plural>.<version>.<group> (core: <plural>.<version>.): the agent resolves
// kube.resource as kubectl resolves a resource argument, so a bare plural
// takes the first group discovery lists with that plural (Linkerd's
// links.multicluster.linkerd.io sorts before skupper.io) (upstream:
// stolostron/multicloud-operators-foundation pkg/utils/rest/kubecontrol.go,
// MappingFor and KubeControl.Delete).
const (
	resourceAccessTokens = "accesstokens.v2alpha1.skupper.io"
	resourceLinks        = "links.v2alpha1.skupper.io"
	resourceSecrets      = "secrets.v1."
)

// kindRef names a kind exactly. Views name their object by kind, version and
// apiGroup with an empty resource: the agent then maps the GroupKind and
// version exactly, with no plural lookup (upstream:
// stolostron/multicloud-operators-foundation
// pkg/klusterlet/view/view_controller.go, queryResource).
type kindRef struct{ group, version, kind string }

var (
	siteKind      = kindRef{"skupper.io", "v2alpha1", "Site"}
	linkKind      = kindRef{"skupper.io", "v2alpha1", "Link"}
	tokenKind     = kindRef{"skupper.io", "v2alpha1", "AccessToken"}
	configMapKind = kindRef{"", "v1", "ConfigMap"}
)

type condition struct {
	Type, Status, Reason, Message string
}

func findCondition(obj *unstructured.Unstructured, t string) *condition {
	conds, _, err := unstructured.NestedSlice(obj.Object, "status", "conditions")
	if err != nil {
		return nil
	}
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		if ct, _, _ := unstructured.NestedString(m, "type"); ct != t {
			continue
		}
		out := &condition{Type: t}
		out.Status, _, _ = unstructured.NestedString(m, "status")
		out.Reason, _, _ = unstructured.NestedString(m, "reason")
		out.Message, _, _ = unstructured.NestedString(m, "message")
		return out
	}
	return nil
}

func isNotFoundMessage(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "not found") || strings.Contains(m, "notfound")
}

func isAlreadyExistsMessage(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "already exists")
}

// newView builds a ManagedClusterView of one object on a spoke.
func newView(cluster, name string, generate bool, k kindRef, objName, objNamespace, object, tokenName, purpose string, interval int64) *unstructured.Unstructured {
	meta := map[string]any{
		"namespace": cluster,
		"labels": map[string]any{
			ManagedByLabel: ManagedByValue, ObjectLabel: object, TokenNameLabel: tokenName, PurposeLabel: purpose,
		},
	}
	if generate {
		meta["generateName"] = name
	} else {
		meta["name"] = name
	}
	scope := map[string]any{"version": k.version, "kind": k.kind, "name": objName, "namespace": objNamespace}
	if k.group != "" {
		scope["apiGroup"] = k.group
	}
	if interval > 0 {
		scope["updateIntervalSeconds"] = interval
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ViewsGVR.GroupVersion().String(),
		"kind":       "ManagedClusterView",
		"metadata":   meta,
		"spec":       map[string]any{"scope": scope},
	}}
}

// newAction builds a ManagedClusterAction; the name is generated by the API
// server so every attempt has its own.
func newAction(cluster, actionType, object, tokenName string, kube map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ActionsGVR.GroupVersion().String(),
		"kind":       "ManagedClusterAction",
		"metadata": map[string]any{
			"generateName": "vanlink-" + strings.ToLower(actionType) + "-" + object + "-",
			"namespace":    cluster,
			"labels": map[string]any{
				ManagedByLabel: ManagedByValue, ObjectLabel: object, TokenNameLabel: tokenName, PurposeLabel: "transient",
			},
		},
		"spec": map[string]any{"actionType": actionType, "kube": kube},
	}}
}

// scopeOf returns a view's spec.scope for comparison.
func scopeOf(v *unstructured.Unstructured) map[string]any {
	s, _, _ := unstructured.NestedMap(v.Object, "spec", "scope")
	return s
}

var deleteBackground = metav1.DeletePropagationBackground
