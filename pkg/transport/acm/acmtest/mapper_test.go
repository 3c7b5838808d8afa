package acmtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	discoveryfake "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
)

func TestMappingForResolvesAsKubectl(t *testing.T) {
	mapper := StaticMapper(CoreGroup, fooGroup, LinkerdMulticlusterGroup, SkupperGroup)
	tests := map[string]struct {
		arg  string
		want schema.GroupVersionResource
	}{
		"a bare plural takes the first group discovery lists":     {"links", linkerdLinks},
		"a fully specified resource is exact":                     {"links.v2alpha1.skupper.io", skupperLinks},
		"resource.group takes the group's preferred version":      {"links.skupper.io", skupperLinks},
		"a bare secrets is core: discovery lists core first":      {"secrets", secrets},
		"secrets.v1. is core v1 exactly":                          {"secrets.v1.", secrets},
		"a foreign group's secrets needs its group":               {"secrets.v1.example.com", fooSecrets},
		"a kind argument resolves when no resource matches":       {"Link.v2alpha1.skupper.io", skupperLinks},
		"a plural only Skupper has resolves to Skupper":           {"accesstokens", schema.GroupVersionResource{Group: "skupper.io", Version: "v2alpha1", Resource: "accesstokens"}},
		"an older version of Linkerd's links is exact when asked": {"links.v1alpha1.multicluster.linkerd.io", schema.GroupVersionResource{Group: "multicluster.linkerd.io", Version: "v1alpha1", Resource: "links"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := mappingFor(mapper, tc.arg)
			require.NoError(t, err)
			require.Equal(t, tc.want, m.Resource, "resource %q", tc.arg)
		})
	}
	t.Run("an unknown resource is a mapping error", func(t *testing.T) {
		_, err := mappingFor(mapper, "nothings")
		require.ErrorContains(t, err, "fail to mapping GroupKind")
		require.True(t, meta.IsNoMatchError(err), "the NoMatch error stays in the chain: %v", err)
	})
}

func TestMemorySpokeMapperKnowsTheBenchKinds(t *testing.T) {
	m := NewMemorySpoke("x").RESTMapper()
	for _, r := range []string{"sites", "links", "accesstokens", "accessgrants", "listeners", "connectors"} {
		got, err := mappingFor(m, r)
		require.NoError(t, err, r)
		require.Equal(t, schema.GroupVersionResource{Group: "skupper.io", Version: "v2alpha1", Resource: r}, got.Resource)
	}
	for _, r := range []string{"secrets", "configmaps"} {
		got, err := mappingFor(m, r)
		require.NoError(t, err, r)
		require.Equal(t, schema.GroupVersionResource{Version: "v1", Resource: r}, got.Resource)
	}
	require.Same(t, NewMemorySpoke("y").RESTMapper().(any), m.(any), "one static mapper for every spoke")
}

// orderedDiscovery is a fake discovery that lists groups in the order of its
// Resources, as a real API server lists them in a fixed order (the fake's
// own ServerGroups goes through a map, so its order varies from run to run).
type orderedDiscovery struct{ *discoveryfake.FakeDiscovery }

func (d orderedDiscovery) ServerGroups() (*metav1.APIGroupList, error) {
	list := &metav1.APIGroupList{}
	seen := map[string]int{}
	for _, r := range d.Resources {
		gv, err := schema.ParseGroupVersion(r.GroupVersion)
		if err != nil {
			return nil, err
		}
		v := metav1.GroupVersionForDiscovery{GroupVersion: r.GroupVersion, Version: gv.Version}
		if i, ok := seen[gv.Group]; ok {
			list.Groups[i].Versions = append(list.Groups[i].Versions, v)
			continue
		}
		seen[gv.Group] = len(list.Groups)
		list.Groups = append(list.Groups, metav1.APIGroup{Name: gv.Group, Versions: []metav1.GroupVersionForDiscovery{v}, PreferredVersion: v})
	}
	return list, nil
}

func (d orderedDiscovery) ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	list, err := d.ServerGroups()
	if err != nil {
		return nil, nil, err
	}
	groups := make([]*metav1.APIGroup, len(list.Groups))
	for i := range list.Groups {
		groups[i] = &list.Groups[i]
	}
	return groups, d.Resources, nil
}

func (d orderedDiscovery) ServerGroupsWithContext(context.Context) (*metav1.APIGroupList, error) {
	return d.ServerGroups()
}

func (d orderedDiscovery) ServerGroupsAndResourcesWithContext(context.Context) ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	return d.ServerGroupsAndResources()
}

func TestDiscoveryMapperReloadsOnAMiss(t *testing.T) {
	fd := &discoveryfake.FakeDiscovery{Fake: &clienttesting.Fake{}, FakedServerVersion: &version.Info{}}
	d := orderedDiscovery{fd}
	fd.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: CoreGroup.Resources},
		{GroupVersion: "skupper.io/v2alpha1", APIResources: SkupperGroup.Resources},
	}
	m := DiscoveryMapper(d)
	got, err := mappingFor(m, "links")
	require.NoError(t, err)
	require.Equal(t, skupperLinks, got.Resource, "only Skupper has links yet")

	// Linkerd's CRD is installed later: a lookup that misses reloads.
	fd.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: CoreGroup.Resources},
		{GroupVersion: "multicluster.linkerd.io/v1alpha3", APIResources: LinkerdMulticlusterGroup.Resources},
		{GroupVersion: "skupper.io/v2alpha1", APIResources: SkupperGroup.Resources},
	}
	got, err = mappingFor(m, "links.v1alpha3.multicluster.linkerd.io")
	require.NoError(t, err, "a miss resets the cached discovery")
	require.Equal(t, linkerdLinks, got.Resource)
	got, err = mappingFor(m, "links")
	require.NoError(t, err)
	require.Equal(t, linkerdLinks, got.Resource, "after the reload a bare links is Linkerd's")
}

func TestCRDMapperListsCRDsInDiscoveryOrder(t *testing.T) {
	crd := func(group, plural, kind string, versions ...string) *unstructured.Unstructured {
		vs := []any{}
		for _, v := range versions {
			vs = append(vs, map[string]any{"name": v, "served": true, "storage": v == versions[0]})
		}
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
			"metadata": map[string]any{"name": plural + "." + group},
			"spec": map[string]any{"group": group, "scope": "Namespaced", "versions": vs,
				"names": map[string]any{"plural": plural, "singular": plural[:len(plural)-1], "kind": kind}},
		}}
	}
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{crdGVR: "CustomResourceDefinitionList"},
		crd("skupper.io", "links", "Link", "v2alpha1"))
	m := CRDMapper(client)
	got, err := mappingFor(m, "links")
	require.NoError(t, err)
	require.Equal(t, skupperLinks, got.Resource)

	_, err = client.Resource(crdGVR).Create(t.Context(), crd("multicluster.linkerd.io", "links", "Link", "v1alpha1", "v1alpha3"), metav1.CreateOptions{})
	require.NoError(t, err)
	got, err = mappingFor(m, "links.v1alpha3.multicluster.linkerd.io")
	require.NoError(t, err, "a miss relists the CRDs")
	require.Equal(t, linkerdLinks, got.Resource)
	got, err = mappingFor(m, "links")
	require.NoError(t, err)
	require.Equal(t, linkerdLinks, got.Resource, "multicluster.linkerd.io sorts before skupper.io; v1alpha3 is preferred")
	got, err = mappingFor(m, "secrets")
	require.NoError(t, err)
	require.Equal(t, secrets, got.Resource, "the core group is built in")
}
