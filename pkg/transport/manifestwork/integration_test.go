//go:build integration

package manifestwork_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
	"github.com/vanlink/vanlink/pkg/transport/transporttest"
)

// apiSpoke lets the suite arrange objects through a spoke's API server.
type apiSpoke struct{ c dynamic.Interface }

// Create creates the object, then writes its status (a real API server
// drops the status of a create when the kind has a status subresource).
func (s apiSpoke) Create(ctx context.Context, gvr schema.GroupVersionResource, ns string, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	created, err := s.c.Resource(gvr).Namespace(ns).Create(ctx, o, metav1.CreateOptions{})
	status, found, _ := unstructured.NestedMap(o.Object, "status")
	if err != nil || !found || gvr.Group != skupper.Group {
		return created, err
	}
	created.Object["status"] = status
	return s.c.Resource(gvr).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
}

func (s apiSpoke) Get(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	return s.c.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
}

func (s apiSpoke) Delete(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) error {
	return s.c.Resource(gvr).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})
}

// TestConformanceRealAgent runs the transport suite against the real OCM work agent
// (open-cluster-management.io/ocm v1.2.1, bin/work-agent), one per spoke,
// on a local hub and spokes (real kube-apiservers), with its status synced
// every second.
func TestConformanceRealAgent(t *testing.T) {
	if _, err := framework.FindWorkAgent(); err != nil {
		t.Fatal(err)
	}
	transporttest.Run(t, func(t *testing.T, spokes ...string) *transporttest.Bed {
		spokeCRDs, err := framework.DefaultSpokeCRDs()
		require.NoError(t, err)
		env := framework.StartT(t, framework.Options{Spokes: spokes, SpokeCRDs: append(spokeCRDs, framework.SchemalessCRD(transporttest.LinkerdLinksGVR, "Link"))})
		bed := &transporttest.Bed{Spokes: map[string]transporttest.Spoke{}}
		for _, s := range spokes {
			c := env.Cluster(s)
			_, err := c.Kube().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: transporttest.Namespace}}, metav1.CreateOptions{})
			require.NoError(t, err)
			_, err = env.StartWorkAgent(t.Context(), s, framework.WorkAgentOptions{StatusSync: time.Second})
			require.NoError(t, err)
			bed.Spokes[s] = apiSpoke{c.Dynamic()}
		}
		hub := env.Hub.Dynamic()
		t.Cleanup(func() {
			if !t.Failed() {
				return
			}
			// The works as the agent last reported on them.
			l, err := hub.Resource(manifestwork.WorksGVR).List(context.Background(), metav1.ListOptions{})
			if err != nil {
				t.Logf("listing the ManifestWorks: %v", err)
				return
			}
			for _, o := range l.Items {
				data, _ := json.MarshalIndent(o.Object, "", "  ")
				t.Logf("--- ManifestWork %s/%s:\n%s", o.GetNamespace(), o.GetName(), data)
			}
		})
		bed.Hub = transporttest.NewCrashingHub(hub)
		bed.Transport = manifestwork.New(bed.Hub, manifestwork.Options{TokenName: transporttest.TokenName, SpokeNamespace: transporttest.Namespace,
			ResyncCheck: 500 * time.Millisecond, SpokeTimeout: 30 * time.Second})
		bed.HubObjects = func(t *testing.T) []string {
			l, err := hub.Resource(manifestwork.WorksGVR).List(context.Background(), metav1.ListOptions{})
			require.NoError(t, err)
			var out []string
			for _, o := range l.Items {
				data, _ := json.Marshal(o.Object)
				out = append(out, string(data))
			}
			return out
		}
		return bed
	})
}
