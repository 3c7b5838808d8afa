package acmtest

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// The agent resolves every resource it is given through a RESTMapper of the
// spoke, built over the spoke's discovery and reloaded when a lookup misses
// (so a CRD installed later is found).
// upstream: stolostron/multicloud-operators-foundation cmd/agent/agent.go
// (rest.NewReloadMapper(restmapper.NewDeferredDiscoveryRESTMapper(
// cacheddiscovery.NewMemCacheClient(discoveryClient)))) and
// pkg/utils/rest/reloadmapper.go ReloadMapper.

// resettableMapper is a RESTMapper whose cached discovery can be dropped.
type resettableMapper interface {
	meta.RESTMapper
	Reset()
}

// reloadMapper retries a lookup once after a reset when it found no match.
// upstream: stolostron/multicloud-operators-foundation pkg/utils/rest/reloadmapper.go
// ReloadMapper (KindFor, RESTMapping, ...: on meta.IsNoMatchError, Reset and
// retry; ResourcesFor retries on any error).
type reloadMapper struct{ m resettableMapper }

var _ meta.RESTMapper = reloadMapper{}

func newReloadMapper(m resettableMapper) meta.RESTMapper { return reloadMapper{m: m} }

func (r reloadMapper) KindFor(res schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	gvk, err := r.m.KindFor(res)
	if meta.IsNoMatchError(err) {
		r.m.Reset()
		return r.m.KindFor(res)
	}
	return gvk, err
}

func (r reloadMapper) KindsFor(res schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	gvks, err := r.m.KindsFor(res)
	if meta.IsNoMatchError(err) {
		r.m.Reset()
		return r.m.KindsFor(res)
	}
	return gvks, err
}

func (r reloadMapper) ResourceFor(in schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	gvr, err := r.m.ResourceFor(in)
	if meta.IsNoMatchError(err) {
		r.m.Reset()
		return r.m.ResourceFor(in)
	}
	return gvr, err
}

func (r reloadMapper) ResourcesFor(in schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	gvrs, err := r.m.ResourcesFor(in)
	if err != nil {
		r.m.Reset()
		return r.m.ResourcesFor(in)
	}
	return gvrs, err
}

func (r reloadMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	m, err := r.m.RESTMapping(gk, versions...)
	if meta.IsNoMatchError(err) {
		r.m.Reset()
		return r.m.RESTMapping(gk, versions...)
	}
	return m, err
}

func (r reloadMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	ms, err := r.m.RESTMappings(gk, versions...)
	if meta.IsNoMatchError(err) {
		r.m.Reset()
		return r.m.RESTMappings(gk, versions...)
	}
	return ms, err
}

func (r reloadMapper) ResourceSingularizer(res string) (string, error) {
	s, err := r.m.ResourceSingularizer(res)
	if meta.IsNoMatchError(err) {
		r.m.Reset()
		return r.m.ResourceSingularizer(res)
	}
	return s, err
}

// DiscoveryMapper is the agent's mapper over a spoke's discovery: client-go's
// deferred discovery mapper on a memory-cached discovery client, reset and
// retried on a miss.
// upstream: stolostron/multicloud-operators-foundation cmd/agent/agent.go and
// pkg/utils/rest/reloadmapper.go NewReloadMapper.
func DiscoveryMapper(d discovery.DiscoveryInterface) meta.RESTMapper {
	return newReloadMapper(restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(d)))
}

