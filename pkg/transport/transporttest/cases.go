package transporttest

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

func coldSpoke(t *testing.T, b *Bed) {
	create(t, b.Spokes["east"], sitesGVR, site("east"))
	s := open(t, b, transport.SessionOptions{})
	obs := observe(t, s, q("east", "west"))
	e := obs["east"]
	decisionReady(t, e)
	require.Equal(t, transport.Present, e.Site.State)
	require.Equal(t, transport.Absent, e.Links.State)
	require.Equal(t, transport.Absent, e.Token.State)
	w := obs["west"]
	decisionReady(t, w)
	require.Equal(t, transport.Absent, w.Site.State, "west has no Site")
	closeClean(t, b, s)
}

// arrangeHASpoke gives a spoke what an HA hub's redemption leaves: a Site,
// the redeemed token, its Secret and two Ready Links <token>-1 and -2.
func arrangeHASpoke(t *testing.T, s Spoke) {
	create(t, s, sitesGVR, site("east"))
	create(t, s, secretsGVR, secret())
	create(t, s, tokensGVR, token(redeemed))
	create(t, s, linksGVR, link(TokenName+"-1", "Ready"))
	create(t, s, linksGVR, link(TokenName+"-2", "Ready"))
}

func haLinks(t *testing.T, b *Bed) {
	arrangeHASpoke(t, b.Spokes["east"])
	s := open(t, b, transport.SessionOptions{})
	obs := observe(t, s, transport.Query{Spokes: []string{"east"}, LinkNames: skupper.LinkNames(TokenName, 2)})
	e := obs["east"]
	require.Equal(t, transport.Present, e.Links.State)
	require.Equal(t, []string{TokenName + "-1", TokenName + "-2"}, e.Links.Object.Names())
	require.True(t, e.Links.Object.Ready(), "both Links Ready: linked")
	closeClean(t, b, s)
}

// haLinksWithoutNames: while the hub Site cannot issue links its router
// groups are unknown, and a pass asks for no Link names; a session then
// reads the Links it read before, never the token's own name instead.
func haLinksWithoutNames(t *testing.T, b *Bed) {
	east := b.Spokes["east"]
	arrangeHASpoke(t, east)
	s := open(t, b, transport.SessionOptions{})
	observe(t, s, transport.Query{Spokes: []string{"east"}, LinkNames: skupper.LinkNames(TokenName, 2)})
	closeClean(t, b, s)
	for _, o := range []transport.SessionOptions{{}, {Fresh: true}} {
		s = open(t, b, o)
		e := observe(t, s, transport.Query{Spokes: []string{"east"}})["east"]
		decisionReady(t, e)
		require.Equal(t, transport.Present, e.Links.State, "fresh %v: %s", o.Fresh, e.Links.Reason)
		require.Equal(t, []string{TokenName + "-1", TokenName + "-2"}, e.Links.Object.Names(), "fresh %v", o.Fresh)
		require.True(t, e.Links.Object.Ready(), "both Links Ready: linked, not pending")
		closeClean(t, b, s)
	}
	for _, n := range []string{TokenName + "-1", TokenName + "-2"} {
		_, err := east.Get(t.Context(), linksGVR, Namespace, n)
		require.NoError(t, err, "Link %s left alone", n)
	}
}

func foreignPlural(t *testing.T, b *Bed) {
	east := b.Spokes["east"]
	create(t, east, sitesGVR, site("east"))
	create(t, east, secretsGVR, secret())
	create(t, east, LinkerdLinksGVR, obj("multicluster.linkerd.io/v1alpha1", "Link", TokenName, map[string]any{"targetClusterName": "elsewhere"}, nil))
	create(t, east, linksGVR, link(TokenName, "Ready"))
	s := open(t, b, transport.SessionOptions{})
	obs := observe(t, s, q("east"))
	require.Equal(t, transport.Present, obs["east"].Links.State)
	require.True(t, obs["east"].Links.Object.Ready(), "Skupper's Link is read, not Linkerd's")
	require.NoError(t, s.Apply(t.Context(), "east", transport.Op{Name: TokenName, Remove: transport.RemoveOptions{Link: true}}))
	_, err := east.Get(t.Context(), linksGVR, Namespace, TokenName)
	require.True(t, apierrors.IsNotFound(err), "Skupper's Link is removed: %v", err)
	_, err = east.Get(t.Context(), LinkerdLinksGVR, Namespace, TokenName)
	require.NoError(t, err, "Linkerd's Link is never touched")
	closeClean(t, b, s)
}

func siteOfAnyName(t *testing.T, b *Bed) {
	east := b.Spokes["east"]
	st := create(t, east, sitesGVR, site("edge-1"))
	cm := obj("v1", "ConfigMap", skupper.RouterConfigMap, nil, nil)
	cm.SetOwnerReferences(nil)
	_ = unstructured.SetNestedSlice(cm.Object, []any{map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": "Site",
		"name": "edge-1", "uid": string(st.GetUID())}}, "metadata", "ownerReferences")
	create(t, east, configMapsGVR, cm)
	s := open(t, b, transport.SessionOptions{})
	obs := observe(t, s, q("east"))
	decisionReady(t, obs["east"])
	require.Equal(t, transport.Present, obs["east"].Site.State, "the Site in the namespace, whatever its name")
	require.Equal(t, "edge-1", obs["east"].Site.Object.Name)
	closeClean(t, b, s)
}

