package skupper

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"

	api "github.com/vanlink/vanlink/pkg/skupper"
)

const netNS = "service-interconnect"

// networkCluster is a fake cluster holding what the network double reads.
func networkCluster(objs ...runtime.Object) *fake.FakeDynamicClient {
	return fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		api.SitesGVR: "SiteList", api.LinksGVR: "LinkList", api.ListenersGVR: "ListenerList",
		api.ConnectorsGVR: "ConnectorList", podsGVR: "PodList",
	}, objs...)
}

func skupperObj(kind, name string, spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "skupper.io/v2alpha1", "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": netNS},
		"spec":     spec,
	}}
}

func operationalLink(name string, operational bool) *unstructured.Unstructured {
	l := skupperObj("Link", name, map[string]any{})
	st := "False"
	if operational {
		st = "True"
	}
	l.Object["status"] = map[string]any{"conditions": []any{map[string]any{"type": condOperational, "status": st, "reason": "Ready", "message": "OK",
		"lastTransitionTime": "2026-11-30T10:00:00Z"}}}
	return l
}

func pod(name string, labels map[string]any, phase string, ready bool) *unstructured.Unstructured {
	r := "False"
	if ready {
		r = "True"
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": name, "namespace": netNS, "labels": labels},
		"status":   map[string]any{"phase": phase, "podIP": "10.0.0.1", "conditions": []any{map[string]any{"type": "Ready", "status": r}}},
	}}
}

func listenerStatus(t *testing.T, c *fake.FakeDynamicClient, name string) (matched bool, found bool, status string, cond *metav1.Condition) {
	t.Helper()
	l, err := c.Resource(api.ListenersGVR).Namespace(netNS).Get(t.Context(), name, metav1.GetOptions{})
	require.NoError(t, err)
	matched, found, _ = unstructured.NestedBool(l.Object, "status", "hasMatchingConnector")
	status, _, _ = unstructured.NestedString(l.Object, "status", "status")
	st := readStatus(l, l.GetCreationTimestamp().Time)
	for i := range st.Conditions {
		if st.Conditions[i].Type == condMatched {
			cond = &st.Conditions[i]
		}
	}
	return matched, found, status, cond
}

