package manifestwork

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// Status feedback. The agent evaluates each JSONPaths rule on the whole
// object with Kubernetes' jsonpath (missing keys allowed) and reports only
// scalar values, the first match of a path (upstream:
// open-cluster-management-io/ocm pkg/work/spoke/statusfeedback/reader.go,
// StatusReader.getValueByJsonPath, with the RawFeedbackJsonString feature
// off by default). So a condition is read field by field, through a filter
// on its type; a Site's endpoints (a list of objects) are not read, and are
// not needed of a spoke's Site. The AccessToken's spec.code is never read:
// no feedback holds the code.
var feedbackPaths = map[string][]workv1.JsonPath{
	configMapKind.kind: {
		{Name: "siteOwner", Path: `.metadata.ownerReferences[?(@.kind=="Site")].name`},
		{Name: "siteOwnerAPIVersion", Path: `.metadata.ownerReferences[?(@.kind=="Site")].apiVersion`},
	},
	siteKind.kind: append([]workv1.JsonPath{
		{Name: "uid", Path: ".metadata.uid"},
		{Name: "linkAccess", Path: ".spec.linkAccess"},
		{Name: "ha", Path: ".spec.ha"},
		{Name: "status", Path: ".status.status"},
		{Name: "message", Path: ".status.message"},
		{Name: "sitesInNetwork", Path: ".status.sitesInNetwork"},
	}, conditionPaths("ready", "Ready")...),
	linkKind.kind: append([]workv1.JsonPath{
		{Name: "created", Path: ".metadata.creationTimestamp"},
		{Name: "tlsCredentials", Path: ".spec.tlsCredentials"},
		{Name: "status", Path: ".status.status"},
		{Name: "message", Path: ".status.message"},
		{Name: "remoteSiteName", Path: ".status.remoteSiteName"},
	}, conditionPaths("ready", "Ready")...),
	tokenKind.kind: append([]workv1.JsonPath{
		{Name: "url", Path: ".spec.url"},
		{Name: "grantUID", Path: `.metadata.annotations.vanlink\.io/grant-uid`},
		{Name: "managedBy", Path: `.metadata.labels.app\.kubernetes\.io/managed-by`},
		{Name: "pushID", Path: `.metadata.annotations.vanlink\.io/push-id`},
		{Name: "redeemed", Path: ".status.redeemed"},
		{Name: "status", Path: ".status.status"},
		{Name: "message", Path: ".status.message"},
	}, conditionPaths("redeemed", "Redeemed")...),
}

// conditionPaths read one condition, field by field.
func conditionPaths(prefix, condType string) []workv1.JsonPath {
	var out []workv1.JsonPath
	for _, f := range []string{"status", "reason", "message", "lastTransitionTime"} {
		out = append(out, workv1.JsonPath{Name: prefix + "." + f, Path: fmt.Sprintf(`.status.conditions[?(@.type==%q)].%s`, condType, f)})
	}
	return out
}

// feedback is one manifest's status as the agent reported it.
type feedback struct {
	found bool
	// available is the manifest's Available condition (nil before the
	// agent read the object).
	available *metav1.Condition
	applied   *metav1.Condition
	values    map[string]any
}

// manifestStatus finds the status of one manifest of a work.
func manifestStatus(w *workv1.ManifestWork, k kindRef, name string) feedback {
	for _, m := range w.Status.ResourceStatus.Manifests {
		r := m.ResourceMeta
		if r.Group != k.group || r.Resource != k.resource || r.Name != name {
			continue
		}
		fb := feedback{found: true, available: condition(m.Conditions, workv1.ManifestAvailable),
			applied: condition(m.Conditions, workv1.ManifestApplied), values: map[string]any{}}
		for _, v := range m.StatusFeedbacks.Values {
			switch {
			case v.Value.String != nil:
				fb.values[v.Name] = *v.Value.String
			case v.Value.Integer != nil:
				fb.values[v.Name] = *v.Value.Integer
			case v.Value.Boolean != nil:
				fb.values[v.Name] = *v.Value.Boolean
			}
		}
		return fb
	}
	return feedback{}
}

func (f feedback) str(name string) string {
	s, _ := f.values[name].(string)
	return s
}

// state tells from the Available condition whether the object exists
// (upstream: pkg/work/spoke/objectreader/reader.go, ObjectReader.Get:
// ResourceAvailable, ResourceNotAvailable on NotFound, FetchingResourceFailed).
func (f feedback) state(what string) (transport.State, string) {
	switch {
	case !f.found || f.available == nil:
		return transport.Unknown, "the work agent has not read " + what + " yet"
	case f.available.Status == metav1.ConditionTrue:
		return transport.Present, ""
	case f.available.Status == metav1.ConditionFalse && f.available.Reason == "ResourceNotAvailable":
		return transport.Absent, ""
	}
	return transport.Unknown, fmt.Sprintf("the work agent could not read %s: %s: %s", what, f.available.Reason, f.available.Message)
}

// object rebuilds the object the feedback describes, as far as the values
// go: the Skupper parsers then read it as they read any object.
func (f feedback) object(k kindRef, name, namespace string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": k.apiVersion(), "kind": k.kind}}
	u.SetName(name)
	u.SetNamespace(namespace)
	set := func(v any, path ...string) {
		if v != nil {
			_ = unstructured.SetNestedField(u.Object, v, path...)
		}
	}
	set(f.values["uid"], "metadata", "uid")
	set(f.values["created"], "metadata", "creationTimestamp")
	if v := f.str("grantUID"); v != "" {
		set(v, "metadata", "annotations", skupper.GrantUIDAnnotation)
	}
	if v := f.str("managedBy"); v != "" {
		set(v, "metadata", "labels", skupper.ManagedByLabel)
	}
	for _, field := range []string{"linkAccess", "ha", "tlsCredentials", "url"} {
		set(f.values[field], "spec", field)
	}
	for _, field := range []string{"status", "message", "sitesInNetwork", "remoteSiteName", "redeemed"} {
		set(f.values[field], "status", field)
	}
	for prefix, condType := range map[string]string{"ready": "Ready", "redeemed": "Redeemed"} {
		status := f.str(prefix + ".status")
		if status == "" {
			continue
		}
		c := map[string]any{"type": condType, "status": status}
		for _, field := range []string{"reason", "message", "lastTransitionTime"} {
			if v := f.str(prefix + "." + field); v != "" {
				c[field] = v
			}
		}
		set([]any{c}, "status", "conditions")
	}
	return u
}

// siteOwner is the Site that owns the router ConfigMap, from its feedback.
func (f feedback) siteOwner() string {
	if !strings.HasPrefix(f.str("siteOwnerAPIVersion"), skupper.Group+"/") {
		return ""
	}
	return f.str("siteOwner")
}
