package direct

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport/transporttest"
)

// apiSpoke lets the suite arrange objects through a spoke's dynamic client.
type apiSpoke struct{ c dynamic.Interface }

func (s apiSpoke) Create(ctx context.Context, gvr schema.GroupVersionResource, ns string, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	return s.c.Resource(gvr).Namespace(ns).Create(ctx, o, metav1.CreateOptions{})
}

func (s apiSpoke) Get(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) (*unstructured.Unstructured, error) {
	return s.c.Resource(gvr).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
}

func (s apiSpoke) Delete(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) error {
	return s.c.Resource(gvr).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})
}

// TestConformance runs the transport suite with spokes reached through their
// credentials (fake dynamic clients serving Skupper's kinds, core Secrets and
// ConfigMaps, and Linkerd's links).
func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T, spokes ...string) *transporttest.Bed {
		clients := map[string]*dynamicfake.FakeDynamicClient{}
		bed := &transporttest.Bed{Spokes: map[string]transporttest.Spoke{}}
		for _, s := range spokes {
			c := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
				skupper.SitesGVR: "SiteList", skupper.LinksGVR: "LinkList", skupper.AccessTokensGVR: "AccessTokenList",
				skupper.SecretsGVR: "SecretList", skupper.ConfigMapsGVR: "ConfigMapList", transporttest.LinkerdLinksGVR: "LinkList",
			})
			clients[s], bed.Spokes[s] = c, apiSpoke{c}
		}
		bed.Transport = newTransport(t, clients)
		return bed
	})
}
