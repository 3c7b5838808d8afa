package acmtest

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
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
