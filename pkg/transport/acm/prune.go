package acm

import (
	"context"
	"errors"
	"fmt"
	"sort"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Known returns the spokes that have persistent views of this token name.
func (t *session) Known(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	for _, o := range t.views.GetStore().List() {
		if r, ok := recordOf(o); ok && r.observes(t.opts.TokenName) {
			seen[r.namespace] = true
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
	for _, o := range t.views.GetStore().ByNamespace(spoke) {
		r, ok := recordOf(o)
		if !ok || r.namespace != spoke || !r.observes(t.opts.TokenName) {
			continue
		}
		err := t.dyn.Resource(ViewsGVR).Namespace(spoke).Delete(ctx, r.name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting ManagedClusterView %s/%s: %w", spoke, r.name, err))
		}
	}
	return errors.Join(errs...)
}
