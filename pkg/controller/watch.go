package controller

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/client-go/tools/cache"
)

// Watch holds the informers of a controller: what chooses the spokes, the
// grant and the hub Site. Their caches serve the fleet, so choosing the
// spokes costs no hub request; their events call the controller.
type Watch struct {
	starts []func(stop <-chan struct{})
	synced []cache.InformerSynced
}

// Start runs the informers until ctx ends.
func (w *Watch) Start(ctx context.Context) {
	for _, s := range w.starts {
		s(ctx.Done())
	}
}

// WaitForSync waits, within ctx, for every cache to fill.
func (w *Watch) WaitForSync(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), w.synced...) {
		return fmt.Errorf("filling the informer caches: %w", context.Cause(ctx))
	}
	return nil
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
