package charts_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/internal/charts"
)

// The reference platform's Kafka clusters: catalog service -> Strimzi cluster.
var kafkaClusters = map[string]string{"tst": "dev-cluster", "stormshift": "factory-cluster", "datalake": "prod-cluster"}

// TestKafkaPerBrokerListenersOnTheHub renders the shipped catalog: for each
// spoke and each of its three Kafka clusters, a bootstrap Listener and one
// Listener per broker pod on the hub, paired with one spoke Connector that
// selects the brokers and exposes each by name.
func TestKafkaPerBrokerListenersOnTheHub(t *testing.T) {
	crds := newCRDCheck(t)
	hub := render(t, hubRelease, nil)
	for _, r := range []release{eastRelease, westRelease} {
		spoke := render(t, r, nil)
		for suffix, cluster := range kafkaClusters {
			name := fmt.Sprintf("kafka-%s-%s", r.name, suffix)
			t.Run(name, func(t *testing.T) {
				boot := find(t, hub, "Listener", name)
				require.Equal(t, map[string]any{"routingKey": name, "host": name, "port": int64(9092)}, specOf(boot),
					"the bootstrap Listener is the plain one: no exposePodsByName (its pod-named Services would collide across spokes)")
				crds.validate(t, boot)

				c := find(t, spoke, "Connector", name)
				require.Equal(t, map[string]any{
					"routingKey": name, "port": int64(9096), "exposePodsByName": true,
					"selector": "strimzi.io/cluster=" + cluster + ",strimzi.io/broker-role=true",
				}, specOf(c), "the Connector selects the broker pods and exposes each by name")
				crds.validate(t, c)

				for n := range 3 {
					pod := fmt.Sprintf("%s-kafka-%d", cluster, n)
					l := find(t, hub, "Listener", name+"-"+pod)
					require.Equal(t, map[string]any{"routingKey": name + "." + pod, "host": name + "-" + pod, "port": int64(9096)}, specOf(l),
						"a broker's Listener routes to <routing key>.<pod>, what the Connector offers for that pod")
					require.Equal(t, map[string]string{"vanlink.io/service": "kafka-" + suffix, "vanlink.io/spoke": r.name, "vanlink.io/pod": pod},
						pick(l.GetLabels(), "vanlink.io/service", "vanlink.io/spoke", "vanlink.io/pod"))
					crds.validate(t, l)
				}
			})
		}
	}
	require.Len(t, hub.Find("Listener"), 4*3*2+4, "per spoke: 3 clusters x (bootstrap + 3 brokers); plus gateway and Prometheus")
}

