package skupper

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// fields reads fields of one object and reports the first malformed one.
type fields struct {
	obj *unstructured.Unstructured
	err *FieldError
}

func (f *fields) fail(path []string, reason string) {
	if f.err == nil {
		f.err = &FieldError{Kind: f.obj.GetKind(), Namespace: f.obj.GetNamespace(), Name: f.obj.GetName(), Field: join(path), Reason: reason}
	}
}

func (f *fields) str(path ...string) string {
	v, found, err := unstructured.NestedString(f.obj.Object, path...)
	if err != nil {
		f.fail(path, "must be a string")
	}
	if !found {
		return ""
	}
	return v
}

func (f *fields) int(path ...string) (int64, bool) {
	raw, found, err := unstructured.NestedFieldNoCopy(f.obj.Object, path...)
	if err != nil || !found {
		return 0, false
	}
	switch n := raw.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	}
	f.fail(path, "must be an integer")
	return 0, false
}

func (f *fields) bool(path ...string) bool {
	v, _, err := unstructured.NestedBool(f.obj.Object, path...)
	if err != nil {
		f.fail(path, "must be a boolean")
	}
	return v
}

func (f *fields) time(path ...string) time.Time {
	s := f.str(path...)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		f.fail(path, "must be an RFC3339 time")
	}
	return t
}

// conditions reads status.conditions as metav1.Conditions.
func (f *fields) conditions() []metav1.Condition {
	raw, found, err := unstructured.NestedSlice(f.obj.Object, "status", "conditions")
	if err != nil {
		f.fail([]string{"status", "conditions"}, "must be a list")
		return nil
	}
	if !found {
		return nil
	}
	out := make([]metav1.Condition, 0, len(raw))
	for i, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			f.fail([]string{"status", fmt.Sprintf("conditions[%d]", i)}, "must be an object")
			continue
		}
		c := metav1.Condition{}
		c.Type, _, _ = unstructured.NestedString(m, "type")
		s, _, _ := unstructured.NestedString(m, "status")
		c.Status = metav1.ConditionStatus(s)
		c.Reason, _, _ = unstructured.NestedString(m, "reason")
		c.Message, _, _ = unstructured.NestedString(m, "message")
		if ts, _, _ := unstructured.NestedString(m, "lastTransitionTime"); ts != "" {
			if t, err := time.Parse(time.RFC3339, ts); err == nil {
				c.LastTransitionTime = metav1.NewTime(t)
			}
		}
		out = append(out, c)
	}
	return out
}

func join(path []string) string {
	s := ""
	for i, p := range path {
		if i > 0 {
			s += "."
		}
		s += p
	}
	return s
}

// FindCondition returns the condition of the given type, or nil.
func FindCondition(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}
