package worktest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

const ns = "service-interconnect"

func newBed(t *testing.T) (*Agent, *acmtest.MemorySpoke, transport.Transport) {
	hub := NewFakeHub()
	agent := New(hub, Options{StatusSync: 20 * time.Millisecond})
	s := acmtest.NewMemorySpoke("east")
	s.Mapper = acmtest.StaticMapper(acmtest.CoreGroup, acmtest.SkupperGroup)
	agent.AddSpoke("east", s)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = agent.Run(ctx) }()
	return agent, s, manifestwork.New(hub, manifestwork.Options{TokenName: "hub-link", SpokeNamespace: ns, ResyncCheck: 50 * time.Millisecond, SpokeTimeout: 5 * time.Second})
}

// openOnSite gives the spoke east its Site and opens a session.
func openOnSite(t *testing.T, s *acmtest.MemorySpoke, tr transport.Transport) transport.Session {
	t.Helper()
	_, err := s.Create(t.Context(), skupper.SitesGVR, ns, object("skupper.io/v2alpha1", "Site", "east", map[string]any{}))
	require.NoError(t, err)
	sess, err := tr.Open(t.Context(), transport.SessionOptions{})
	require.NoError(t, err)
	return sess
}

func object(apiVersion, kind, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns}, "spec": spec}}
}

// TestASettledWorkIsNotWrittenAgain: once the agent reported on a work, its
// periodic status syncs write nothing while the spoke does not change (the
// upstream patcher writes only a changed status).
func TestASettledWorkIsNotWrittenAgain(t *testing.T) {
	agent, s, tr := newBed(t)
	sess := openOnSite(t, s, tr)
	obs, err := transport.ObserveAll(t.Context(), sess, transport.Query{Spokes: []string{"east"}, LinkNames: []string{"hub-link"}})
	require.NoError(t, err)
	require.Equal(t, transport.Present, obs["east"].Site.State)
	tok := skupper.NewTokenRequest(&skupper.Grant{Name: "link-fleet", Namespace: "hub", UID: "uid", URL: "https://grants:9090/uid", CA: "pem", Code: "secret-code"},
		skupper.TokenOptions{Name: "hub-link", Namespace: ns})
	require.NoError(t, sess.Apply(t.Context(), "east", transport.Op{Name: "hub-link", Push: tok}))
	require.NoError(t, sess.Close(t.Context()))
	time.Sleep(300 * time.Millisecond) // the last write applied and reported on
	before := agent.HubWrites()
	time.Sleep(300 * time.Millisecond) // some 15 status syncs
	require.Equal(t, before, agent.HubWrites(), "a status sync that finds the spoke as it was writes nothing")
}

// TestAnOrphanedTokenIsCreatedWithARemovalKeyThenStripped: the agent
// creates a CreateOnly manifest the work orphans with the removal key of its
// owner reference and strips it in the same apply, so the token ends without
// an owner after two spoke writes (upstream: manageOwnerRef,
// CreateOnlyApply.Apply, helper.ApplyOwnerReferences).
func TestAnOrphanedTokenIsCreatedWithARemovalKeyThenStripped(t *testing.T) {
	_, s, tr := newBed(t)
	sess := openOnSite(t, s, tr)
	defer func() { require.NoError(t, sess.Close(t.Context())) }()
	before := s.Writes()
	tok := skupper.NewTokenRequest(&skupper.Grant{Name: "link-fleet", Namespace: "hub", UID: "uid", URL: "https://grants:9090/uid", CA: "pem", Code: "secret-code"},
		skupper.TokenOptions{Name: "hub-link", Namespace: ns})
	require.NoError(t, sess.Apply(t.Context(), "east", transport.Op{Name: "hub-link", Push: tok}))
	got, err := s.Get(t.Context(), skupper.AccessTokensGVR, ns, "hub-link")
	require.NoError(t, err)
	require.Empty(t, got.GetOwnerReferences(), "the orphaned token ends without an owner")
	require.Equal(t, int64(2), s.Writes()-before, "a create with the removal key, then the patch that strips it")
}
