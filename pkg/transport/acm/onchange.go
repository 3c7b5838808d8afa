package acm

import (
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"

	"github.com/vanlink/vanlink/pkg/transport"
)

var _ transport.Watcher = (*session)(nil)

// OnChange calls fn with the cluster of a persistent view whose result or
// read condition changed (the agent refreshed it and found the Site or a
// Link changed, or gone) or that was deleted. A refresh that finds the object as it was calls nothing,
// so a steady fleet costs nothing.
func (t *session) OnChange(fn func(spoke string)) {
	mine := func(o any) (*unstructured.Unstructured, bool) {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			return nil, false
		}
		l := u.GetLabels()
		return u, l[PurposeLabel] == "observe" && l[TokenNameLabel] == t.opts.TokenName
	}
	// What a view says of its object: the result, and whether the agent
	// could read it (a failed read, e.g. the object is gone, keeps the old
	// result and changes the condition), without the times.
	result := func(u *unstructured.Unstructured) any {
		r, _, _ := unstructured.NestedFieldNoCopy(u.Object, "status", "result")
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		var cs []string
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok {
				cs = append(cs, fmt.Sprint(m["type"], "=", m["status"], ":", m["reason"]))
			}
		}
		return []any{r, cs}
	}
	_ = t.views.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := mine(oldObj)
			n, ok2 := mine(newObj)
			if ok1 && ok2 && !reflect.DeepEqual(result(o), result(n)) {
				fn(n.GetNamespace())
			}
		},
		DeleteFunc: func(obj any) {
			if u, ok := mine(obj); ok {
				fn(u.GetNamespace())
			}
		},
	})
}
