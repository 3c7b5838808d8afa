package acm

import (
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"
)

// watched is the watch of one kind of vanlink's hub objects: one informer
// over every hub namespace, or one per hub namespace when the transport is
// limited to some (Options.Namespaces: RBAC granted by RoleBindings there
// only).
type watched struct{ infs []cache.SharedIndexInformer }

// store reads the informers' caches as one.
type store struct{ infs []cache.SharedIndexInformer }

// GetStore returns the caches, read as one.
func (w *watched) GetStore() store { return store(*w) }

// GetByKey returns the object of key (namespace/name) from whichever cache
// holds it.
func (s store) GetByKey(key string) (any, bool, error) {
	for _, inf := range s.infs {
		if o, ok, err := inf.GetStore().GetByKey(key); err != nil || ok {
			return o, ok, err
		}
	}
	return nil, false, nil
}

// ByNamespace returns the cached objects of one hub namespace.
func (s store) ByNamespace(ns string) []any {
	var out []any
	for _, inf := range s.infs {
		objs, err := inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
		if err != nil { // an informer without the namespace index
			for _, o := range inf.GetStore().List() {
				if m, merr := meta.Accessor(o); merr == nil && m.GetNamespace() == ns {
					out = append(out, o)
				}
			}
			continue
		}
		out = append(out, objs...)
	}
	return out
}

// List returns every cached object.
func (s store) List() []any {
	var out []any
	for _, inf := range s.infs {
		out = append(out, inf.GetStore().List()...)
	}
	return out
}

// AddEventHandler adds h to every informer.
func (w *watched) AddEventHandler(h cache.ResourceEventHandler) error {
	for _, inf := range w.infs {
		if _, err := inf.AddEventHandler(h); err != nil {
			return err
		}
	}
	return nil
}

// SetTransform sets the transform of every informer.
func (w *watched) SetTransform(f cache.TransformFunc) error {
	for _, inf := range w.infs {
		if err := inf.SetTransform(f); err != nil {
			return err
		}
	}
	return nil
}

// HasSynced reports whether every informer has synced.
func (w *watched) HasSynced() bool {
	for _, inf := range w.infs {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}
