package manifestwork

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	workv1 "open-cluster-management.io/api/work/v1"
)

// carriesCode reports whether a work holds an AccessToken with a code (a
// push in progress, or one an interrupted session left).
func carriesCode(w *workv1.ManifestWork) bool {
	for _, m := range w.Spec.Workload.Manifests {
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(m.Raw); err != nil {
			continue
		}
		if code, _, _ := unstructured.NestedString(u.Object, "spec", "code"); code != "" {
			return true
		}
	}
	return false
}

// atRest reports whether every manifest of a work is read-only (nothing
// being pushed or removed).
func atRest(w *workv1.ManifestWork) bool {
	for _, c := range w.Spec.ManifestConfigs {
		if c.UpdateStrategy == nil || c.UpdateStrategy.Type != workv1.UpdateStrategyTypeReadOnly {
			return false
		}
	}
	return true
}

// toWork converts an unstructured ManifestWork.
func toWork(u *unstructured.Unstructured) (*workv1.ManifestWork, error) {
	data, err := u.MarshalJSON()
	if err != nil {
		return nil, err
	}
	w := &workv1.ManifestWork{}
	if err := json.Unmarshal(data, w); err != nil {
		return nil, fmt.Errorf("reading ManifestWork %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return w, nil
}

// condition returns a condition of a list, or nil.
func condition(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}
