package charts_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNotesSayWhatIsRendered: NOTES.txt names the hook Job, the CronJob and
// the controller only when they are rendered, and tells how to read the
// controller's logs and metrics when it runs.
func TestNotesSayWhatIsRendered(t *testing.T) {
	const (
		hookLog       = "logs job/hub-service-interconnect-token-sync"
		controllerLog = "logs deployment/hub-service-interconnect-controller"
		metrics       = "/metrics"
		status        = "vanlink status --namespace service-interconnect"
		timeout       = "--timeout 630s"
	)
	long := map[string]any{"activeDeadlineSeconds": 600}
	tests := map[string]struct {
		set        map[string]any
		want, not  []string
		renderHook bool
	}{
		"the hook only": {
			set:        map[string]any{"sync": map[string]any{"hook": long}},
			want:       []string{hookLog, status, timeout, "The token-sync hook Job and CronJob link it"},
			not:        []string{controllerLog, metrics, "controller"},
			renderHook: true,
		},
		"the controller only": {
			set:  map[string]any{"controller": map[string]any{"enabled": true, "keepCronJob": false}, "sync": map[string]any{"hook": long}},
			want: []string{controllerLog, status, metrics, "/healthz", "port-forward deployment/hub-service-interconnect-controller 8080:8080", "The vanlink controller links it to this hub without any secret in Git."},
			not:  []string{hookLog, "--timeout", "token-sync"},
		},
		"the controller and its CronJob": {
			set:  map[string]any{"controller": map[string]any{"enabled": true}, "sync": map[string]any{"hook": long}},
			want: []string{controllerLog, metrics, "The vanlink controller links it to this hub without any secret in Git\n(the token-sync CronJob too)."},
			not:  []string{hookLog, "--timeout", "hook"},
		},
		"the controller and the hook": {
			set:        map[string]any{"controller": map[string]any{"enabled": true, "keepHook": true, "keepCronJob": false, "metrics": map[string]any{"port": 9090}}, "sync": map[string]any{"hook": long}},
			want:       []string{controllerLog, hookLog, status, timeout, "port-forward deployment/hub-service-interconnect-controller 9090:9090", "127.0.0.1:9090/metrics", "\n(the token-sync hook Job too)."},
			renderHook: true,
		},
		"no job and no controller": {
			set:  map[string]any{"sync": map[string]any{"hook": map[string]any{"enabled": false}, "cronJob": map[string]any{"enabled": false}}},
			want: []string{status, "No token-sync job or controller is rendered", "vanlink sync --namespace service-interconnect"},
			not:  []string{hookLog, controllerLog, "links it to this hub"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out := render(t, hubRelease, tc.set)
			require.Equal(t, tc.renderHook, len(out.Find("Job")) == 1, "the case says whether the hook Job renders")
			for _, w := range tc.want {
				require.Contains(t, out.Notes, w)
			}
			for _, n := range tc.not {
				require.NotContains(t, out.Notes, n, "NOTES name nothing that is not rendered")
			}
		})
	}
}

// TestNotesWithAnEmptyCatalog: no empty list under a heading.
func TestNotesWithAnEmptyCatalog(t *testing.T) {
	out := render(t, hubRelease, map[string]any{"catalog": map[string]any{"services": []any{}, "spokes": []any{}}})
	require.NotContains(t, out.Notes, "Spoke services on the hub:")
	require.Contains(t, out.Notes, "No spoke services on the hub")
	full := render(t, hubRelease, nil)
	require.Contains(t, full.Notes, "Spoke services on the hub:\n  ")
	require.NotContains(t, full.Notes, "No spoke services")
}
