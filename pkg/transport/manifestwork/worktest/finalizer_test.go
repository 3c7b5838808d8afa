package worktest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

// TestTheAgentPutsItsFinalizerOnAWorkBeforeApplyingIt: as upstream's
// add_finalizer_controller.go, and the apply and status controllers wait
// for it.
func TestTheAgentPutsItsFinalizerOnAWorkBeforeApplyingIt(t *testing.T) {
	agent, s, tr := newBed(t)
	sess := openOnSite(t, s, tr)
	_, err := transport.ObserveAll(t.Context(), sess, transport.Query{Spokes: []string{"east"}, LinkNames: []string{"hub-link"}})
	require.NoError(t, err)
	require.NoError(t, sess.Close(t.Context()))
	u, err := agent.hub.Resource(manifestwork.WorksGVR).Namespace("east").Get(t.Context(), manifestwork.WorkName("hub-link"), metav1.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{workv1.ManifestWorkFinalizer}, u.GetFinalizers())
}

// TestADeletedWorkIsFinalized: a work being deleted (a real hub keeps it
// while it has the finalizer) is reported Deleting, what it owns on the
// spoke is deleted, what it orphaned stays, and the finalizer goes.
func TestADeletedWorkIsFinalized(t *testing.T) {
	hub := NewFakeHub()
	agent := New(hub, Options{StatusSync: time.Hour})
	s := acmtest.NewMemorySpoke("east")
	s.Mapper = acmtest.StaticMapper(acmtest.CoreGroup, acmtest.SkupperGroup)
	agent.AddSpoke("east", s)
	now := metav1.Now()
	w := &workv1.ManifestWork{TypeMeta: metav1.TypeMeta{APIVersion: "work.open-cluster-management.io/v1", Kind: "ManifestWork"},
		ObjectMeta: metav1.ObjectMeta{Name: "w", Namespace: "east", UID: "w-uid", Finalizers: []string{workv1.ManifestWorkFinalizer}, DeletionTimestamp: &now}}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(w)
	require.NoError(t, err)
	_, err = hub.Resource(manifestwork.WorksGVR).Namespace("east").Create(t.Context(), &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{})
	require.NoError(t, err)
	u, err := hub.Resource(manifestwork.WorksGVR).Namespace("east").Get(t.Context(), "w", metav1.GetOptions{})
	require.NoError(t, err)
	w, err = toWork(u)
	require.NoError(t, err)

	owned := object("v1", "Secret", "owned", nil)
	owned.SetOwnerReferences([]metav1.OwnerReference{owner(w)})
	owned, err = s.Create(t.Context(), skupper.SecretsGVR, ns, owned)
	require.NoError(t, err)
	kept, err := s.Create(t.Context(), skupper.SecretsGVR, ns, object("v1", "Secret", "orphaned", nil))
	require.NoError(t, err)
	agent.applied["east/w"] = map[workv1.ResourceIdentifier]string{
		{Resource: "secrets", Namespace: ns, Name: "owned"}:    string(owned.GetUID()),
		{Resource: "secrets", Namespace: ns, Name: "orphaned"}: string(kept.GetUID()),
	}

	require.NoError(t, agent.finalize(t.Context(), s, w, "east/w"))
	_, err = s.Get(t.Context(), skupper.SecretsGVR, ns, "owned")
	require.Error(t, err, "what the work owned is deleted")
	_, err = s.Get(t.Context(), skupper.SecretsGVR, ns, "orphaned")
	require.NoError(t, err, "what it orphaned stays")
	u, err = hub.Resource(manifestwork.WorksGVR).Namespace("east").Get(t.Context(), "w", metav1.GetOptions{})
	require.NoError(t, err)
	require.Empty(t, u.GetFinalizers(), "the finalizer is removed")
	got, err := toWork(u)
	require.NoError(t, err)
	require.True(t, meta.IsStatusConditionTrue(got.Status.Conditions, workv1.WorkDeleting), "reported Deleting first")
	require.Equal(t, int64(2), agent.HubWrites(), "the Deleting status and the finalizer's removal")
}