func pick(m map[string]string, keys ...string) map[string]string {
	out := map[string]string{}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// TestStrimziExampleAdvertisesTheHubListeners reads the Strimzi example of
// values/strimzi and computes what its brokers advertise as Strimzi does
// (strimzi-kafka-operator cluster-operator ModelUtils.renderTemplate:
// {nodeId} and {nodePodName} replaced; KafkaResources: pods
// <cluster>-<pool>-<node id>; an internal listener advertises its own port,
// KafkaListenersReconciler.internalServicesReady), and checks that each
// broker advertises the hub name and port of its own hub Listener, and that
// the spoke Connector selects these pods on that listener's port.
func TestStrimziExampleAdvertisesTheHubListeners(t *testing.T) {
	data, err := os.ReadFile(repo(t, "values/strimzi/dev-cluster-east.yaml"))
	require.NoError(t, err)
	objs, err := charts.Decode(data)
	require.NoError(t, err)
	var kafka, pool *unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "Kafka":
			kafka = o
		case "KafkaNodePool":
			pool = o
		}
	}
	require.NotNil(t, kafka, "the example has a Kafka")
	require.NotNil(t, pool, "the example has a KafkaNodePool")
	require.Equal(t, kafka.GetName(), pool.GetLabels()["strimzi.io/cluster"], "the pool belongs to the cluster")
	roles, _, _ := unstructured.NestedStringSlice(pool.Object, "spec", "roles")
	require.Contains(t, roles, "broker")
	replicas, _, _ := unstructured.NestedInt64(pool.Object, "spec", "replicas")

	conn := find(t, render(t, eastRelease, nil), "Connector", "kafka-east-tst")
	require.Equal(t, "service-interconnect", kafka.GetNamespace(), "Skupper's Connector selects pods in its own namespace (upstream internal/kube/site/site.go WatchPods)")
	require.Equal(t, "strimzi.io/cluster="+kafka.GetName()+",strimzi.io/broker-role=true", str(conn, "spec", "selector"))

	listeners, _, err := unstructured.NestedSlice(kafka.Object, "spec", "kafka", "listeners")
	require.NoError(t, err)
	var skupper map[string]any
	for _, l := range listeners {
		if m := l.(map[string]any); m["port"] == num(conn, "spec", "port") {
			skupper = m
		}
	}
	require.NotNil(t, skupper, "a Strimzi listener answers on the Connector's port %d", num(conn, "spec", "port"))
	require.Equal(t, "internal", skupper["type"])
	tmpl, _, _ := unstructured.NestedString(skupper, "configuration", "advertisedHostTemplate")
	require.NotEmpty(t, tmpl)

	hub := render(t, hubRelease, nil)
	for id := range replicas {
		pod := fmt.Sprintf("%s-%s-%d", kafka.GetName(), pool.GetName(), id)
		advertised := strings.NewReplacer("{nodeId}", fmt.Sprint(id), "{nodePodName}", pod).Replace(tmpl)
		l := find(t, hub, "Listener", "kafka-east-tst-"+pod)
		require.Equal(t, str(l, "spec", "host")+"."+l.GetNamespace()+".svc.cluster.local", advertised, "broker %d advertises its hub Listener", id)
		require.Equal(t, skupper["port"], num(l, "spec", "port"), "broker %d advertises the port its hub Listener listens on", id)
		require.Equal(t, "kafka-east-tst."+pod, str(l, "spec", "routingKey"))
	}
}

