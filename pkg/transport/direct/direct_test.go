package direct

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/spokecreds"
	"github.com/vanlink/vanlink/pkg/transport"
	"github.com/vanlink/vanlink/pkg/transport/transporttest"
)

const ns = "service-interconnect"

func obj(kind, name string, status map[string]any) *unstructured.Unstructured {
	apiVersion := "skupper.io/v2alpha1"
	if kind == "Secret" {
		apiVersion = "v1"
	}
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name, "namespace": ns}}}
	if status != nil {
		o.Object["status"] = status
	}
	return o
}

// newTransport serves each spoke from its own fake dynamic client.
func newTransport(t *testing.T, spokes map[string]*dynamicfake.FakeDynamicClient) *Transport {
	cs := fake.NewClientset()
	for name := range spokes {
		s, err := spokecreds.ArgoSecret("argocd", name, "https://"+name+":6443", &rest.Config{BearerToken: "t"}, map[string]string{"vanlink.io/interconnect": "spoke"})
		require.NoError(t, err)
		_, err = cs.CoreV1().Secrets("argocd").Create(t.Context(), s, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	return New(Options{Secrets: cs.CoreV1().Secrets("argocd"), Selector: "vanlink.io/interconnect=spoke", TokenName: "hub-link", SpokeNamespace: ns,
		NewClient: func(c *rest.Config) (dynamic.Interface, error) {
			for name, f := range spokes {
				if c.Host == "https://"+name+":6443" {
					return f, nil
				}
			}
			return nil, errors.New("unknown spoke")
		}})
}

// open opens a session of a transport over the spokes.
func open(t *testing.T, spokes map[string]*dynamicfake.FakeDynamicClient) transport.Session {
	t.Helper()
	s, err := newTransport(t, spokes).Open(t.Context(), transport.SessionOptions{})
	require.NoError(t, err)
	return s
}

func spoke(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		skupper.SitesGVR: "SiteList", skupper.LinksGVR: "LinkList", skupper.AccessTokensGVR: "AccessTokenList", skupper.SecretsGVR: "SecretList",
		skupper.ConfigMapsGVR: "ConfigMapList",
	}, objs...)
}

func TestDirectTransport(t *testing.T) {
	east := spoke(obj("Site", "east", nil), obj("Link", "hub-link", map[string]any{"status": "Ready"}))
	west := spoke(obj("Site", "west", nil), obj("Secret", "hub-link", nil), obj("AccessToken", "hub-link", map[string]any{"status": "Error", "message": "No such claim"}))
	tr := open(t, map[string]*dynamicfake.FakeDynamicClient{"east": east, "west": west})
	ctx := t.Context()

	known, err := tr.(transport.Pruner).Known(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"east", "west"}, known)

	obs, err := transport.ObserveAll(ctx, tr, transport.Query{Spokes: []string{"east", "west"}})
	require.NoError(t, err)
	require.True(t, obs["east"].Links.Object.Ready())
	require.Equal(t, transport.Absent, obs["east"].Credentials, "east's Link has no Secret")
	require.True(t, obs["east"].Fresh, "direct reads are fresh")
	require.Equal(t, transport.Present, obs["west"].Site.State)
	require.Equal(t, transport.Absent, obs["west"].Links.State)

	require.Nil(t, obs["east"].Token, "a linked spoke's token is not read")
	require.True(t, obs["west"].Token.Object.Failed(), "a spoke not linked comes with its token")

	require.NoError(t, tr.Apply(ctx, "west", transport.Op{Name: "hub-link", Remove: transport.All}), "absent objects count as removed")
	for _, gvr := range []schema.GroupVersionResource{skupper.AccessTokensGVR, skupper.SecretsGVR} {
		_, err := west.Resource(gvr).Namespace(ns).Get(ctx, "hub-link", metav1.GetOptions{})
		require.Error(t, err, "%s removed", gvr.Resource)
	}
	require.NoError(t, tr.Apply(ctx, "west", transport.Op{Name: "hub-link", Push: transporttest.Request()}))
	require.ErrorIs(t, tr.Apply(ctx, "west", transport.Op{Name: "hub-link", Push: transporttest.Request()}), transport.ErrAlreadyExists)

	west.PrependReactor("create", "accesstokens", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New(`admission webhook "validate.skupper.io" denied the request`)
	})
	require.NoError(t, tr.Apply(ctx, "west", transport.Op{Name: "hub-link", Remove: transport.RemoveOptions{Token: true}}))
	var se *transport.SpokeError
	require.ErrorAs(t, tr.Apply(ctx, "west", transport.Op{Name: "hub-link", Push: transporttest.Request()}), &se)
	require.Contains(t, se.Message, "denied")

	obs, err = transport.ObserveAll(context.Background(), tr, transport.Query{Spokes: []string{"nowhere"}})
	require.NoError(t, err)
	require.Equal(t, transport.Unknown, obs["nowhere"].Site.State)
	require.NoError(t, tr.(transport.Pruner).Forget(ctx, "east"))
	require.NoError(t, tr.Close(ctx))
}

