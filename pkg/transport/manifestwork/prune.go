package manifestwork

import (
	"context"
	"fmt"
	"reflect"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/cache"
)

// Known returns the spokes that have a work of this token.
func (t *session) Known(context.Context) ([]string, error) {
	var out []string
	for _, inf := range t.infs {
		for _, o := range inf.GetStore().List() {
			out = append(out, o.(*unstructured.Unstructured).GetNamespace())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Forget deletes the spoke's work. At rest a work owns nothing on the spoke
// (its manifests are read-only and the token it pushed was created
// orphaned), so the agent deletes nothing there; a prune removes the
// token, Links and Secret first, through the work.
func (t *session) Forget(ctx context.Context, spoke string) error {
	if t.readOnly {
		return errReadOnly
	}
	defer t.lock(spoke)()
	err := t.dyn.Resource(WorksGVR).Namespace(spoke).Delete(ctx, WorkName(t.opts.TokenName), metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting ManifestWork %s/%s: %w", spoke, WorkName(t.opts.TokenName), err)
	}
	return nil
}

// OnChange calls fn with the spoke of a work whose report on the spoke's
// objects changed (an object appeared or went, a feedback value changed) or
// that was deleted. A report that only moved to a new generation (a read
// that found the spoke as it was) calls nothing, so a steady fleet costs
// nothing and a read never wakes its own reader.
func (t *session) OnChange(fn func(spoke string)) {
	report := func(o any) (string, any, bool) {
		if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			return "", nil, false
		}
		w, err := toWork(u)
		if err != nil {
			return u.GetNamespace(), nil, true
		}
		var out []any
		for _, m := range w.Status.ResourceStatus.Manifests {
			var avail []any
			if c := condition(m.Conditions, "Available"); c != nil {
				avail = []any{c.Status, c.Reason}
			}
			out = append(out, []any{m.ResourceMeta.Kind, m.ResourceMeta.Name, avail, m.StatusFeedbacks.Values})
		}
		return u.GetNamespace(), out, true
	}
	for _, inf := range t.infs {
		_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(oldObj, newObj any) {
				_, o, ok1 := report(oldObj)
				spoke, n, ok2 := report(newObj)
				if ok1 && ok2 && !reflect.DeepEqual(o, n) {
					fn(spoke)
				}
			},
			DeleteFunc: func(obj any) {
				if spoke, _, ok := report(obj); ok {
					fn(spoke)
				}
			},
		})
	}
}
