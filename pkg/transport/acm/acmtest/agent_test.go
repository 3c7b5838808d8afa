package acmtest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/vanlink/vanlink/pkg/transport/acm"
)

const (
	cluster = "east"
	spokeNS = "skupper"
)

var (
	skupperLinks = schema.GroupVersionResource{Group: "skupper.io", Version: "v2alpha1", Resource: "links"}
	linkerdLinks = schema.GroupVersionResource{Group: "multicluster.linkerd.io", Version: "v1alpha3", Resource: "links"}
	secrets      = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	fooSecrets   = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "secrets"}
)

// fooGroup is a CRD group with a plural shared with core: discovery lists
// the core group first, so a bare `secrets` still means core v1.
var fooGroup = Group{Name: "example.com", Versions: []string{"v1"}, Resources: []metav1.APIResource{res("secrets", "secret", "FooSecret", true)}}

// newSpoke returns an in-memory spoke whose discovery also has Linkerd
// multicluster (sorting before skupper.io) and a foreign `secrets`.
func newSpoke(t *testing.T) *MemorySpoke {
	t.Helper()
	s := NewMemorySpoke(cluster)
	s.Mapper = StaticMapper(CoreGroup, fooGroup, LinkerdMulticlusterGroup, SkupperGroup)
	return s
}

type objMod func(*unstructured.Unstructured)

func withStatus(status map[string]any) objMod {
	return func(o *unstructured.Unstructured) { o.Object["status"] = status }
}

func put(t *testing.T, s *MemorySpoke, gvr schema.GroupVersionResource, kind, name string, mods ...objMod) {
	t.Helper()
	o := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.GroupVersion().String(), "kind": kind, "metadata": map[string]any{"name": name}}}
	for _, m := range mods {
		m(o)
	}
	_, err := s.Create(context.Background(), gvr, spokeNS, o)
	require.NoError(t, err, "storing %s %s on the spoke", gvr.Resource, name)
}

func has(s *MemorySpoke, gvr schema.GroupVersionResource, name string) bool {
	_, err := s.Get(context.Background(), gvr, spokeNS, name)
	return err == nil
}

// hub is a fake hub with the agent serving one in-memory spoke.
type hub struct {
	client *dynamicfake.FakeDynamicClient
	agent  *Agent
	spoke  *MemorySpoke
	ctx    context.Context
}

func newHub(t *testing.T, opts Options, spoke *MemorySpoke) *hub {
	t.Helper()
	client := NewFakeHub()
	if opts.Tick == 0 {
		opts.Tick = 10 * time.Millisecond
	}
	h := &hub{client: client, agent: New(client, opts), spoke: spoke}
	h.agent.AddSpoke(cluster, spoke)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h.ctx = ctx
	go func() { _ = h.agent.Run(ctx) }()
	return h
}

func (h *hub) create(t *testing.T, gvr schema.GroupVersionResource, o *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	out, err := h.client.Resource(gvr).Namespace(cluster).Create(h.ctx, o, metav1.CreateOptions{})
	require.NoError(t, err)
	return out
}

func (h *hub) get(t *testing.T, gvr schema.GroupVersionResource, name string) *unstructured.Unstructured {
	t.Helper()
	out, err := h.client.Resource(gvr).Namespace(cluster).Get(h.ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	return out
}

// processing returns a view's Processing condition, nil without one.
func processing(o *unstructured.Unstructured) *metav1.Condition {
	for _, c := range conditions(o) {
		if c.Type == acm.ConditionProcessing {
			return &c
		}
	}
	return nil
}

func completed(o *unstructured.Unstructured) *metav1.Condition {
	for _, c := range conditions(o) {
		if c.Type == acm.ConditionCompleted {
			return &c
		}
	}
	return nil
}
