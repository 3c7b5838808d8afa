package cli

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/internal/charts"
)

// TestChartJobArgsAreValidCommandLines parses the arguments the hub chart
// gives the hook Job and the CronJob with this binary's own flags, for every
// combination of options the chart renders, so the chart and the CLI cannot
// drift apart.
func TestChartJobArgsAreValidCommandLines(t *testing.T) {
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	variants := map[string]map[string]any{
		"shipped values": nil,
		"every option": {
			"token": map[string]any{"linkCost": 5},
			"sync": map[string]any{"placement": map[string]any{"name": "vanlink-spokes", "namespace": "openshift-gitops"},
				"rotation": map[string]any{"enabled": true}, "prune": true, "verbosity": 2, "failOn": "pending"},
		},
		"a cluster selector":   {"sync": map[string]any{"clusterSelector": "region in (east,west)"}},
		"the direct transport": {"sync": map[string]any{"transport": "direct", "direct": map[string]any{"secretNamespace": "argocd", "secretSelector": "env=demo"}}},
	}
	for name, set := range variants {
		t.Run(name, func(t *testing.T) {
			out, err := charts.Render(t.Context(), filepath.Join(root, charts.HubChart), charts.Options{ReleaseName: "hub", Namespace: "service-interconnect",
				ValuesFiles: []string{filepath.Join(root, "values/catalog.yaml"), filepath.Join(root, "values/clusters/hub.yaml")}, Set: set})
			require.NoError(t, err)
			for what, hook := range map[string]bool{"hook Job": true, "CronJob": false} {
				args, err := out.JobArgs(hook)
				require.NoError(t, err)
				require.Equal(t, "sync", args[0], what)
				g := &globalOptions{}
				c, o := syncCommand(IOStreams{}, g)
				g.AddFlags(c.Flags())
				require.NoError(t, c.ParseFlags(args[1:]), "%s args must parse: %v", what, args)
				require.NoError(t, o.Validate(), "%s args must validate: %v", what, args)
			}
		})
	}
}
