package cli

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/report"
)

func reachRecord(t0 time.Time) *report.Record {
	rec := report.Merge(nil, &reconcile.Result{Started: t0, Grant: reconcile.GrantSummary{Namespace: "service-interconnect", Name: "spoke-link", UID: "g1"},
		Changes: []reconcile.Change{
			{Step: reconcile.Step{Cluster: "east", Action: reconcile.InSync}, Outcome: reconcile.OutcomeLinked},
			{Step: reconcile.Step{Cluster: "west", Action: reconcile.InSync}, Outcome: reconcile.OutcomeLinked},
		}})
	rec.ServicesObserved = &t0
	rec.Services = map[string][]report.ServiceRecord{
		"east": {
			{Service: "ie-gateway", Listener: "ie-gateway-east", RoutingKey: "ie-gateway-east", Matched: true, Status: "Ready"},
			{Service: "kafka-tst", Listener: "kafka-east-tst", RoutingKey: "kafka-east-tst", Matched: true, Status: "Ready"},
			{Service: "kafka-tst", Listener: "kafka-east-tst-dev-cluster-kafka-0", Pod: "dev-cluster-kafka-0", RoutingKey: "kafka-east-tst.dev-cluster-kafka-0", Matched: true, Status: "Ready"},
			{Service: "kafka-tst", Listener: "kafka-east-tst-dev-cluster-kafka-1", Pod: "dev-cluster-kafka-1", RoutingKey: "kafka-east-tst.dev-cluster-kafka-1", Status: "Pending"},
		},
		"west": {
			{Service: "ie-gateway", Listener: "ie-gateway-west", RoutingKey: "ie-gateway-west", Status: "Pending"},
		},
	}
	return rec
}

func TestStatusShowsWhichServicesHubClientsReach(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	rec := reachRecord(t0)
	var out bytes.Buffer
	require.NoError(t, printRecord(&out, "table", rec, t0.Add(5*time.Minute)))
	got := out.String()
	require.Contains(t, got, "CLUSTER  STATE   REACHABLE  SINCE")
	require.Regexp(t, `east +linked +1/2 +5m`, got, "east: the gateway is reached, Kafka is not (a broker lacks a Connector)")
	require.Regexp(t, `west +linked +0/1 +5m`, got)
	require.Contains(t, got, "CLUSTER  SERVICE     HUB LISTENER     CONNECTOR  PODS  REACHABLE")
	require.Regexp(t, `east +ie-gateway +ie-gateway-east +yes +- +yes`, got)
	require.Regexp(t, `east +kafka-tst +kafka-east-tst +yes +1/2 +no`, got, "is Kafka east reachable on the hub? its bootstrap is, one broker of two is not")
	require.Regexp(t, `west +ie-gateway +ie-gateway-west +no +- +no`, got)
	require.Contains(t, got, "services observed 5m ago")

	out.Reset()
	require.NoError(t, printRecord(&out, "wide", rec, t0.Add(5*time.Minute)))
	require.Regexp(t, `east +kafka-tst +kafka-east-tst-dev-cluster-kafka-1 +dev-cluster-kafka-1 +kafka-east-tst.dev-cluster-kafka-1 +no +Pending`, out.String(), "-o wide lists every Listener")

	out.Reset()
	require.NoError(t, printRecord(&out, "json", rec, t0))
	var decoded struct {
		Services map[string][]struct {
			Listener string `json:"listener"`
			Matched  *bool  `json:"hasMatchingConnector"`
		} `json:"services"`
		ServicesObserved time.Time `json:"servicesObserved"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &decoded))
	require.Len(t, decoded.Services["east"], 4)
	require.NotNil(t, decoded.Services["west"][0].Matched, "hasMatchingConnector is always in the JSON, false included")
	require.False(t, *decoded.Services["west"][0].Matched)
	require.Equal(t, t0, decoded.ServicesObserved)
}

func TestStatusWithoutReachabilityKeepsItsTable(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	rec := reachRecord(t0)
	rec.Services, rec.ServicesObserved = nil, nil
	var out bytes.Buffer
	require.NoError(t, printRecord(&out, "table", rec, t0))
	require.NotContains(t, out.String(), "REACHABLE", "a record without reachability (older version, or no right to list Listeners) prints as before")
	require.Contains(t, out.String(), "CLUSTER  STATE   SINCE")
}
