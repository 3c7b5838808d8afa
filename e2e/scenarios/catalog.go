package scenarios

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/report"
	"github.com/vanlink/vanlink/pkg/skupper"
)

// hubListenerMatched reads status.hasMatchingConnector of a hub Listener,
// as Skupper (or, on local API servers, its network double) sets it.
func hubListenerMatched(t *testing.T, h *Harness, name string) bool {
	t.Helper()
	l, err := dyn(h.P.Hub()).Resource(skupper.ListenersGVR).Namespace(Namespace).Get(ctxFor(t), name, metav1.GetOptions{})
	require.NoError(t, err, "the hub chart renders Listener %s", name)
	matched, _, _ := unstructured.NestedBool(l.Object, "status", "hasMatchingConnector")
	return matched
}

// statusJSON runs `vanlink status -o json` and decodes what it prints.
func statusJSON(t *testing.T, h *Harness) *report.Record {
	t.Helper()
	r := h.Vanlink(ctxFor(t), append([]string{"status", "-o", "json"}, h.PassFlags("status")...)...)
	require.Equal(t, 0, r.Code, "status: every spoke linked\n%s", r.Stderr)
	// A Runner (kind) merges the pod's log into Stdout: the record is the
	// JSON object that starts a line.
	out := r.Stdout
	if i := strings.Index(out, "\n{"); !strings.HasPrefix(out, "{") && i >= 0 {
		out = out[i+1:]
	}
	var rec report.Record
	require.NoError(t, json.NewDecoder(strings.NewReader(out)).Decode(&rec), "status -o json prints the record:\n%s", r.Stdout)
	return &rec
}

func serviceOf(t *testing.T, rec *report.Record, spoke, listener string) report.ServiceRecord {
	t.Helper()
	for _, s := range rec.Services[spoke] {
		if s.Listener == listener {
			return s
		}
	}
	require.Failf(t, "no such hub Listener", "the record lists no hub Listener %s for %s: %v", listener, spoke, rec.Services[spoke])
	return report.ServiceRecord{}
}

// ReachabilityFollowsTheSpokeConnector: with east and west linked, the status
// record and `vanlink status` show each spoke's catalog services with their
// hub Listener's hasMatchingConnector; when east's gateway Connector is
// removed, east's REACHABLE column and its gateway row change, west's do not.
// The Kafka and Prometheus Connectors select pods, and no pod runs in the
// test bed, so those services are shown unreachable throughout.
func ReachabilityFollowsTheSpokeConnector(t *testing.T, h *Harness) {
	linkedFleet(t, h, nil)
	ctx := ctxFor(t)
	require.Eventually(t, func() bool {
		return hubListenerMatched(t, h, "ie-gateway-east") && hubListenerMatched(t, h, "ie-gateway-west")
	}, h.Timeout, 100*time.Millisecond, "the linked spokes' gateway Connectors match the hub Listeners")

	r := h.Cron(ctx)
	require.Equal(t, 0, r.Code)
	rec := h.Record(ctx)
	require.NotNil(t, rec.ServicesObserved, "the pass records the services' reachability")
	require.True(t, serviceOf(t, rec, "east", "ie-gateway-east").Matched)
	require.Len(t, report.Summarize(rec.Services["east"]), 5, "east offers five catalog services")
	broker := serviceOf(t, rec, "east", "kafka-east-tst-dev-cluster-kafka-0")
	require.Equal(t, "dev-cluster-kafka-0", broker.Pod, "per-broker Listeners are recorded with their pod")

	table := h.Vanlink(ctx, append([]string{"status"}, h.PassFlags("status")...)...)
	require.Equal(t, 0, table.Code)
	require.Regexp(t, `(?m)^east +linked +1/5 `, table.Stdout, "east: the gateway is reachable on the hub")
	require.Regexp(t, `(?m)^east +ie-gateway +ie-gateway-east +yes +- +yes`, table.Stdout)
	require.Regexp(t, `(?m)^east +kafka-tst +kafka-east-tst +no +0/3 +no`, table.Stdout, "no broker pod runs on east")

	// East's gateway Connector goes (a Git change, or by hand).
	require.NoError(t, dyn(h.Spoke("east")).Resource(skupper.ConnectorsGVR).Namespace(Namespace).Delete(ctx, "ie-gateway-east", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return !hubListenerMatched(t, h, "ie-gateway-east") }, h.Timeout, 100*time.Millisecond,
		"the hub Listener loses its match once no site of the network offers its routing key")
	require.True(t, hubListenerMatched(t, h, "ie-gateway-west"), "west's is untouched")

	table = h.Vanlink(ctx, append([]string{"status"}, h.PassFlags("status")...)...)
	require.Equal(t, 0, table.Code, "the spokes are still linked: a missing Connector is not a link failure")
	require.Regexp(t, `(?m)^east +linked +0/5 `, table.Stdout, "the REACHABLE column of east changed")
	require.Regexp(t, `(?m)^west +linked +1/5 `, table.Stdout)
	require.Regexp(t, `(?m)^east +ie-gateway +ie-gateway-east +no +- +no`, table.Stdout)

	live := statusJSON(t, h)
	require.False(t, serviceOf(t, live, "east", "ie-gateway-east").Matched, "status -o json says it too")
	require.True(t, serviceOf(t, live, "west", "ie-gateway-west").Matched)

	r = h.Cron(ctx)
	require.Equal(t, 0, r.Code)
	rec = h.Record(ctx)
	require.False(t, serviceOf(t, rec, "east", "ie-gateway-east").Matched, "the next pass records it")
	require.True(t, serviceOf(t, rec, "west", "ie-gateway-west").Matched)
}
