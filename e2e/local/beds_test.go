//go:build integration

package local_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vanlink/vanlink/e2e/local"
)

// TestBedsLendClearedBeds: a bed given back after a passed scenario is
// cleared and lent again, populated for the next transport; one given back
// after a failure, or one that cannot be cleared, is closed.
func TestBedsLendClearedBeds(t *testing.T) {
	ctx := context.Background()
	beds := &local.Beds{Spokes: []string{"east"}}
	defer beds.Close()

	p, err := beds.Get(ctx, t, local.Options{Transport: "acm"})
	require.NoError(t, err)
	east := p.Env.Cluster("east")
	_, err = east.Kube().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "service-interconnect"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	beds.Put(ctx, t, p, true)

	q, err := beds.Get(ctx, t, local.Options{Transport: "direct"})
	require.NoError(t, err)
	require.Same(t, p, q, "the bed is lent again")
	_, err = east.Kube().CoreV1().Namespaces().Get(ctx, "service-interconnect", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "what the last scenario made is gone: %v", err)
	creds, err := q.Env.Hub.Kube().CoreV1().Secrets(local.CredentialsNamespace).List(ctx, metav1.ListOptions{LabelSelector: "argocd.argoproj.io/secret-type=cluster"})
	require.NoError(t, err)
	require.Len(t, creds.Items, 1, "east is registered as the direct transport reaches it: an Argo CD cluster Secret")
	require.Contains(t, q.HubValues()["sync"], "direct", "populated for the direct transport")

	// A spoke added by the scenario is removed by the clear.
	_, err = q.AddSpoke(ctx, "north")
	require.NoError(t, err)
	beds.Put(ctx, t, q, true)
	r, err := beds.Get(ctx, t, local.Options{})
	require.NoError(t, err)
	require.Same(t, p, r)
	require.Len(t, r.Spokes(), 1, "north was removed")

	beds.Put(ctx, t, r, false)
	require.Zero(t, r.Env.Hub.PID(), "a failed scenario's bed is closed")
	s, err := beds.Get(ctx, t, local.Options{})
	require.NoError(t, err)
	require.NotSame(t, p, s, "a new bed is started")
	beds.Put(ctx, t, s, true)

	st := beds.Close()
	require.Equal(t, local.BedStats{Started: 2, Reused: 2, Discarded: 1}, local.BedStats{Started: st.Started, Reused: st.Reused, Discarded: st.Discarded})
	require.Zero(t, s.Env.Hub.PID(), "Close closes the free beds")
}
