package transporttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vanlink/vanlink/pkg/transport"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/watchlist"
)

// ErrProcessGone is what a CrashingHub answers to the writes of a session
// that crashed: a dead process sends none.
var ErrProcessGone = errors.New("the process is gone (a crash simulated by transporttest)")

// CrashingHub is the hub client a bed hands its transport, so the suite can
// crash a session mid-push: once armed by CrashAfterCode, the first write
// that carries the grant code goes through and every later write fails with
// ErrProcessGone, as if the process died right after sending the code (no
// cleanup reaches the hub), until Revive. Reads always go through. The
// agent (double or real) uses its own client and is not affected.
type CrashingHub struct {
	dynamic.Interface
	armed, crashed atomic.Bool
}

// NewCrashingHub wraps the transport's hub client.
func NewCrashingHub(hub dynamic.Interface) *CrashingHub { return &CrashingHub{Interface: hub} }

// CrashAfterCode arms the crash.
func (h *CrashingHub) CrashAfterCode() { h.armed.Store(true) }

// Crashed reports whether a write carrying the code went through since the
// crash was armed (the writes after it fail).
func (h *CrashingHub) Crashed() bool { return h.crashed.Load() }

// Revive lets writes through again: a new process starts.
func (h *CrashingHub) Revive() {
	h.armed.Store(false)
	h.crashed.Store(false)
}

// write decides on a write: ErrProcessGone after the crash; body is what the
// write sends, to find the code in.
func (h *CrashingHub) write(body func() []byte) error {
	if h.crashed.Load() {
		return ErrProcessGone
	}
	if h.armed.Load() && bytes.Contains(body(), []byte(Code)) {
		h.crashed.Store(true)
	}
	return nil
}

// IsWatchListSemanticsUnSupported passes on what the wrapped client says
// of streaming lists (client-go's watchlist.DoesClientNotSupportWatchListSemantics:
// informers over a fake client that cannot stream would wait for ever).
func (h *CrashingHub) IsWatchListSemanticsUnSupported() bool {
	return watchlist.DoesClientNotSupportWatchListSemantics(h.Interface)
}

func (h *CrashingHub) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	return crashingResource{ResourceInterface: h.Interface.Resource(gvr), hub: h, ns: h.Interface.Resource(gvr)}
}

type crashingResource struct {
	dynamic.ResourceInterface
	ns  dynamic.NamespaceableResourceInterface
	hub *CrashingHub
}

func (r crashingResource) Namespace(ns string) dynamic.ResourceInterface {
	return crashingResource{ResourceInterface: r.ns.Namespace(ns), ns: r.ns, hub: r.hub}
}

func marshal(o *unstructured.Unstructured) func() []byte {
	return func() []byte { b, _ := json.Marshal(o.Object); return b }
}

func none() []byte { return nil }

func (r crashingResource) Create(ctx context.Context, o *unstructured.Unstructured, opts metav1.CreateOptions, sub ...string) (*unstructured.Unstructured, error) {
	if err := r.hub.write(marshal(o)); err != nil {
		return nil, err
	}
	return r.ResourceInterface.Create(ctx, o, opts, sub...)
}

func (r crashingResource) Update(ctx context.Context, o *unstructured.Unstructured, opts metav1.UpdateOptions, sub ...string) (*unstructured.Unstructured, error) {
	if err := r.hub.write(marshal(o)); err != nil {
		return nil, err
	}
	return r.ResourceInterface.Update(ctx, o, opts, sub...)
}

func (r crashingResource) UpdateStatus(ctx context.Context, o *unstructured.Unstructured, opts metav1.UpdateOptions) (*unstructured.Unstructured, error) {
	if err := r.hub.write(marshal(o)); err != nil {
		return nil, err
	}
	return r.ResourceInterface.UpdateStatus(ctx, o, opts)
}

func (r crashingResource) Delete(ctx context.Context, name string, opts metav1.DeleteOptions, sub ...string) error {
	if err := r.hub.write(none); err != nil {
		return err
	}
	return r.ResourceInterface.Delete(ctx, name, opts, sub...)
}

func (r crashingResource) DeleteCollection(ctx context.Context, opts metav1.DeleteOptions, list metav1.ListOptions) error {
	if err := r.hub.write(none); err != nil {
		return err
	}
	return r.ResourceInterface.DeleteCollection(ctx, opts, list)
}

func (r crashingResource) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, sub ...string) (*unstructured.Unstructured, error) {
	if err := r.hub.write(func() []byte { return data }); err != nil {
		return nil, err
	}
	return r.ResourceInterface.Patch(ctx, name, pt, data, opts, sub...)
}

func (r crashingResource) Apply(ctx context.Context, name string, o *unstructured.Unstructured, opts metav1.ApplyOptions, sub ...string) (*unstructured.Unstructured, error) {
	if err := r.hub.write(marshal(o)); err != nil {
		return nil, err
	}
	return r.ResourceInterface.Apply(ctx, name, o, opts, sub...)
}

func (r crashingResource) ApplyStatus(ctx context.Context, name string, o *unstructured.Unstructured, opts metav1.ApplyOptions) (*unstructured.Unstructured, error) {
	if err := r.hub.write(marshal(o)); err != nil {
		return nil, err
	}
	return r.ResourceInterface.ApplyStatus(ctx, name, o, opts)
}

// crashedPush: a session that dies right after it sent the code (no
// cleanup reaches the hub) leaves it on the hub; the next session's Open
// takes it out before it does anything else.
func crashedPush(t *testing.T, b *Bed) {
	if b.Hub == nil {
		require.Nil(t, b.HubObjects, "a bed whose transport keeps hub objects can crash a session")
		t.Skip("the transport keeps nothing on the hub: a crash cannot leave the code there")
	}
	create(t, b.Spokes["east"], sitesGVR, site("east"))
	s := open(t, b, transport.SessionOptions{})
	observe(t, s, q("east"))
	b.Hub.CrashAfterCode()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	err := s.Apply(ctx, "east", transport.Op{Name: TokenName, Push: Request()})
	cancel()
	require.True(t, b.Hub.Crashed(), "the push carried the code to the hub (Apply: %v)", err)
	// The dead session's watches end with the process; its writes (any
	// cleanup Close would do) never reach the hub.
	ctx, cancel = context.WithTimeout(t.Context(), 5*time.Second)
	_ = s.Close(ctx)
	cancel()
	require.Contains(t, strings.Join(b.HubObjects(t), "\n"), Code, "the crashed session left the code on the hub")

	b.Hub.Revive()
	next := open(t, b, transport.SessionOptions{})
	for _, o := range b.HubObjects(t) {
		require.NotContains(t, o, Code, "the next session's Open took the code out")
	}
	closeClean(t, b, next)
}
