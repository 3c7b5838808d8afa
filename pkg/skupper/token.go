package skupper

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// TokenOptions shape a new AccessToken.
type TokenOptions struct {
	Name, Namespace string
	// LinkCost sets spec.linkCost when above zero.
	LinkCost int64
}

// newAccessToken builds the AccessToken a spoke redeems against the grant
// (TokenRequest.Reveal). The grant must have passed Validate. The result
// carries the code.
func newAccessToken(g *Grant, o TokenOptions) *unstructured.Unstructured {
	spec := map[string]any{"url": g.URL, "code": g.Code.Reveal(), "ca": g.CA}
	if o.LinkCost > 0 {
		spec["linkCost"] = o.LinkCost
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": GroupVersion.String(),
		"kind":       "AccessToken",
		"metadata": map[string]any{
			"name":      o.Name,
			"namespace": o.Namespace,
			"labels":    map[string]any{ManagedByLabel: ManagedByValue},
			"annotations": map[string]any{
				GrantUIDAnnotation: string(g.UID),
				GrantAnnotation:    g.Namespace + "/" + g.Name,
			},
		},
		"spec": spec,
	}}
}

// Token is a typed view of an AccessToken, without its code.
type Token struct {
	Name, Namespace string
	// GrantUID is the uid of the grant the token was built from: the vanlink
	// annotation, or the last path segment of spec.url.
	GrantUID   types.UID
	ManagedBy  string
	Redeemed   bool
	Status     string
	Message    string
	Conditions []metav1.Condition
}

// ParseToken reads an AccessToken; its code is not kept.
func ParseToken(obj *unstructured.Unstructured) (*Token, error) {
	f := &fields{obj: obj}
	t := &Token{Name: obj.GetName(), Namespace: obj.GetNamespace(), ManagedBy: obj.GetLabels()[ManagedByLabel]}
	t.GrantUID = types.UID(obj.GetAnnotations()[GrantUIDAnnotation])
	if t.GrantUID == "" {
		if u := f.str("spec", "url"); u != "" {
			t.GrantUID = types.UID(u[strings.LastIndex(u, "/")+1:])
		}
	}
	t.Redeemed = f.bool("status", "redeemed")
	t.Status = f.str("status", "status")
	t.Message = f.str("status", "message")
	t.Conditions = f.conditions()
	if f.err != nil {
		return nil, f.err
	}
	if c := FindCondition(t.Conditions, "Redeemed"); c != nil && c.Status == metav1.ConditionTrue {
		t.Redeemed = true
	}
	return t, nil
}

// Failed reports whether the spoke controller failed to redeem the token.
func (t *Token) Failed() bool {
	if t.Redeemed {
		return false
	}
	if t.Status == StatusError {
		return true
	}
	c := FindCondition(t.Conditions, "Redeemed")
	return c != nil && c.Status == metav1.ConditionFalse && c.Reason == StatusError
}

// Orphaned reports a token redeemed for a Site that was deleted since: the
// controller marks it Redeemed=True with reason Error, "Already redeemed for
// a deleted site", and never redeems it again, while the Links it made went
// with the Site they were owned by (upstream: skupperproject/skupper
// internal/kube/site/site.go, Site.Deleted and its token handling).
func (t *Token) Orphaned() bool {
	if !t.Redeemed {
		return false
	}
	if t.Status == StatusError {
		return true
	}
	c := FindCondition(t.Conditions, "Redeemed")
	return c != nil && c.Reason == StatusError
}

// String describes the token's state.
func (t *Token) String() string {
	switch {
	case t.Redeemed:
		return fmt.Sprintf("AccessToken %s redeemed", t.Name)
	case t.Failed():
		return fmt.Sprintf("AccessToken %s failed: %s", t.Name, t.Message)
	default:
		return fmt.Sprintf("AccessToken %s not redeemed yet", t.Name)
	}
}
