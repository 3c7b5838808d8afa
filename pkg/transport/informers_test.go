package transport_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/vanlink/vanlink/pkg/transport"
)

func TestStartInformers(t *testing.T) {
	gvr := schema.GroupVersionResource{Group: "work.open-cluster-management.io", Version: "v1", Resource: "manifestworks"}
	newFactory := func() (dynamicinformer.DynamicSharedInformerFactory, cache.InformerSynced) {
		c := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{gvr: "ManifestWorkList"})
		f := dynamicinformer.NewDynamicSharedInformerFactory(c, 0)
		return f, f.ForResource(gvr).Informer().HasSynced
	}
	t.Run("the caches fill", func(t *testing.T) {
		f, synced := newFactory()
		life, stop := context.WithCancel(t.Context())
		defer stop()
		require.NoError(t, transport.StartInformers(t.Context(), life, "works", []dynamicinformer.DynamicSharedInformerFactory{f}, synced))
		require.True(t, synced())
	})
	t.Run("the session closed first", func(t *testing.T) {
		f, synced := newFactory()
		life, stop := context.WithCancel(t.Context())
		stop()
		err := transport.StartInformers(t.Context(), life, "works", []dynamicinformer.DynamicSharedInformerFactory{f}, func() bool { return false }, synced)
		require.EqualError(t, err, "listing works on the hub: the session was closed")
	})
	t.Run("the caller gave up first", func(t *testing.T) {
		f, synced := newFactory()
		life, stop := context.WithCancel(t.Context())
		defer stop()
		ctx, cancel := context.WithCancelCause(t.Context())
		cancel(errors.New("deadline of the pass"))
		err := transport.StartInformers(ctx, life, "works", []dynamicinformer.DynamicSharedInformerFactory{f}, func() bool { return false }, synced)
		require.ErrorContains(t, err, "listing works on the hub")
	})
}