func TestListenersMatchConnectorsAcrossLinkedSites(t *testing.T) {
	hub := networkCluster(
		skupperObj("Site", "hub", map[string]any{"linkAccess": "default"}),
		skupperObj("Listener", "ie-gateway-east", map[string]any{"routingKey": "ie-gateway-east", "host": "ie-gateway-east", "port": int64(8080)}),
		skupperObj("Listener", "ie-gateway-west", map[string]any{"routingKey": "ie-gateway-west", "host": "ie-gateway-west", "port": int64(8080)}),
		skupperObj("Listener", "kafka-east-tst", map[string]any{"routingKey": "kafka-east-tst", "host": "kafka-east-tst", "port": int64(9092)}),
		skupperObj("Listener", "kafka-east-tst-broker-0", map[string]any{"routingKey": "kafka-east-tst.broker-0", "host": "kafka-east-tst-broker-0", "port": int64(9096)}),
		skupperObj("Listener", "kafka-east-tst-broker-1", map[string]any{"routingKey": "kafka-east-tst.broker-1", "host": "kafka-east-tst-broker-1", "port": int64(9096)}),
	)
	east := networkCluster(
		skupperObj("Site", "east", map[string]any{}),
		operationalLink("hub-link", true),
		skupperObj("Connector", "ie-gateway-east", map[string]any{"routingKey": "ie-gateway-east", "host": "spoke-gateway", "port": int64(8080)}),
		skupperObj("Connector", "kafka-east-tst", map[string]any{"routingKey": "kafka-east-tst", "selector": "app=kafka", "port": int64(9096), "exposePodsByName": true}),
		pod("broker-0", map[string]any{"app": "kafka"}, "Running", true),
		pod("broker-1", map[string]any{"app": "kafka"}, "Running", false),
		pod("other", map[string]any{"app": "other"}, "Running", true),
	)
	west := networkCluster(
		skupperObj("Site", "west", map[string]any{}),
		operationalLink("hub-link", false),
		skupperObj("Connector", "ie-gateway-west", map[string]any{"routingKey": "ie-gateway-west", "host": "spoke-gateway", "port": int64(8080)}),
		skupperObj("Listener", "local", map[string]any{"routingKey": "ie-gateway-west", "host": "local", "port": int64(8080)}),
	)
	n := NewNetwork(hub, nil)
	n.AddSpoke("east", east)
	n.AddSpoke("west", west)
	n.process(t.Context())

	m, found, status, cond := listenerStatus(t, hub, "ie-gateway-east")
	require.True(t, m && found, "east is linked and its host Connector has the routing key")
	require.Equal(t, "Ready", status)
	require.Equal(t, metav1.ConditionTrue, cond.Status)

	m, found, status, cond = listenerStatus(t, hub, "ie-gateway-west")
	require.False(t, m)
	require.False(t, found, "hasMatchingConnector is omitted when false, as upstream's omitempty")
	require.Equal(t, "Pending", status)
	require.Equal(t, "No matching connectors", cond.Message, "west's Connector is in no network of the hub: its Link is not Operational")

	m, _, _, _ = listenerStatus(t, west, "local")
	require.True(t, m, "an unlinked site is a network of its own: its Listener matches its own Connector")

	m, _, _, _ = listenerStatus(t, hub, "kafka-east-tst")
	require.True(t, m, "a selector Connector with a ready pod offers its routing key")
	m, _, _, _ = listenerStatus(t, hub, "kafka-east-tst-broker-0")
	require.True(t, m, "with exposePodsByName each selected pod is offered as <key>.<pod>")
	m, _, _, _ = listenerStatus(t, hub, "kafka-east-tst-broker-1")
	require.False(t, m, "a pod that is not Ready is not selected")

	t.Run("a second look with nothing changed writes nothing", func(t *testing.T) {
		writes := 0
		hub.PrependReactor("update", "listeners", func(k8stesting.Action) (bool, runtime.Object, error) { writes++; return false, nil, nil })
		n.process(t.Context())
		require.Zero(t, writes)
	})

	t.Run("removing the spoke Connector unmatches the hub Listener", func(t *testing.T) {
		require.NoError(t, east.Resource(api.ConnectorsGVR).Namespace(netNS).Delete(t.Context(), "ie-gateway-east", metav1.DeleteOptions{}))
		n.process(t.Context())
		m, found, _, _ := listenerStatus(t, hub, "ie-gateway-east")
		require.False(t, m || found)
	})

	t.Run("includeNotReadyPods selects a running pod that is not Ready", func(t *testing.T) {
		c, err := east.Resource(api.ConnectorsGVR).Namespace(netNS).Get(t.Context(), "kafka-east-tst", metav1.GetOptions{})
		require.NoError(t, err)
		require.NoError(t, unstructured.SetNestedField(c.Object, true, "spec", "includeNotReadyPods"))
		_, err = east.Resource(api.ConnectorsGVR).Namespace(netNS).Update(t.Context(), c, metav1.UpdateOptions{})
		require.NoError(t, err)
		n.process(t.Context())
		m, _, _, _ := listenerStatus(t, hub, "kafka-east-tst-broker-1")
		require.True(t, m)
	})

	t.Run("a Connector in a namespace without a Site offers nothing", func(t *testing.T) {
		require.NoError(t, east.Resource(api.SitesGVR).Namespace(netNS).Delete(t.Context(), "east", metav1.DeleteOptions{}))
		n.process(t.Context())
		m, _, _, _ := listenerStatus(t, hub, "kafka-east-tst")
		require.False(t, m)
	})
}

func TestSelectedPods(t *testing.T) {
	require.True(t, selected(pod("p", nil, "Running", true), false))
	require.False(t, selected(pod("p", nil, "Running", false), false))
	require.True(t, selected(pod("p", nil, "Running", false), true))
	require.False(t, selected(pod("p", nil, "Pending", true), true), "a pod must run")
	deleting := pod("p", nil, "Running", true)
	now := metav1.Now()
	deleting.SetDeletionTimestamp(&now)
	require.False(t, selected(deleting, false), "a pod being deleted is not selected")
}
