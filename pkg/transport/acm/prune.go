package acm

import (
	"context"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Known returns the spokes that have persistent views of this token name.
func (t *session) Known(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	for _, o := range t.views.GetStore().List() {
		u := o.(*unstructured.Unstructured)
		l := u.GetLabels()
		if l[PurposeLabel] == "observe" && l[TokenNameLabel] == t.opts.TokenName {
			seen[u.GetNamespace()] = true
		}
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

// Forget deletes the persistent views of a spoke (every one of this token:
// the Site's and the Links', whatever the hub's router groups were).
func (t *session) Forget(ctx context.Context, spoke string) error {
	if t.readOnly {
		return errReadOnly
	}
	var errs []error
	for _, o := range t.views.GetStore().List() {
		u := o.(*unstructured.Unstructured)
		l := u.GetLabels()
		if u.GetNamespace() != spoke || l[PurposeLabel] != "observe" || l[TokenNameLabel] != t.opts.TokenName {
			continue
		}
		err := t.dyn.Resource(ViewsGVR).Namespace(spoke).Delete(ctx, u.GetName(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting ManagedClusterView %s/%s: %w", spoke, u.GetName(), err))
		}
	}
	return errors.Join(errs...)
}