// mappingFor resolves a resource argument as kubectl does: the fully
// specified <plural>.<version>.<group> first, then the group-resource with
// any version (for a bare plural the first group discovery lists that has
// it), then the argument read as a kind.
// upstream: stolostron/multicloud-operators-foundation pkg/utils/rest/kubecontrol.go
// MappingFor (a copy of kubernetes/cli-runtime pkg/resource/builder.go mappingFor).
func mappingFor(mapper meta.RESTMapper, arg string) (*meta.RESTMapping, error) {
	fullySpecifiedGVR, groupResource := schema.ParseResourceArg(arg)
	gvk := schema.GroupVersionKind{}
	if fullySpecifiedGVR != nil {
		gvk, _ = mapper.KindFor(*fullySpecifiedGVR)
	}
	if gvk.Empty() {
		gvk, _ = mapper.KindFor(groupResource.WithVersion(""))
	}
	if !gvk.Empty() {
		return mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	fullySpecifiedGVK, groupKind := schema.ParseKindArg(arg)
	if fullySpecifiedGVK == nil {
		gvk = groupKind.WithVersion("")
		fullySpecifiedGVK = &gvk
	}
	if !fullySpecifiedGVK.Empty() {
		if m, err := mapper.RESTMapping(fullySpecifiedGVK.GroupKind(), fullySpecifiedGVK.Version); err == nil {
			return m, nil
		}
	}
	m, err := mapper.RESTMapping(groupKind, gvk.Version)
	if err != nil {
		// The upstream message, with %w so the NoMatch error stays visible.
		return nil, fmt.Errorf("fail to mapping GroupKind %v, GroupKindVersion %v, resource:%s err: %w", groupKind, gvk.Version, arg, err)
	}
	return m, nil
}

// Group is one API group a static mapper knows, in discovery order: its
// versions (preferred first) and, per version, its resources.
type Group struct {
	Name     string
	Versions []string
	// Resources are the resources of every version.
	Resources []metav1.APIResource
}

// StaticMapper returns a discovery mapper over fixed groups, listed in the
// order discovery would list them (the first group that has a bare plural
// wins, as in upstream's discovery mapper).
func StaticMapper(groups ...Group) meta.RESTMapper {
	return restmapper.NewDiscoveryRESTMapper(apiGroupResources(groups))
}

func apiGroupResources(groups []Group) []*restmapper.APIGroupResources {
	out := make([]*restmapper.APIGroupResources, 0, len(groups))
	for _, g := range groups {
		agr := &restmapper.APIGroupResources{
			Group:              metav1.APIGroup{Name: g.Name},
			VersionedResources: map[string][]metav1.APIResource{},
		}
		for _, v := range g.Versions {
			gv := metav1.GroupVersionForDiscovery{GroupVersion: schema.GroupVersion{Group: g.Name, Version: v}.String(), Version: v}
			agr.Group.Versions = append(agr.Group.Versions, gv)
			agr.VersionedResources[v] = g.Resources
		}
		if len(agr.Group.Versions) > 0 {
			agr.Group.PreferredVersion = agr.Group.Versions[0]
		}
		out = append(out, agr)
	}
	return out
}

func res(plural, singular, kind string, namespaced bool) metav1.APIResource {
	return metav1.APIResource{Name: plural, SingularName: singular, Kind: kind, Namespaced: namespaced,
		Verbs: metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}}
}

// CoreGroup is the core v1 group with the kinds the tests touch.
var CoreGroup = Group{Name: "", Versions: []string{"v1"}, Resources: []metav1.APIResource{
	res("configmaps", "configmap", "ConfigMap", true),
	res("namespaces", "namespace", "Namespace", false),
	res("secrets", "secret", "Secret", true),
	res("serviceaccounts", "serviceaccount", "ServiceAccount", true),
	res("services", "service", "Service", true),
}}

// SkupperGroup is skupper.io/v2alpha1 with the kinds the bench and vanlink use.
var SkupperGroup = Group{Name: "skupper.io", Versions: []string{"v2alpha1"}, Resources: []metav1.APIResource{
	res("accessgrants", "accessgrant", "AccessGrant", true),
	res("accesstokens", "accesstoken", "AccessToken", true),
	res("connectors", "connector", "Connector", true),
	res("links", "link", "Link", true),
	res("listeners", "listener", "Listener", true),
	res("sites", "site", "Site", true),
}}

// LinkerdMulticlusterGroup is Linkerd multicluster's group: its Link shares
// Skupper's plural `links`, and its group sorts before skupper.io.
var LinkerdMulticlusterGroup = Group{Name: "multicluster.linkerd.io", Versions: []string{"v1alpha3", "v1alpha2", "v1alpha1"}, Resources: []metav1.APIResource{
	res("links", "link", "Link", true),
}}