func secretOnlyDeletion(t *testing.T, b *Bed) {
	east := b.Spokes["east"]
	create(t, east, sitesGVR, site("east"))
	create(t, east, tokensGVR, token(redeemed))
	l := link(TokenName, "Pending")
	_ = unstructured.SetNestedField(l.Object, "Not Operational", "status", "message")
	create(t, east, linksGVR, l)
	s := open(t, b, transport.SessionOptions{})
	obs := observe(t, s, q("east"))
	e := obs["east"]
	decisionReady(t, e)
	require.Equal(t, transport.Present, e.Links.State)
	require.False(t, e.Links.Object.Ready())
	require.True(t, e.Token.Object.Redeemed)
	require.NotEqual(t, transport.Present, e.Credentials, "the Secret is gone: Absent, or Unknown where Secrets cannot be read")
	closeClean(t, b, s)
}

func staleReads(t *testing.T, b *Bed) {
	east, west := b.Spokes["east"], b.Spokes["west"]
	create(t, east, sitesGVR, site("east"))
	create(t, west, sitesGVR, site("west"))
	s := open(t, b, transport.SessionOptions{})
	obs := observe(t, s, q("east", "west"))
	require.Equal(t, transport.Present, obs["east"].Site.State)
	require.Equal(t, transport.Absent, obs["west"].Links.State)
	closeClean(t, b, s)

	// Since then: east's Site was deleted; west got its token, Link and Secret.
	require.NoError(t, east.Delete(t.Context(), sitesGVR, Namespace, "east"))
	create(t, west, secretsGVR, secret())
	create(t, west, tokensGVR, token(redeemed))
	create(t, west, linksGVR, link(TokenName, "Ready"))
	s = open(t, b, transport.SessionOptions{})
	obs = observe(t, s, q("east", "west"))
	for _, o := range obs {
		decisionReady(t, o)
	}
	require.Equal(t, transport.Absent, obs["east"].Site.State, "a Site deleted since is not reported present")
	require.Equal(t, transport.Present, obs["west"].Links.State, "a Link made since is seen before a push is decided")
	require.True(t, obs["west"].Links.Object.Ready())
	closeClean(t, b, s)
}

func freshSession(t *testing.T, b *Bed) {
	east := b.Spokes["east"]
	create(t, east, sitesGVR, site("east"))
	create(t, east, secretsGVR, secret())
	create(t, east, tokensGVR, token(redeemed))
	create(t, east, linksGVR, link(TokenName, "Ready"))
	s := open(t, b, transport.SessionOptions{})
	obs := observe(t, s, q("east"))
	require.True(t, obs["east"].Links.Object.Ready())
	closeClean(t, b, s)

	for _, gvr := range []schema.GroupVersionResource{linksGVR, tokensGVR, secretsGVR} {
		require.NoError(t, east.Delete(t.Context(), gvr, Namespace, TokenName))
	}
	s = open(t, b, transport.SessionOptions{Fresh: true})
	obs = observe(t, s, q("east"))
	require.True(t, obs["east"].Fresh)
	require.Equal(t, transport.Absent, obs["east"].Links.State, "a fresh session reads even a linked spoke as it is now")
	require.Equal(t, transport.Absent, obs["east"].Token.State)
	closeClean(t, b, s)
}

func applyPushAndRemove(t *testing.T, b *Bed) {
	east := b.Spokes["east"]
	create(t, east, sitesGVR, site("east"))
	s := open(t, b, transport.SessionOptions{})
	push := transport.Op{Name: TokenName, Push: Request()}
	require.NoError(t, s.Apply(t.Context(), "east", push))
	got, err := east.Get(t.Context(), tokensGVR, Namespace, TokenName)
	require.NoError(t, err)
	code, _, _ := unstructured.NestedString(got.Object, "spec", "code")
	require.Equal(t, Code, code, "the token reaches the spoke whole")
	err = s.Apply(t.Context(), "east", transport.Op{Name: TokenName, Push: Request()})
	require.True(t, errors.Is(err, transport.ErrAlreadyExists), "a second push: %v", err)

	create(t, east, secretsGVR, secret())
	for _, n := range skupper.AllLinkNames(TokenName) {
		create(t, east, linksGVR, link(n, "Ready"))
	}
	require.NoError(t, s.Apply(t.Context(), "east", transport.Op{Name: TokenName, Remove: transport.All}))
	for _, n := range skupper.AllLinkNames(TokenName) {
		_, err := east.Get(t.Context(), linksGVR, Namespace, n)
		require.True(t, apierrors.IsNotFound(err), "Link %s removed: %v", n, err)
	}
	for _, gvr := range []schema.GroupVersionResource{tokensGVR, secretsGVR} {
		_, err := east.Get(t.Context(), gvr, Namespace, TokenName)
		require.True(t, apierrors.IsNotFound(err), "%s removed: %v", gvr.Resource, err)
	}
	require.NoError(t, s.Apply(t.Context(), "east", transport.Op{Name: TokenName, Remove: transport.All}), "absent objects count as removed")
	closeClean(t, b, s)
}

func readOnly(t *testing.T, b *Bed) {
	east := b.Spokes["east"]
	create(t, east, sitesGVR, site("east"))
	var before []string
	if b.HubObjects != nil {
		before = b.HubObjects(t)
	}
	s := open(t, b, transport.SessionOptions{ReadOnly: true})
	obs := observe(t, s, q("east"))
	require.NotEqual(t, transport.Present, obs["east"].Links.State)
	require.Error(t, s.Apply(t.Context(), "east", transport.Op{Name: TokenName, Push: Request()}))
	require.Error(t, s.Apply(t.Context(), "east", transport.Op{Name: TokenName, Remove: transport.All}))
	_, err := east.Get(t.Context(), tokensGVR, Namespace, TokenName)
	require.True(t, apierrors.IsNotFound(err), "nothing pushed")
	require.NoError(t, s.Close(t.Context()))
	if b.HubObjects != nil {
		require.Equal(t, strings.Join(before, "\n"), strings.Join(b.HubObjects(t), "\n"), "nothing made on the hub")
	}
}
