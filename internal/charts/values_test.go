package charts_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/internal/charts"
)

// TestJobsObserveWithinTheirDeadline: a Job runs at most its
// activeDeadlineSeconds, so the hook and the CronJob get the smaller of
// sync.observeTimeout and their deadline; the controller, which has none,
// gets sync.observeTimeout.
func TestJobsObserveWithinTheirDeadline(t *testing.T) {
	observe := func(args []string) string {
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--observe-timeout="); ok {
				return v
			}
		}
		return ""
	}
	tests := map[string]struct {
		set                    map[string]any
		hook, cron, controller string
	}{
		"the defaults: the hook's 260s deadline bounds 5m": {nil, "260s", "5m", "5m"},
		"a timeout shorter than both deadlines":            {nested("100s", "sync", "observeTimeout"), "100s", "100s", "100s"},
		"a longer hook deadline":                           {nested(600, "sync", "hook", "activeDeadlineSeconds"), "5m", "5m", "5m"},
		"a short CronJob deadline": {map[string]any{"sync": map[string]any{"observeTimeout": "1h", "cronJob": map[string]any{"activeDeadlineSeconds": 120}}},
			"260s", "120s", "1h"},
		"equal to the deadline":  {nested("260s", "sync", "observeTimeout"), "260s", "260s", "260s"},
		"one nanosecond longer":  {nested("4m20.000000001s", "sync", "observeTimeout"), "260s", "4m20.000000001s", "4m20.000000001s"},
		"hours, minutes, floats": {nested("0.05h", "sync", "observeTimeout"), "0.05h", "0.05h", "0.05h"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			set := mergeSet(map[string]any{"controller": map[string]any{"enabled": true, "keepHook": true}}, tc.set)
			out := render(t, hubRelease, set)
			hook, err := out.JobArgs(true)
			require.NoError(t, err)
			cron, err := out.JobArgs(false)
			require.NoError(t, err)
			ctrl, err := out.ControllerArgs()
			require.NoError(t, err)
			require.Equal(t, tc.hook, observe(hook), "the hook")
			require.Equal(t, tc.cron, observe(cron), "the CronJob")
			require.Equal(t, tc.controller, observe(ctrl), "the controller")
		})
	}
}

// TestControllerNeedsSync: the controller runs with the sync
// ServiceAccount and settings; without them the chart would render a Site
// and a grant only, silently.
func TestControllerNeedsSync(t *testing.T) {
	_, err := charts.Render(t.Context(), repo(t, charts.HubChart), hubRelease.options(t, map[string]any{
		"controller": map[string]any{"enabled": true}, "sync": map[string]any{"enabled": false}}))
	require.Error(t, err)
	require.ErrorContains(t, err, "controller.enabled")
	require.ErrorContains(t, err, "sync.enabled")
	render(t, hubRelease, map[string]any{"controller": map[string]any{"enabled": false}, "sync": map[string]any{"enabled": false}})
}

// TestDocsSayWhatTheChartsDo: words of the READMEs and the shipped values
// that the charts contradicted.
func TestDocsSayWhatTheChartsDo(t *testing.T) {
	read := func(rel string) string {
		data, err := os.ReadFile(repo(t, rel))
		require.NoError(t, err)
		return string(data)
	}
	spoke := read(charts.SpokeChart + "/README.md")
	require.NotContains(t, spoke, "fails when `clusterName` is missing", "clusterName falls back to the release name (TestEachChartLintsStrictWithNoValues)")
	require.NotContains(t, spoke, "`clusterName` (required)")
	require.Contains(t, spoke, "defaults to the release name")

	intro, _, _ := strings.Cut(read(charts.HubChart+"/README.md"), "\n## ")
	for _, w := range []string{"**vanlink controller**", "a Deployment", "PodDisruptionBudget", "**network observer**", "**token-sync**", "**Subscription**"} {
		require.Contains(t, intro, w, "the hub README's list of what the chart installs")
	}

	ch, err := charts.Load(repo(t, charts.HubChart))
	require.NoError(t, err)
	hub := read("values/clusters/hub.yaml")
	if ch.Values["namespace"].(map[string]any)["name"] == "" {
		require.NotContains(t, strings.Join(strings.Fields(hub), " "), "defaults already give namespace",
			"the chart's namespace.name default is empty; values/catalog.yaml sets the namespace")
	}
}

