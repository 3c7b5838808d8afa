package controller

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	clusterfake "open-cluster-management.io/api/client/cluster/clientset/versioned/fake"
	clusterv1 "open-cluster-management.io/api/cluster/v1"

	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/skupper"
)

func TestTheGrantWatchSortsChanges(t *testing.T) {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		skupper.AccessGrantsGVR: "AccessGrantList", skupper.SitesGVR: "SiteList"}, grantObject(t, "grant-1", 10, 0))
	var changed, replaced atomic.Int32
	w := &Watch{}
	require.NoError(t, w.Grant(dyn, "service-interconnect", "spoke-link", func() { changed.Add(1) }, func() { replaced.Add(1) }))
	w.Start(t.Context())
	require.NoError(t, w.WaitForSync(t.Context()))
	require.Eventually(t, func() bool { return changed.Load() == 1 }, 5*time.Second, 10*time.Millisecond, "the first sight of the grant")
	gr := dyn.Resource(skupper.AccessGrantsGVR).Namespace("service-interconnect")
	update := func(mod func(u *unstructured.Unstructured)) {
		u, err := gr.Get(t.Context(), "spoke-link", metav1.GetOptions{})
		require.NoError(t, err)
		mod(u)
		_, err = gr.Update(t.Context(), u, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	update(func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, int64(1), "status", "redemptions")
	})
	time.Sleep(200 * time.Millisecond)
	require.EqualValues(t, 1, changed.Load(), "a redemption changes no plan: no event")
	update(func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, int64(20), "spec", "redemptionsAllowed")
	})
	require.Eventually(t, func() bool { return changed.Load() == 2 }, 5*time.Second, 10*time.Millisecond, "a new budget is a change")
	require.NoError(t, gr.Delete(t.Context(), "spoke-link", metav1.DeleteOptions{}))
	_, err := gr.Create(t.Context(), grantObject(t, "grant-2", 10, 0), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return replaced.Load() == 1 }, 5*time.Second, 10*time.Millisecond, "a new uid: the grant was re-created")
	require.NoError(t, w.Ready())
}

func TestTheClusterCacheKeepsWhatChoosingASpokeReads(t *testing.T) {
	mc := &clusterv1.ManagedCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "east", Labels: map[string]string{"vanlink.io/interconnect": "spoke"},
			Annotations:   map[string]string{"open-cluster-management/created-via": "other"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "registration-controller"}}},
		Spec: clusterv1.ManagedClusterSpec{HubAcceptsClient: true},
		Status: clusterv1.ManagedClusterStatus{
			Conditions: []metav1.Condition{
				{Type: clusterv1.ManagedClusterConditionJoined, Status: metav1.ConditionTrue},
				{Type: clusterv1.ManagedClusterConditionAvailable, Status: metav1.ConditionTrue},
				{Type: "HubAcceptedManagedCluster", Status: metav1.ConditionTrue},
			},
			ClusterClaims: []clusterv1.ManagedClusterClaim{{Name: "platform.open-cluster-management.io", Value: "AWS"}},
			Version:       clusterv1.ManagedClusterVersion{Kubernetes: "v1.31.0"},
		},
	}
	cc := clusterfake.NewSimpleClientset(mc)
	w := &Watch{}
	src, err := w.ManagedClusters(cc, "vanlink.io/interconnect=spoke", "", func() {})
	require.NoError(t, err)
	w.Start(t.Context())
	require.NoError(t, w.WaitForSync(t.Context()))
	sel, err := src.Select(t.Context())
	require.NoError(t, err)
	require.Len(t, sel.Clusters, 1, "a joined, available cluster is chosen from the slim cache")
	require.Equal(t, "east", sel.Clusters[0].Name)

	o, err := slimCluster(mc)
	require.NoError(t, err)
	slim := o.(*clusterv1.ManagedCluster)
	require.Equal(t, mc.Labels, slim.Labels)
	require.Empty(t, slim.ManagedFields)
	require.Empty(t, slim.Annotations)
	require.Empty(t, slim.Status.ClusterClaims)
	require.Empty(t, slim.Status.Version.Kubernetes)
	require.Len(t, slim.Status.Conditions, 2, "Joined and Available only")
}

// countingSource counts its selections; each returns the clusters it holds.
type countingSource struct {
	mu       sync.Mutex
	clusters []string
	selects  int
}

func (s *countingSource) Select(context.Context) (fleet.Selection, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.selects++
	var sel fleet.Selection
	for _, c := range s.clusters {
		sel.Clusters = append(sel.Clusters, fleet.Cluster{Name: c})
	}
	return sel, nil
}

