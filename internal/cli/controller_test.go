package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/klog/v2"

	"github.com/vanlink/vanlink/pkg/controller"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/report"
)

func TestControllerFlagsAreValidated(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"a resync under a second":                  {[]string{"--resync", "100ms"}, "--resync 100ms"},
		"a max backoff under the min":              {[]string{"--min-backoff", "10s", "--max-backoff", "1s"}, "--max-backoff 1s"},
		"a renew deadline past the lease duration": {[]string{"--leader-renew-deadline", "20s"}, "--leader-lease-duration 15s: must be longer than --leader-renew-deadline (20s)"},
		"a pass flag still checked":                {[]string{"--concurrency", "0"}, "--concurrency 0"},
		"profiles with no address to serve them":   {[]string{"--profiling", "--http-address", ""}, `--http-address "": --profiling`},
		"a negative cache sync timeout":            {[]string{"--cache-sync-timeout", "-1s"}, "--cache-sync-timeout -1s"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := run(t, append([]string{"controller", "--kubeconfig", "/nonexistent"}, tc.args...)...)
			require.NotEqual(t, 0, code)
			require.Contains(t, errOut, tc.want)
		})
	}
}

func TestProfilesAreServedBesideTheMetricsOnlyWhenAskedFor(t *testing.T) {
	metrics := controller.NewMetrics()
	get := func(h http.Handler, path string) int {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code
	}
	plain := controller.Handler(metrics, nil)
	require.Equal(t, http.StatusNotFound, get(plain, "/debug/pprof/heap"), "no profile without --profiling")
	profiled := withProfiling(plain)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/allocs", "/debug/pprof/cmdline", "/debug/pprof/symbol"} {
		require.Equal(t, http.StatusOK, get(profiled, path), "with --profiling, %s is served", path)
	}
	for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
		require.Equal(t, http.StatusOK, get(profiled, path), "with --profiling, %s is still served", path)
	}
}

func TestTheControllersStatusRecordIsWhatStatusReads(t *testing.T) {
	kube := fake.NewClientset()
	s := statusReporter{store: report.StatusStore{ConfigMaps: kube.CoreV1().ConfigMaps("ns"), Name: "vanlink-status"}, transport: &report.TransportRecord{Name: "acm"}}
	res := &reconcile.Result{Started: time.Now(), Grant: reconcile.GrantSummary{Namespace: "ns", Name: "spoke-link", UID: "g1"},
		Changes: []reconcile.Change{{Step: reconcile.Step{Cluster: "east", Action: reconcile.InSync}, Outcome: reconcile.OutcomeLinked}}}
	require.NoError(t, s.Report(t.Context(), res))
	rec, err := s.store.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, reconcile.OutcomeLinked, rec.Spokes["east"].State)
	require.Equal(t, "acm", rec.Transport.Name)
	events := fake.NewClientset()
	e := eventReporter{report.EventRecorder{Events: events.CoreV1().Events("ns"), Component: "vanlink"}}
	res.Changes[0].Outcome = reconcile.OutcomePushed
	require.NoError(t, e.Report(t.Context(), res))
	list, err := events.CoreV1().Events("ns").List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)
	require.Equal(t, corev1.EventTypeNormal, list.Items[0].Type)
}

func TestClientGosKlogLinesFollowTheControllersJSONLogFormat(t *testing.T) {
	var buf bytes.Buffer
	o := &controllerOptions{global: &globalOptions{logFormat: "json"}}
	o.logger(&buf)
	t.Cleanup(klog.ClearLogger)
	// As client-go's leader election and reflectors log.
	klog.Infof("successfully acquired lease %s", "service-interconnect/vanlink-sync")
	klog.ErrorS(errors.New("connection refused"), "Failed to watch", "reflector", "managedclusters")
	klog.V(4).InfoS("a detail klog's verbosity drops")
	klog.Flush()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2, "klog's two lines at verbosity 0 go to the controller's log: %q", buf.String())
	var first, second map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first), "a JSON object: %s", lines[0])
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &second), "a JSON object: %s", lines[1])
	require.Equal(t, "successfully acquired lease service-interconnect/vanlink-sync", first["msg"])
	require.Equal(t, "Failed to watch", second["msg"])
	require.Equal(t, "ERROR", second["level"])
	require.Equal(t, "managedclusters", second["reflector"])
}