// readmeWaves reads the hub README's sync-wave table: wave -> objects.
func readmeWaves(t *testing.T) map[string]string {
	data, err := os.ReadFile(repo(t, charts.HubChart+"/README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(data), "## Sync waves")
	require.True(t, ok)
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 4 || strings.TrimSpace(cells[1]) == "wave" || strings.HasPrefix(strings.TrimSpace(cells[1]), "-") {
			continue
		}
		rows[strings.TrimSpace(cells[1])] = cells[2]
	}
	require.NotEmpty(t, rows)
	return rows
}

// TestTheReadmeSyncWavesMatchWhatRenders: every object the hub chart
// renders, with every optional part on, carries a sync wave (or is the
// PostSync hook) that the README's table lists with the object's kind.
func TestTheReadmeSyncWavesMatchWhatRenders(t *testing.T) {
	table := readmeWaves(t)
	hubService := map[string]any{"name": "hub-registry", "direction": "hub-to-spoke", "port": 5000,
		"backend":     map[string]any{"host": "registry.hub-infra.svc.cluster.local", "port": 443},
		"connector":   map[string]any{"tlsCredentials": "registry-client", "useClientCert": true},
		"certificate": map[string]any{"issuerRef": map[string]any{"name": "platform-ca", "kind": "ClusterIssuer"}}}
	controller := map[string]any{"enabled": true, "keepHook": true,
		"metrics": map[string]any{"service": map[string]any{"enabled": true}, "serviceMonitor": map[string]any{"enabled": true}}}
	variants := map[string]struct {
		set       map[string]any
		openshift bool
	}{
		"everything, acm": {set: mergeSet(withService(t, hubService), map[string]any{
			"controller": controller,
			"operator":   map[string]any{"subscription": map[string]any{"enabled": true}},
			"sync":       map[string]any{"rotation": map[string]any{"enabled": true}, "placement": map[string]any{"name": "p"}, "clusterSelector": ""},
			"networkObserver": map[string]any{"enabled": true, "ingress": map[string]any{"enabled": true, "host": "observer.example.com"},
				"gateway": map[string]any{"enabled": true, "parentRefs": []any{map[string]any{"name": "gw"}}, "caConfigMap": "ca"}},
		})},
		"direct, namespaced elsewhere": {set: map[string]any{"controller": controller,
			"sync": map[string]any{"transport": "direct", "clusterSelector": "", "direct": map[string]any{"secretNamespace": "argocd"}}}},
		"manifestwork, namespaced": {set: map[string]any{"controller": controller,
			"sync": map[string]any{"transport": "manifestwork", "rbac": map[string]any{"scope": "namespaced"}}}},
		"the observer on OpenShift": {openshift: true, set: map[string]any{"networkObserver": map[string]any{"enabled": true,
			"auth": map[string]any{"strategy": "openshift"}, "tls": map[string]any{"source": "openshift"}, "route": map[string]any{"enabled": true}}}},
	}
	seen := map[string]bool{}
	for name, v := range variants {
		t.Run(name, func(t *testing.T) {
			o := hubRelease.options(t, v.set)
			if v.openshift {
				o.APIVersions = []string{"route.openshift.io/v1"}
			}
			out, err := charts.Render(t.Context(), repo(t, charts.HubChart), o)
			require.NoError(t, err)
			for _, obj := range out.All() {
				wave := obj.GetAnnotations()["argocd.argoproj.io/sync-wave"]
				if wave == "" && obj.GetAnnotations()["argocd.argoproj.io/hook"] == "PostSync" {
					wave = "PostSync"
				}
				require.NotEmpty(t, wave, "%s %s carries a sync wave", obj.GetKind(), obj.GetName())
				row, ok := table[wave]
				require.True(t, ok, "%s %s is in wave %s, which the README's table does not list", obj.GetKind(), obj.GetName(), wave)
				require.Contains(t, row, obj.GetKind(), "%s %s is in wave %s: the README's row for it says %q", obj.GetKind(), obj.GetName(), wave, row)
				seen[obj.GetKind()] = true
			}
		})
	}
	for _, kind := range []string{"Deployment", "PodDisruptionBudget", "ServiceMonitor", "Certificate", "Route", "HTTPRoute", "Job", "Subscription"} {
		require.True(t, seen[kind], "the variants render a %s", kind)
	}
}