func TestTheSelectionIsComputedAgainOnlyAfterAMembershipEvent(t *testing.T) {
	src := &countingSource{clusters: []string{"east"}}
	sc := &selectionCache{src: src}
	heard := 0
	event := sc.invalidating(func() { heard++ })
	for range 3 {
		sel, err := sc.Select(t.Context())
		require.NoError(t, err)
		require.Equal(t, []string{"east"}, sel.Names())
	}
	require.Equal(t, 1, src.selects, "three batches with nothing changed: one selection")

	src.mu.Lock()
	src.clusters = append(src.clusters, "west")
	src.mu.Unlock()
	event()
	require.Equal(t, 1, heard, "the controller hears of the event")
	sel, err := sc.Select(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"east", "west"}, sel.Names(), "the selection after an event is computed again")
	require.Equal(t, 2, src.selects)
}

func TestASelectionRacingAnEventIsNotKept(t *testing.T) {
	src := &countingSource{clusters: []string{"east"}}
	sc := &selectionCache{src: src}
	event := sc.invalidating(func() {})
	// The event comes while the selection is computed: the informer's
	// cache may have changed after the source read it.
	sc.src = sourceFunc(func(ctx context.Context) (fleet.Selection, error) {
		sel, err := src.Select(ctx)
		event()
		return sel, err
	})
	_, err := sc.Select(t.Context())
	require.NoError(t, err)
	_, err = sc.Select(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, src.selects, "a selection computed during an event is computed again")
}

type sourceFunc func(context.Context) (fleet.Selection, error)

func (f sourceFunc) Select(ctx context.Context) (fleet.Selection, error) { return f(ctx) }

func TestTheClusterWatchDropsTheSelectionWhenAClusterChanges(t *testing.T) {
	mc := &clusterv1.ManagedCluster{ObjectMeta: metav1.ObjectMeta{Name: "east", Labels: map[string]string{"vanlink.io/interconnect": "spoke"}},
		Status: clusterv1.ManagedClusterStatus{Conditions: []metav1.Condition{
			{Type: clusterv1.ManagedClusterConditionJoined, Status: metav1.ConditionTrue},
			{Type: clusterv1.ManagedClusterConditionAvailable, Status: metav1.ConditionTrue}}}}
	cc := clusterfake.NewSimpleClientset(mc)
	var events atomic.Int32
	w := &Watch{}
	src, err := w.ManagedClusters(cc, "vanlink.io/interconnect=spoke", "", func() { events.Add(1) })
	require.NoError(t, err)
	w.Start(t.Context())
	require.NoError(t, w.WaitForSync(t.Context()))
	require.Eventually(t, func() bool { return events.Load() == 1 }, 5*time.Second, 10*time.Millisecond, "the first sight of east")
	sel, err := src.Select(t.Context())
	require.NoError(t, err)
	require.Len(t, sel.Clusters, 1, "east is chosen")

	west := mc.DeepCopy()
	west.Name = "west"
	west.Status.Conditions[1].Status = metav1.ConditionFalse
	_, err = cc.ClusterV1().ManagedClusters().Create(t.Context(), west, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return events.Load() == 2 }, 5*time.Second, 10*time.Millisecond, "west's arrival is an event")
	sel, err = src.Select(t.Context())
	require.NoError(t, err)
	require.Len(t, sel.Clusters, 1, "east is still chosen")
	require.Equal(t, []fleet.Skipped{{Name: "west", Reason: "ManagedClusterConditionAvailable is False"}}, sel.Skipped, "the selection after the event sees west")
}

func TestWaitForSyncNamesTheEmptyCachesAndTheLastFailure(t *testing.T) {
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		skupper.AccessGrantsGVR: "AccessGrantList", skupper.SitesGVR: "SiteList"})
	forbidden := apierrors.NewForbidden(skupper.SitesGVR.GroupResource(), "", errors.New("RBAC: no list"))
	dyn.PrependReactor("list", "sites", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, forbidden })
	w := &Watch{}
	require.NoError(t, w.Grant(dyn, "service-interconnect", "spoke-link", func() {}, func() {}))
	w.Start(t.Context())
	gaveUp := errors.New("gave up waiting")
	ctx, cancel := context.WithTimeoutCause(t.Context(), 2*time.Second, gaveUp)
	defer cancel()
	err := w.WaitForSync(ctx)
	var se *SyncError
	require.ErrorAs(t, err, &se, "a typed error")
	require.Equal(t, []string{"sites"}, se.Pending, "the grant's cache filled, the Sites' did not")
	require.ErrorIs(t, err, gaveUp, "the context's cause")
	require.True(t, apierrors.IsForbidden(se.Last), "the last list's error: %v", se.Last)
	require.ErrorContains(t, err, "the informer caches of sites are not filled: gave up waiting; the last list or watch failed:")
	require.Error(t, w.Ready())
}
