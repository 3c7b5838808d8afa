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

func spoke(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		skupper.SitesGVR: "SiteList", skupper.LinksGVR: "LinkList", skupper.AccessTokensGVR: "AccessTokenList", skupper.SecretsGVR: "SecretList",
	}, objs...)
}

func TestDirectTransport(t *testing.T) {
	east := spoke(obj("Site", "east", nil), obj("Link", "hub-link", map[string]any{"status": "Ready"}))
	west := spoke(obj("Site", "west", nil), obj("Secret", "hub-link", nil), obj("AccessToken", "hub-link", map[string]any{"status": "Error", "message": "No such claim"}))
	tr := newTransport(t, map[string]*dynamicfake.FakeDynamicClient{"east": east, "west": west})
	ctx := t.Context()
	require.NoError(t, tr.Prepare(ctx))

	known, err := tr.Known(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"east", "west"}, known)

	obs, err := transport.ObserveAll(ctx, tr, []string{"east", "west"})
	require.NoError(t, err)
	require.True(t, obs["east"].Link.Object.Ready())
	require.Equal(t, transport.Present, obs["west"].Site.State)
	require.Equal(t, transport.Absent, obs["west"].Link.State)

	tok, err := tr.ObserveToken(ctx, "west")
	require.NoError(t, err)
	require.True(t, tok.Object.Failed())

	require.NoError(t, tr.Remove(ctx, "west", "hub-link", transport.All), "absent objects count as removed")
	for _, gvr := range []schema.GroupVersionResource{skupper.AccessTokensGVR, skupper.SecretsGVR} {
		_, err := west.Resource(gvr).Namespace(ns).Get(ctx, "hub-link", metav1.GetOptions{})
		require.Error(t, err, "%s removed", gvr.Resource)
	}
	require.NoError(t, tr.Push(ctx, "west", obj("AccessToken", "hub-link", nil)))
	require.ErrorIs(t, tr.Push(ctx, "west", obj("AccessToken", "hub-link", nil)), transport.ErrAlreadyExists)

	west.PrependReactor("create", "accesstokens", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New(`admission webhook "validate.skupper.io" denied the request`)
	})
	require.NoError(t, tr.Remove(ctx, "west", "hub-link", transport.RemoveOptions{Token: true}))
	var se *transport.SpokeError
	require.ErrorAs(t, tr.Push(ctx, "west", obj("AccessToken", "hub-link", nil)), &se)
	require.Contains(t, se.Message, "denied")

	_, err = tr.ObserveToken(context.Background(), "nowhere")
	require.NoError(t, err)
	require.NoError(t, tr.Forget(ctx, "east"))
}

func TestUnknownSpokeIsReportedNotPanicked(t *testing.T) {
	tr := newTransport(t, map[string]*dynamicfake.FakeDynamicClient{})
	obs, err := transport.ObserveAll(t.Context(), tr, []string{"ghost"})
	require.NoError(t, err)
	require.Equal(t, transport.Unknown, obs["ghost"].Site.State)
	require.Contains(t, obs["ghost"].Site.Reason, "no credentials Secret")
}
