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

	ch, err := charts.Load(repo(t, charts.HubChart))
	require.NoError(t, err)
	hub := read("values/clusters/hub.yaml")
	if ch.Values["namespace"].(map[string]any)["name"] == "" {
		require.NotContains(t, strings.Join(strings.Fields(hub), " "), "defaults already give namespace",
			"the chart's namespace.name default is empty; values/catalog.yaml sets the namespace")
	}
}
