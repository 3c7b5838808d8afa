package skupper

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	api "github.com/vanlink/vanlink/pkg/skupper"
)

// newCluster is a fake dynamic client that behaves like an API server where
// the double depends on it: uids, resourceVersions with optimistic
// concurrency (a stale resourceVersion is a Conflict), generations, and a
// status subresource for Skupper kinds (Update keeps the status, UpdateStatus
// keeps everything else).
func newCluster(t *testing.T) *fake.FakeDynamicClient {
	t.Helper()
	c := fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		api.SitesGVR: "SiteList", api.AccessGrantsGVR: "AccessGrantList", api.AccessTokensGVR: "AccessTokenList",
		api.LinksGVR: "LinkList", api.SecretsGVR: "SecretList", configMapsGVR: "ConfigMapList",
	})
	var rv atomic.Int64
	var mu sync.Mutex // one write at a time, as etcd
	next := func() string { return fmt.Sprint(rv.Add(1)) }
	tracker := c.Tracker()
	c.PrependReactor("create", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		ca := action.(k8stesting.CreateAction)
		obj := ca.GetObject().(*unstructured.Unstructured).DeepCopy()
		if obj.GetNamespace() == "" {
			obj.SetNamespace(action.GetNamespace())
		}
		obj.SetUID(uuid.NewUUID())
		obj.SetResourceVersion(next())
		obj.SetCreationTimestamp(metav1.Now())
		if action.GetResource().Group == api.Group {
			obj.SetGeneration(1)
		}
		if err := tracker.Create(action.GetResource(), obj, action.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, obj, nil
	})
	c.PrependReactor("update", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		ua := action.(k8stesting.UpdateAction)
		gvr := action.GetResource()
		obj := ua.GetObject().(*unstructured.Unstructured).DeepCopy()
		cur, err := tracker.Get(gvr, action.GetNamespace(), obj.GetName())
		if err != nil {
			return true, nil, err
		}
		existing := cur.(*unstructured.Unstructured).DeepCopy()
		if obj.GetResourceVersion() != "" && obj.GetResourceVersion() != existing.GetResourceVersion() {
			return true, nil, apierrors.NewConflict(gvr.GroupResource(), obj.GetName(), errors.New("the object has been modified; please apply your changes to the latest version and try again"))
		}
		result := obj
		if gvr.Group == api.Group {
			if action.GetSubresource() == "status" {
				result = existing.DeepCopy()
				result.Object["status"] = obj.Object["status"]
			} else {
				result.Object["status"] = existing.Object["status"]
				result.SetGeneration(existing.GetGeneration())
				if !reflect.DeepEqual(obj.Object["spec"], existing.Object["spec"]) {
					result.SetGeneration(existing.GetGeneration() + 1)
				}
			}
		}
		result.SetUID(existing.GetUID())
		result.SetCreationTimestamp(existing.GetCreationTimestamp())
		result.SetResourceVersion(next())
		if err := tracker.Update(gvr, result, action.GetNamespace()); err != nil {
			return true, nil, err
		}
		return true, result, nil
	})
	return c
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// obj builds a Skupper object; mods change it.
func obj(kind, namespace, name string, spec map[string]any, mods ...func(*unstructured.Unstructured)) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": namespace}}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	for _, m := range mods {
		m(u)
	}
	return u
}

func gvrOf(kind string) schema.GroupVersionResource {
	switch kind {
	case "Site":
		return api.SitesGVR
	case "AccessGrant":
		return api.AccessGrantsGVR
	case "AccessToken":
		return api.AccessTokensGVR
	case "Link":
		return api.LinksGVR
	case "Secret":
		return api.SecretsGVR
	case "ConfigMap":
		return configMapsGVR
	}
	panic("unknown kind " + kind)
}

func create(t *testing.T, c dynamic.Interface, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	out, err := c.Resource(gvrOf(u.GetKind())).Namespace(u.GetNamespace()).Create(context.Background(), u, metav1.CreateOptions{})
	require.NoError(t, err, "creating %s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName())
	return out
}

func get(t *testing.T, c dynamic.Interface, kind, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	out, err := c.Resource(gvrOf(kind)).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err, "getting %s %s/%s", kind, namespace, name)
	return out
}

func absent(t *testing.T, c dynamic.Interface, kind, namespace, name string) bool {
	t.Helper()
	_, err := c.Resource(gvrOf(kind)).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}

func remove(t *testing.T, c dynamic.Interface, kind, namespace, name string) {
	t.Helper()
	require.NoError(t, c.Resource(gvrOf(kind)).Namespace(namespace).Delete(context.Background(), name, metav1.DeleteOptions{}), "deleting %s %s/%s", kind, namespace, name)
}

func names(t *testing.T, c dynamic.Interface, kind, namespace string) []string {
	t.Helper()
	list, err := c.Resource(gvrOf(kind)).Namespace(namespace).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	var out []string
	for _, i := range list.Items {
		out = append(out, i.GetName())
	}
	return out
}

func str(u *unstructured.Unstructured, path ...string) string {
	if u == nil {
		return ""
	}
	v, _, _ := unstructured.NestedString(u.Object, path...)
	return v
}

func num(u *unstructured.Unstructured, path ...string) int64 {
	if u == nil {
		return 0
	}
	v, _, _ := unstructured.NestedInt64(u.Object, path...)
	return v
}

// conditionOf returns a condition of u, or nil.
func conditionOf(u *unstructured.Unstructured, condType string) *metav1.Condition {
	st := readStatus(u, time.Time{})
	for i := range st.Conditions {
		if st.Conditions[i].Type == condType {
			return &st.Conditions[i]
		}
	}
	return nil
}

func conditionTypes(u *unstructured.Unstructured) []string {
	var out []string
	for _, c := range readStatus(u, time.Time{}).Conditions {
		out = append(out, c.Type)
	}
	return out
}

// testHub is a hub double on a fake cluster with a fixed clock.
func testHub(t *testing.T) (*Hub, *fake.FakeDynamicClient, *clock) {
	t.Helper()
	c := newCluster(t)
	h, err := NewHub(c, nil)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	clk := newClock()
	h.now = clk.Now
	return h, c, clk
}

// testSpoke is a spoke double on a fake cluster sharing the clock.
func testSpoke(t *testing.T, clk *clock) (*Spoke, *fake.FakeDynamicClient) {
	t.Helper()
	c := newCluster(t)
	s := NewSpoke("east", c, nil)
	s.now = clk.Now
	// These beds give the hub `local` access on another fake cluster: the
	// hub's endpoints stand for addresses the spoke can reach.
	s.Reachable = func(host, _ string) bool {
		return strings.HasPrefix(host, "skupper-router") || host == LoadBalancerHost
	}
	return s, c
}

// post sends a redemption request to the hub's grant server.
func post(t *testing.T, h *Hub, uid types.UID, code, name string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsTrusting(t, h)}}
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("https://%s/%s", h.Addr(), uid), strings.NewReader(code))
	require.NoError(t, err)
	req.Header.Set("name", name)
	req.Header.Set("subject", "spoke-site-uid")
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func tlsTrusting(t *testing.T, h *Hub) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM([]byte(h.CA())))
	return &tls.Config{RootCAs: pool}
}
