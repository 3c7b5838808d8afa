package acm

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func siteViewWithNetwork(sites int) *unstructured.Unstructured {
	network := make([]any, 0, sites)
	for i := range sites {
		network = append(network, map[string]any{"id": fmt.Sprintf("site-%d", i), "name": "spoke", "namespace": "service-interconnect",
			"links":    []any{map[string]any{"name": "hub-link", "remoteSiteName": "hub"}},
			"services": []any{map[string]any{"routingKey": "kafka", "connectors": []any{"kafka"}}}})
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": ViewsGVR.GroupVersion().String(), "kind": "ManagedClusterView",
		"metadata": map[string]any{"name": "vanlink-hub-link-site", "namespace": "east", "managedFields": []any{map[string]any{"manager": "x"}}},
		"spec":     map[string]any{"scope": map[string]any{"kind": "Site", "name": "east"}},
		"status": map[string]any{
			"conditions": []any{map[string]any{"type": "Processing", "status": "True"}},
			"result": map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": "Site",
				"metadata": map[string]any{"name": "east", "namespace": "service-interconnect", "managedFields": []any{map[string]any{"manager": "x"}}},
				"status": map[string]any{"status": "Ready", "sitesInNetwork": int64(sites), "network": network,
					"endpoints": []any{map[string]any{"name": "inter-router", "host": "h", "port": "55671"}}}},
		},
	}}
}

func TestSlimKeepsWhatASiteViewIsReadForAndNotTheNetwork(t *testing.T) {
	o, err := slim(siteViewWithNetwork(1000))
	require.NoError(t, err)
	u := o.(*unstructured.Unstructured)
	st, _, _ := unstructured.NestedMap(u.Object, "status", "result", "status")
	require.NotContains(t, st, "network", "the network's every site is not kept per spoke")
	require.EqualValues(t, 1000, st["sitesInNetwork"])
	require.Equal(t, "Ready", st["status"])
	require.NotEmpty(t, st["endpoints"])
	require.Empty(t, u.GetManagedFields())
	_, found, _ := unstructured.NestedFieldNoCopy(u.Object, "status", "result", "metadata", "managedFields")
	require.False(t, found)
}