func TestUnknownSpokeIsReportedNotPanicked(t *testing.T) {
	tr := open(t, map[string]*dynamicfake.FakeDynamicClient{})
	obs, err := transport.ObserveAll(t.Context(), tr, transport.Query{Spokes: []string{"ghost"}})
	require.NoError(t, err)
	require.Equal(t, transport.Unknown, obs["ghost"].Site.State)
	require.Contains(t, obs["ghost"].Site.Reason, "no credentials Secret")
}

func link(name, credentials, status string) *unstructured.Unstructured {
	l := obj("Link", name, map[string]any{"status": status})
	if credentials != "" {
		l.Object["spec"] = map[string]any{"tlsCredentials": credentials}
	}
	return l
}

func TestTheTokensLinksAreEveryLinkUsingItsCredentials(t *testing.T) {
	east := spoke(obj("Site", "east", nil), obj("Secret", "hub-link", nil),
		link("hub-link-1", "hub-link", "Ready"), link("hub-link-2", "hub-link", "Ready"), link("other", "other", "Error"))
	tr := open(t, map[string]*dynamicfake.FakeDynamicClient{"east": east})
	obs, err := transport.ObserveAll(t.Context(), tr, transport.Query{Spokes: []string{"east"}})
	require.NoError(t, err)
	require.Equal(t, []string{"hub-link-1", "hub-link-2"}, obs["east"].Links.Object.Names(), "an HA hub's two Links, not a Link of another token")
	require.True(t, obs["east"].Links.Object.Ready())
	require.Equal(t, transport.Present, obs["east"].Credentials)

	require.NoError(t, tr.Apply(t.Context(), "east", transport.Op{Name: "hub-link", Remove: transport.RemoveOptions{Link: true}}))
	l, err := east.Resource(skupper.LinksGVR).Namespace(ns).List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, l.Items, 1, "every Link of the token is removed")
	require.Equal(t, "other", l.Items[0].GetName(), "the others stay")
}

func TestASpokesSiteIsFoundWhateverItsName(t *testing.T) {
	site := obj("Site", "edge-1", map[string]any{"status": "Ready"})
	site.SetUID("uid-edge-1")
	older := obj("Site", "abandoned", nil)
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{
		"name": "skupper-router", "namespace": ns,
		"ownerReferences": []any{map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": "Site", "name": "edge-1", "uid": "uid-edge-1"}}}}}
	tests := map[string]struct {
		objs     []runtime.Object
		wantName string
	}{
		"one Site, not named after the cluster":         {objs: []runtime.Object{site}, wantName: "edge-1"},
		"two Sites: the active one owns skupper-router": {objs: []runtime.Object{older, site, cm}, wantName: "edge-1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tr := open(t, map[string]*dynamicfake.FakeDynamicClient{"east": spoke(tc.objs...)})
			obs, err := transport.ObserveAll(t.Context(), tr, transport.Query{Spokes: []string{"east"}})
			require.NoError(t, err)
			require.Equal(t, transport.Present, obs["east"].Site.State)
			require.Equal(t, tc.wantName, obs["east"].Site.Object.Name)
		})
	}
}
