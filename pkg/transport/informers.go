package transport

import (
	"context"
	"fmt"

	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// StartInformers starts the factories' informers until life ends (a
// session's lifetime) and waits, within ctx, until every cache in synced
// is filled. what names what is listed in the errors ("vanlink's
// ManifestWorks"): ctx's cause when ctx ends first, or a closed session when
// life ends before the caches filled.
func StartInformers(ctx, life context.Context, what string, factories []dynamicinformer.DynamicSharedInformerFactory, synced ...cache.InformerSynced) error {
	for _, f := range factories {
		f.Start(life.Done())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, f := range factories {
			f.WaitForCacheSync(life.Done())
		}
	}()
	select {
	case <-done:
		for _, s := range synced {
			if !s() {
				return fmt.Errorf("listing %s on the hub: the session was closed", what)
			}
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("listing %s on the hub: %w", what, context.Cause(ctx))
	}
}
