package acmtest

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/vanlink/vanlink/pkg/transport/acm"
)

// NewFakeHub returns a fake hub API for unit tests: it serves
// ManagedClusterActions and ManagedClusterViews and, as the API server does
// (the fake tracker does not), gives an object created with generateName a
// name. Reactors a test prepends later run first.
func NewFakeHub() *dynamicfake.FakeDynamicClient {
	client := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		acm.ActionsGVR: "ManagedClusterActionList", acm.ViewsGVR: "ManagedClusterViewList",
	})
	client.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		u, ok := a.(clienttesting.CreateAction).GetObject().(*unstructured.Unstructured)
		if ok && u.GetName() == "" && u.GetGenerateName() != "" {
			u.SetName(u.GetGenerateName() + rand.String(5))
		}
		return false, nil, nil
	})
	return client
}
