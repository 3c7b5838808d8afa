package controller

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"k8s.io/client-go/tools/cache"
)

// Watch holds the informers of a controller: what chooses the spokes, the
// grant and the hub Site. Their caches serve the fleet, so choosing the
// spokes costs no hub request; their events call the controller.
type Watch struct {
	starts []func(stop <-chan struct{})
	synced []cache.InformerSynced
	// names are the informers' resources, in the order of synced.
	names []string

	mu sync.Mutex
	// lastErr is the last error of a list or watch, by resource.
	lastErr map[string]error
}

// SyncError is WaitForSync's error: the informer caches of Pending (their
// resources, such as "managedclusters") had not filled when its context
// ended (Cause, the context's cause). Last is the last error a list or
// watch of theirs got from the hub API server (a refusal of RBAC, a server
// error), nil when none failed: client-go's reflector takes a watch that
// timed out for one that ended, so a server that never answers leaves it
// nil. errors.Is and errors.As see Cause and Last.
type SyncError struct {
	Pending []string
	Cause   error
	Last    error
}

func (e *SyncError) Error() string {
	msg := fmt.Sprintf("the informer caches of %s are not filled: %v", strings.Join(e.Pending, ", "), e.Cause)
	if e.Last != nil {
		msg += fmt.Sprintf("; the last list or watch failed: %v", e.Last)
	}
	return msg
}

func (e *SyncError) Unwrap() []error {
	if e.Last == nil {
		return []error{e.Cause}
	}
	return []error{e.Cause, e.Last}
}

// track registers an informer of resource: its cache is waited for, and
// the errors of its lists and watches are kept for WaitForSync's error
// (then logged as client-go does by default).
func (w *Watch) track(resource string, inf cache.SharedIndexInformer) error {
	err := inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		w.mu.Lock()
		if w.lastErr == nil {
			w.lastErr = map[string]error{}
		}
		w.lastErr[resource] = err
		w.mu.Unlock()
		cache.DefaultWatchErrorHandler(ctx, r, err)
	})
	if err != nil {
		return fmt.Errorf("watching %s: %w", resource, err)
	}
	w.synced = append(w.synced, inf.HasSynced)
	w.names = append(w.names, resource)
	return nil
}

// Start runs the informers until ctx ends.
func (w *Watch) Start(ctx context.Context) {
	for _, s := range w.starts {
		s(ctx.Done())
	}
}

// WaitForSync waits, within ctx, for every cache to fill. When ctx ends
// first it returns a *SyncError naming the caches still empty and the last
// error their requests got.
func (w *Watch) WaitForSync(ctx context.Context) error {
	if cache.WaitForCacheSync(ctx.Done(), w.synced...) {
		return nil
	}
	e := &SyncError{Cause: context.Cause(ctx)}
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, s := range w.synced {
		if s() {
			continue
		}
		e.Pending = append(e.Pending, w.names[i])
		if err := w.lastErr[w.names[i]]; err != nil && e.Last == nil {
			e.Last = err
		}
	}
	return e
}

// Ready returns nil once every cache is filled (/readyz).
func (w *Watch) Ready() error {
	for _, s := range w.synced {
		if !s() {
			return errors.New("informer caches not filled yet")
		}
	}
	return nil
}

func handler(changed func(oldObj, newObj any) bool, fn func()) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { fn() },
		UpdateFunc: func(o, n any) {
			if changed(o, n) {
				fn()
			}
		},
		DeleteFunc: func(any) { fn() },
	}
}
