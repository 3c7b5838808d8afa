//go:build integration

package acmtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/pkg/transport/acm"
)

func apiPut(t *testing.T, c *framework.Cluster, gvr schema.GroupVersionResource, kind, name string) {
	t.Helper()
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": gvr.GroupVersion().String(), "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": spokeNS}}}
	_, err := c.Dynamic().Resource(gvr).Namespace(spokeNS).Create(t.Context(), o, metav1.CreateOptions{})
	require.NoError(t, err, "creating %s %s", gvr, name)
}

// TestAPISpokeResolvesThroughDiscovery runs on a real spoke API server: a
// CRD installed after the mapper first looked is found, and a bare `links`
// then reads Linkerd's Link, in views and in Delete actions, with either
// source of discovery.
func TestAPISpokeResolvesThroughDiscovery(t *testing.T) {
	env := framework.StartT(t, framework.Options{Spokes: []string{cluster}})
	spoke := env.Cluster(cluster)
	_, err := spoke.Kube().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: spokeNS}}, metav1.CreateOptions{})
	require.NoError(t, err)
	apiPut(t, spoke, skupperLinks, "Link", "hub-link")
	apiPut(t, spoke, secrets, "Secret", "hub-link")

	withDiscovery, err := NewAPISpoke(spoke.Config)
	require.NoError(t, err)
	spokes := map[string]servedSpoke{
		"discovery":   {Spoke: withDiscovery, mapper: withDiscovery.RESTMapper()},
		"CRDs listed": {Spoke: APISpoke{Client: spoke.Dynamic()}, mapper: APISpoke{Client: spoke.Dynamic()}.RESTMapper()},
	}
	view := func(s servedSpoke, scope map[string]any) (metav1.Condition, map[string]any) {
		full := map[string]any{"name": "hub-link", "namespace": spokeNS}
		for k, v := range scope {
			full[k] = v
		}
		return queryResource(t.Context(), s, full)
	}
	for name, s := range spokes {
		_, result := view(s, map[string]any{"resource": "links"})
		require.Equal(t, "skupper.io/v2alpha1", result["apiVersion"], "%s: only Skupper has links yet", name)
	}

	require.NoError(t, framework.InstallCRDs(t.Context(), spoke.Config, []*apiextensionsv1.CustomResourceDefinition{framework.SchemalessCRD(schema.GroupVersionResource{Group: "multicluster.linkerd.io", Version: "v1alpha3", Resource: "links"}, "Link")}))
	apiPut(t, spoke, linkerdLinks, "Link", "hub-link")

	for name, s := range spokes {
		t.Run(name, func(t *testing.T) {
			// The cached discovery still has Skupper's links: a fully
			// specified miss reloads it, as the agent's mapper does.
			_, result := view(s, map[string]any{"resource": "links.v1alpha3.multicluster.linkerd.io"})
			require.Equal(t, "multicluster.linkerd.io/v1alpha3", result["apiVersion"], "the new CRD is found")

			_, result = view(s, map[string]any{"resource": "links", "apiGroup": "skupper.io", "kind": "Link", "version": "v2alpha1"})
			require.Equal(t, "multicluster.linkerd.io/v1alpha3", result["apiVersion"], "a bare links reads Linkerd's Link, apiGroup ignored")
			_, result = view(s, map[string]any{"resource": "links.v2alpha1.skupper.io"})
			require.Equal(t, "skupper.io/v2alpha1", result["apiVersion"])
			_, result = view(s, map[string]any{"apiGroup": "skupper.io", "kind": "Link", "version": "v2alpha1"})
			require.Equal(t, "skupper.io/v2alpha1", result["apiVersion"])

			c, result := view(s, map[string]any{"resource": "secrets"})
			require.Nil(t, result)
			require.Equal(t, "viewing secrets is not allowed", c.Message)

			m, err := mappingFor(s.mapper, "secrets")
			require.NoError(t, err)
			require.Equal(t, secrets, m.Resource, "discovery lists the core group first")
		})
	}
}

// TestAgentOnAPIServers runs the agent between a real hub and spoke: a view
// of a bare `links` reads Linkerd's Link, a Delete of a bare `links` deletes
// it and leaves Skupper's.
func TestAgentOnAPIServers(t *testing.T) {
	env := framework.StartT(t, framework.Options{Spokes: []string{cluster}})
	spoke := env.Cluster(cluster)
	require.NoError(t, framework.InstallCRDs(t.Context(), spoke.Config, []*apiextensionsv1.CustomResourceDefinition{framework.SchemalessCRD(schema.GroupVersionResource{Group: "multicluster.linkerd.io", Version: "v1alpha3", Resource: "links"}, "Link")}))
	for _, ns := range []struct {
		c    *framework.Cluster
		name string
	}{{spoke, spokeNS}, {env.Hub, cluster}} {
		_, err := ns.c.Kube().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.name}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	apiPut(t, spoke, skupperLinks, "Link", "hub-link")
	apiPut(t, spoke, linkerdLinks, "Link", "hub-link")

	hubClient := env.Hub.Dynamic()
	agent := New(hubClient, Options{Tick: 20 * time.Millisecond})
	s, err := NewAPISpoke(spoke.Config)
	require.NoError(t, err)
	agent.AddSpoke(cluster, s)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	go func() { _ = agent.Run(ctx) }()

	_, err = hubClient.Resource(acm.ViewsGVR).Namespace(cluster).Create(ctx, newViewObject("link", map[string]any{
		"apiGroup": "skupper.io", "kind": "Link", "version": "v2alpha1", "resource": "links", "name": "hub-link", "namespace": spokeNS}, nil), metav1.CreateOptions{})
	require.NoError(t, err)
	var v *unstructured.Unstructured
	require.Eventually(t, func() bool {
		v, err = hubClient.Resource(acm.ViewsGVR).Namespace(cluster).Get(ctx, "link", metav1.GetOptions{})
		return err == nil && processing(v) != nil
	}, 10*time.Second, 20*time.Millisecond)
	apiVersion, _, _ := unstructured.NestedString(v.Object, "status", "result", "apiVersion")
	require.Equal(t, "multicluster.linkerd.io/v1alpha3", apiVersion, "the view reads Linkerd's Link")
	require.Equal(t, "GetResourceProcessing", processing(v).Reason)

	a, err := hubClient.Resource(acm.ActionsGVR).Namespace(cluster).Create(ctx, newActionObject("Delete", map[string]any{
		"resource": "links", "name": "hub-link", "namespace": spokeNS}), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		got, err := hubClient.Resource(acm.ActionsGVR).Namespace(cluster).Get(ctx, a.GetName(), metav1.GetOptions{})
		return err == nil && completed(got) != nil
	}, 10*time.Second, 20*time.Millisecond)
	_, err = spoke.Dynamic().Resource(skupperLinks).Namespace(spokeNS).Get(ctx, "hub-link", metav1.GetOptions{})
	require.NoError(t, err, "Skupper's Link is left")
	_, err = spoke.Dynamic().Resource(linkerdLinks).Namespace(spokeNS).Get(ctx, "hub-link", metav1.GetOptions{})
	require.Error(t, err, "Linkerd's Link is deleted")
}
