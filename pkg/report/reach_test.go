package report

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/skupper"
)

// hubListener builds a hub Listener as the hub chart renders it, with the
// status Skupper writes (hasMatchingConnector is omitted when false).
func hubListener(name, spoke, service, pod string, matched bool) *unstructured.Unstructured {
	labels := map[string]any{skupper.SpokeLabel: spoke, skupper.ServiceLabel: service}
	key := name
	if pod != "" {
		labels[skupper.PodLabel] = pod
		key = strings.TrimSuffix(name, "-"+pod) + "." + pod
	}
	status := map[string]any{"status": "Pending", "message": "No matching connectors"}
	if matched {
		status = map[string]any{"status": "Ready", "message": "OK", "hasMatchingConnector": true}
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "skupper.io/v2alpha1", "kind": "Listener",
		"metadata": map[string]any{"name": name, "namespace": "service-interconnect", "labels": labels},
		"spec":     map[string]any{"routingKey": key, "host": name, "port": int64(9092)},
		"status":   status,
	}}
}

func listerOf(objs ...runtime.Object) ListenerLister {
	scheme := runtime.NewScheme()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{skupper.ListenersGVR: "ListenerList"}, objs...)
	return dyn.Resource(skupper.ListenersGVR).Namespace("service-interconnect")
}

func TestReachabilityListsEachSpokesHubListeners(t *testing.T) {
	other := hubListener("not-from-the-catalog", "", "", "", true)
	other.SetLabels(nil)
	l := listerOf(
		hubListener("kafka-east-tst-dev-cluster-kafka-1", "east", "kafka-tst", "dev-cluster-kafka-1", false),
		hubListener("kafka-east-tst", "east", "kafka-tst", "", true),
		hubListener("kafka-east-tst-dev-cluster-kafka-0", "east", "kafka-tst", "dev-cluster-kafka-0", true),
		hubListener("ie-gateway-east", "east", "ie-gateway", "", true),
		hubListener("ie-gateway-west", "west", "ie-gateway", "", false),
		other,
	)
	got, err := Reachability(t.Context(), l)
	require.NoError(t, err)
	require.Equal(t, map[string][]ServiceRecord{
		"east": {
			{Service: "ie-gateway", Listener: "ie-gateway-east", RoutingKey: "ie-gateway-east", Matched: true, Status: "Ready"},
			{Service: "kafka-tst", Listener: "kafka-east-tst", RoutingKey: "kafka-east-tst", Matched: true, Status: "Ready"},
			{Service: "kafka-tst", Listener: "kafka-east-tst-dev-cluster-kafka-0", Pod: "dev-cluster-kafka-0", RoutingKey: "kafka-east-tst.dev-cluster-kafka-0", Matched: true, Status: "Ready"},
			{Service: "kafka-tst", Listener: "kafka-east-tst-dev-cluster-kafka-1", Pod: "dev-cluster-kafka-1", RoutingKey: "kafka-east-tst.dev-cluster-kafka-1", Status: "Pending"},
		},
		"west": {{Service: "ie-gateway", Listener: "ie-gateway-west", RoutingKey: "ie-gateway-west", Status: "Pending"}},
	}, got, "per spoke, by service, the service's Listener before its per-pod ones; Listeners outside the catalog left out")

	sum := Summarize(got["east"])
	require.Equal(t, []ServiceSummary{
		{Service: "ie-gateway", Listener: "ie-gateway-east", Matched: true},
		{Service: "kafka-tst", Listener: "kafka-east-tst", Matched: true, Pods: 2, PodsMatched: 1},
	}, sum)
	require.True(t, sum[0].Reachable())
	require.False(t, sum[1].Reachable(), "a broker without a matching Connector leaves Kafka unreachable for real clients")
}

type failingLister struct{}

func (failingLister) List(context.Context, metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return nil, errors.New(`listeners.skupper.io is forbidden: User "system:serviceaccount:service-interconnect:hub-sync" cannot list resource "listeners"`)
}

func TestHubReportRecordsReachability(t *testing.T) {
	cs := fake.NewClientset()
	t1 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	hub := Hub{
		Status:    StatusStore{ConfigMaps: cs.CoreV1().ConfigMaps("service-interconnect"), Name: "vanlink-status"},
		Events:    EventRecorder{Events: cs.CoreV1().Events("service-interconnect"), Component: "vanlink"},
		Listeners: listerOf(hubListener("ie-gateway-east", "east", "ie-gateway", "", true)),
		Now:       func() time.Time { return t1 },
	}
	require.NoError(t, hub.Report(t.Context(), result(t1, change("east", reconcile.OutcomeLinked, ""))))
	rec, err := hub.Status.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, []ServiceRecord{{Service: "ie-gateway", Listener: "ie-gateway-east", RoutingKey: "ie-gateway-east", Matched: true, Status: "Ready"}}, rec.Services["east"])
	require.Equal(t, t1, *rec.ServicesObserved)

	hub.Listeners = failingLister{}
	t2 := t1.Add(time.Hour)
	require.NoError(t, hub.Report(t.Context(), result(t2, change("east", reconcile.OutcomeLinked, ""))))
	rec, err = hub.Status.Read(t.Context())
	require.NoError(t, err)
	require.Len(t, rec.Services["east"], 1, "what the last pass observed is kept")
	require.Equal(t, t1, *rec.ServicesObserved, "with the time it was observed")
	require.Len(t, rec.Pass.Warnings, 1)
	require.Contains(t, rec.Pass.Warnings[0], "reachability of the catalog services not observed")
	require.Contains(t, rec.Pass.Warnings[0], "forbidden")
}

func TestEncodeReducesReachabilityFirst(t *testing.T) {
	t1 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	r := Merge(nil, result(t1, change("east", reconcile.OutcomeLinked, "")))
	r.Services = map[string][]ServiceRecord{}
	r.ServicesObserved = &t1
	// Enough Listeners to overflow the ConfigMap, one in a hundred unmatched.
	for s := range 2000 {
		spoke := fmt.Sprintf("spoke-%04d", s)
		for i := range 10 {
			r.Services[spoke] = append(r.Services[spoke], ServiceRecord{Service: "kafka-tst", Listener: fmt.Sprintf("kafka-%s-tst-dev-cluster-kafka-%d", spoke, i),
				Pod: fmt.Sprintf("dev-cluster-kafka-%d", i), RoutingKey: fmt.Sprintf("kafka-%s-tst.dev-cluster-kafka-%d", spoke, i), Matched: (s*10+i)%100 != 0, Status: "Ready"})
		}
	}
	data, err := Encode(r)
	require.NoError(t, err)
	require.LessOrEqual(t, len(data), MaxRecordBytes)
	got, err := Decode(data)
	require.NoError(t, err)
	require.Equal(t, ReducedServices, got.Reduced, "only the services were reduced")
	require.Len(t, got.Services, 200, "the spokes with an unmatched Listener")
	for _, recs := range got.Services {
		for _, rec := range recs {
			require.False(t, rec.Matched)
		}
	}
	require.Equal(t, r.Spokes["east"].State, got.Spokes["east"].State)

	small := Merge(nil, result(t1, change("east", reconcile.OutcomeLinked, "")))
	small.Services = map[string][]ServiceRecord{"east": {{Service: "ie-gateway", Listener: "ie-gateway-east", RoutingKey: "ie-gateway-east", Matched: true}}}
	data, err = Encode(small)
	require.NoError(t, err)
	got, err = Decode(data)
	require.NoError(t, err)
	require.Empty(t, got.Reduced)
	require.Equal(t, small.Services, got.Services, "a record that fits keeps every Listener")
}