// memoryMapper is the static mapper of every MemorySpoke (built once: the
// bench runs a thousand spokes).
var memoryMapper = sync.OnceValue(func() meta.RESTMapper { return StaticMapper(CoreGroup, SkupperGroup) })

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// crdMapper stands in for discovery when an APISpoke has only a dynamic
// client: the built-in groups the tests touch, then one group per CRD group
// served by the spoke, in the order the aggregated discovery lists them (CRD
// groups share one priority and sort by name; versions by Kubernetes version
// priority). It is rebuilt on Reset, like a cached discovery client.
type crdMapper struct {
	client dynamic.Interface

	mu       sync.Mutex
	delegate meta.RESTMapper
}

var _ resettableMapper = (*crdMapper)(nil)

// CRDMapper returns a reloading mapper over the built-in core group and the
// CRDs the spoke's API server holds, listed through its dynamic client.
func CRDMapper(client dynamic.Interface) meta.RESTMapper {
	return newReloadMapper(&crdMapper{client: client})
}

func (c *crdMapper) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.delegate = nil
}

func (c *crdMapper) get() (meta.RESTMapper, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.delegate != nil {
		return c.delegate, nil
	}
	groups, err := crdGroups(context.Background(), c.client)
	if err != nil {
		return nil, err
	}
	c.delegate = StaticMapper(append([]Group{CoreGroup}, groups...)...)
	return c.delegate, nil
}

// crdGroups lists the served CRDs as discovery groups.
func crdGroups(ctx context.Context, client dynamic.Interface) ([]Group, error) {
	list, err := client.Resource(crdGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing CRDs for discovery: %w", err)
	}
	byName := map[string]*Group{}
	for _, crd := range list.Items {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
		singular, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "singular")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(crd.Object, "spec", "scope")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		if group == "" || plural == "" || kind == "" {
			continue
		}
		g := byName[group]
		if g == nil {
			g = &Group{Name: group}
			byName[group] = g
		}
		for _, v := range versions {
			vm, ok := v.(map[string]any)
			if !ok {
				continue
			}
			name, _, _ := unstructured.NestedString(vm, "name")
			served, _, _ := unstructured.NestedBool(vm, "served")
			if name == "" || !served {
				continue
			}
			if !contains(g.Versions, name) {
				g.Versions = append(g.Versions, name)
			}
		}
		g.Resources = append(g.Resources, res(plural, singular, kind, scope != "Cluster"))
	}
	out := make([]Group, 0, len(byName))
	for _, g := range byName {
		sort.Slice(g.Versions, func(i, j int) bool {
			return version.CompareKubeAwareVersionStrings(g.Versions[i], g.Versions[j]) > 0
		})
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (c *crdMapper) KindFor(r schema.GroupVersionResource) (schema.GroupVersionKind, error) {
	m, err := c.get()
	if err != nil {
		return schema.GroupVersionKind{}, err
	}
	return m.KindFor(r)
}

func (c *crdMapper) KindsFor(r schema.GroupVersionResource) ([]schema.GroupVersionKind, error) {
	m, err := c.get()
	if err != nil {
		return nil, err
	}
	return m.KindsFor(r)
}

func (c *crdMapper) ResourceFor(r schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	m, err := c.get()
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	return m.ResourceFor(r)
}

func (c *crdMapper) ResourcesFor(r schema.GroupVersionResource) ([]schema.GroupVersionResource, error) {
	m, err := c.get()
	if err != nil {
		return nil, err
	}
	return m.ResourcesFor(r)
}

func (c *crdMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	m, err := c.get()
	if err != nil {
		return nil, err
	}
	return m.RESTMapping(gk, versions...)
}

func (c *crdMapper) RESTMappings(gk schema.GroupKind, versions ...string) ([]*meta.RESTMapping, error) {
	m, err := c.get()
	if err != nil {
		return nil, err
	}
	return m.RESTMappings(gk, versions...)
}

func (c *crdMapper) ResourceSingularizer(r string) (string, error) {
	m, err := c.get()
	if err != nil {
		return "", err
	}
	return m.ResourceSingularizer(r)
}
