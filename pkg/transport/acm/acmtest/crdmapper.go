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
	"k8s.io/client-go/dynamic"
)

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
