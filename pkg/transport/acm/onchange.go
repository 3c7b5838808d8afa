package acm

import (
	"k8s.io/client-go/tools/cache"

	"github.com/vanlink/vanlink/pkg/transport"
)

var _ transport.Watcher = (*session)(nil)

// OnChange calls fn with the cluster of a persistent view whose result or
// read condition changed (the agent refreshed it and found the Site or a
// Link changed, or gone) or that was deleted. A refresh that finds the object as it was calls nothing,
// so a steady fleet costs nothing.
func (t *session) OnChange(fn func(spoke string)) {
	mine := func(o any) (*record, bool) {
		r, ok := recordOf(o)
		return r, ok && r.observes(t.opts.TokenName)
	}
	_ = t.views.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := mine(oldObj)
			n, ok2 := mine(newObj)
			// What a view says of its object (see digest) changed.
			if ok1 && ok2 && o.said != n.said {
				fn(n.namespace)
			}
		},
		DeleteFunc: func(obj any) {
			if r, ok := mine(obj); ok {
				fn(r.namespace)
			}
		},
	})
}