func TestPodListeners(t *testing.T) {
	t.Run("a spoke override lists that spoke's brokers and names", func(t *testing.T) {
		set := editService(t, "kafka-tst", func(s map[string]any) {
			s["spokeOverrides"] = map[string]any{"west": map[string]any{"podListeners": map[string]any{
				"pods": []any{"dev-cluster-broker-3"}, "name": "kafka-{spoke}-b{pod}",
			}}}
		})
		hub := render(t, hubRelease, set)
		for n := range 3 {
			find(t, hub, "Listener", fmt.Sprintf("kafka-east-tst-dev-cluster-kafka-%d", n))
		}
		l := find(t, hub, "Listener", "kafka-west-bdev-cluster-broker-3")
		require.Equal(t, "kafka-west-tst.dev-cluster-broker-3", str(l, "spec", "routingKey"))
		require.EqualValues(t, 9096, num(l, "spec", "port"), "the service's podListeners.port is kept")
		for _, o := range hub.Find("Listener") {
			require.False(t, strings.HasPrefix(o.GetName(), "kafka-west-tst-dev-cluster-kafka-"), "west's override replaces the pod list: %s", o.GetName())
		}
	})
	t.Run("listener fields reach the per-pod Listeners, but not exposePodsByName", func(t *testing.T) {
		set := editService(t, "kafka-tst", func(s map[string]any) {
			s["listener"] = map[string]any{"observer": "none", "exposePodsByName": true}
			s["spokes"] = []any{"east"}
		})
		hub := render(t, hubRelease, set)
		require.Equal(t, true, specOf(find(t, hub, "Listener", "kafka-east-tst"))["exposePodsByName"])
		pod := specOf(find(t, hub, "Listener", "kafka-east-tst-dev-cluster-kafka-0"))
		require.Equal(t, "none", pod["observer"])
		require.NotContains(t, pod, "exposePodsByName", "a per-pod Listener already serves one pod")
	})
	t.Run("hub-to-spoke: each spoke listens for each pod of the hub Connector", func(t *testing.T) {
		set := withService(t, map[string]any{"name": "hub-kafka", "direction": "hub-to-spoke", "port": 9092,
			"backend":        map[string]any{"selector": "strimzi.io/cluster=hub-kafka,strimzi.io/broker-role=true"},
			"connector":      map[string]any{"exposePodsByName": true},
			"podListeners":   map[string]any{"pods": []any{"hub-kafka-kafka-0"}},
			"spokeOverrides": map[string]any{"west": map[string]any{"podListeners": map[string]any{"name": "west-{pod}"}}},
		})
		c := find(t, render(t, hubRelease, set), "Connector", "hub-kafka")
		require.Equal(t, true, specOf(c)["exposePodsByName"])
		l := find(t, render(t, eastRelease, set), "Listener", "hub-kafka-hub-kafka-kafka-0")
		require.Equal(t, "hub-kafka.hub-kafka-kafka-0", str(l, "spec", "routingKey"))
		find(t, render(t, westRelease, set), "Listener", "west-hub-kafka-kafka-0")
	})
	kafka := func(edit func(s map[string]any)) map[string]any { return editService(t, "kafka-tst", edit) }
	tests := map[string]struct {
		set  map[string]any
		want []string
	}{
		"without exposePodsByName on the Connector": {kafka(func(s map[string]any) { delete(s, "connector") }),
			[]string{"catalog.services[kafka-tst].podListeners", "connector.exposePodsByName"}},
		"a name that two pods share": {kafka(func(s map[string]any) { s["podListeners"].(map[string]any)["name"] = "kafka-{spoke}-broker" }),
			[]string{"catalog.services[kafka-tst].podListeners.name", `"kafka-east-broker"`, "unique"}},
		"a name that collides with another Listener": {kafka(func(s map[string]any) { s["podListeners"].(map[string]any)["name"] = "prometheus-{spoke}" }),
			[]string{"catalog.services[kafka-tst].podListeners.name", `"prometheus-east"`}},
		"a name over 63 characters": {kafka(func(s map[string]any) {
			s["podListeners"].(map[string]any)["name"] = "{listener}-" + strings.Repeat("x", 40) + "-{pod}"
		}), []string{"catalog.services[kafka-tst].podListeners.name", "at most 63"}},
		"a pod name that is not a DNS label": {kafka(func(s map[string]any) { s["podListeners"].(map[string]any)["pods"] = []any{"Broker_0"} }),
			[]string{"/catalog/services/2/podListeners/pods/0"}},
		"an empty pod list": {kafka(func(s map[string]any) { s["podListeners"].(map[string]any)["pods"] = []any{} }),
			[]string{"/catalog/services/2/podListeners/pods"}},
		"an unknown podListeners key": {kafka(func(s map[string]any) { s["podListeners"].(map[string]any)["brokers"] = 3 }),
			[]string{"/catalog/services/2/podListeners", "brokers"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := charts.Render(t.Context(), repo(t, hubRelease.chart), hubRelease.options(t, tc.set))
			require.Error(t, err, "rendering must fail")
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w, "the error must name the offending value")
			}
		})
	}
}

// TestStrimziReadmeSaysWhatOlderStrimziTakes: the example uses
// kafka.strimzi.io/v1 (Strimzi 0.49 and later) while the README says the
// template works from 0.44: it must say what those versions take.
func TestStrimziReadmeSaysWhatOlderStrimziTakes(t *testing.T) {
	example, err := os.ReadFile(repo(t, "values/strimzi/dev-cluster-east.yaml"))
	require.NoError(t, err)
	readme, err := os.ReadFile(repo(t, charts.HubChart+"/README.md"))
	require.NoError(t, err)
	if !strings.Contains(string(readme), "apiVersion: kafka.strimzi.io/v1\n") && !strings.Contains(string(example), "apiVersion: kafka.strimzi.io/v1\n") {
		t.Skip("the example no longer uses kafka.strimzi.io/v1")
	}
	text := strings.Join(strings.Fields(string(readme)), " ")
	require.Contains(t, text, "Strimzi serves from 0.49", "the README says which Strimzi serves kafka.strimzi.io/v1")
	require.Contains(t, text, "`apiVersion: kafka.strimzi.io/v1beta2`", "and what Strimzi 0.44 to 0.48 take")
	require.Contains(t, string(example), "kafka.strimzi.io/v1beta2", "the example file says it too")
}
