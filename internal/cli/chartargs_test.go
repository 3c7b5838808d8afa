package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
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
				require.NoError(t, checkSyncArgs(args), "%s args", what)
			}
		})
	}
}

// checkSyncArgs parses the arguments of a token-sync Job as 'vanlink sync'
// does and validates them as it does before connecting.
func checkSyncArgs(args []string) error {
	if len(args) == 0 || args[0] != "sync" {
		return fmt.Errorf("want the sync subcommand: %v", args)
	}
	g := &globalOptions{}
	c, o := syncCommand(IOStreams{}, g)
	g.AddFlags(c.Flags())
	if err := c.ParseFlags(args[1:]); err != nil {
		return fmt.Errorf("vanlink sync refuses %v: %w", args, err)
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("vanlink sync refuses %v: %w", args, err)
	}
	return nil
}

// checkControllerArgs parses the arguments of the controller Deployment as
// 'vanlink controller' does and validates them as it does before connecting
// (connect: the global options, then controllerOptions.Validate).
func checkControllerArgs(args []string) error {
	if len(args) == 0 || args[0] != "controller" {
		return fmt.Errorf("want the controller subcommand: %v", args)
	}
	// The command itself must take every flag...
	g := &globalOptions{}
	c := newControllerCommand(IOStreams{}, g)
	g.AddFlags(c.Flags())
	if err := c.ParseFlags(args[1:]); err != nil {
		return fmt.Errorf("vanlink controller refuses %v: %w", args, err)
	}
	// ...and its options, registered as newControllerCommand registers them,
	// must validate.
	g = &globalOptions{}
	o := &controllerOptions{global: g}
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	o.pass.AddFlags(fs)
	o.AddFlags(fs)
	g.AddFlags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("vanlink controller refuses %v: %w", args, err)
	}
	if err := errors.Join(g.Validate(), o.Validate()); err != nil {
		return fmt.Errorf("vanlink controller refuses %v: %w", args, err)
	}
	return nil
}

// TestChartRefusesWhatTheCLIRefuses: for every scalar value of the hub
// chart under grant, token, namespace, sync and controller (found in the
// chart's values.yaml, so a value added later is covered), boundary values
// either fail the render naming the value, or render a hook Job, a CronJob
// and a controller whose arguments vanlink's own flag parsing and Validate
// accept. A value the chart renders into a flag the binary refuses would
// fail the hook, the CronJob or the controller on every run.
func TestChartRefusesWhatTheCLIRefuses(t *testing.T) {
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	chartDir := filepath.Join(root, charts.HubChart)
	ch, err := charts.Load(chartDir)
	require.NoError(t, err)

	// Bases that render every workload and as many flags as they can: the
	// hook, the CronJob and the controller together, with rotation, pruning,
	// a link cost and namespaced RBAC (--hub-namespaces), then the direct
	// transport (--credentials-*).
	bases := map[string]map[string]any{
		"acm": {
			"namespace":  map[string]any{"name": "service-interconnect"},
			"catalog":    map[string]any{"spokes": []any{"east", "west"}},
			"token":      map[string]any{"linkCost": 5},
			"controller": map[string]any{"enabled": true, "keepHook": true, "keepCronJob": true},
			"sync": map[string]any{"rotation": map[string]any{"enabled": true}, "prune": true,
				"rbac": map[string]any{"scope": "namespaced"}},
		},
		"direct": {
			"namespace":  map[string]any{"name": "service-interconnect"},
			"controller": map[string]any{"enabled": true, "keepHook": true, "keepCronJob": true},
			"sync": map[string]any{"transport": "direct", "rotation": map[string]any{"enabled": true},
				"direct": map[string]any{"secretNamespace": "argocd"}},
		},
	}
	durations := []any{"0s", "0ms", "0.5ns", "1ns", "500ms", "999999999ns", "1s", "1.5h", "1h30m", "2562047h", "2562048h"}
	integers := []any{-1, 0, 1, 2, 65535, 65536}
	strs := []any{"", "a", "Bad_Name", "-a", "a/b", "a=b"}
	leaves := chartScalarLeaves(ch.Values, "", []string{"grant", "token", "namespace", "sync", "controller"})
	require.Greater(t, len(leaves), 40, "the values were found")
	for _, leaf := range leaves {
		var candidates []any
		switch d := leaf.value.(type) {
		case bool:
			candidates = []any{true, false}
		case int, int64, float64:
			candidates = integers
		case string:
			candidates = strs
			if _, err := time.ParseDuration(d); err == nil {
				candidates = durations
			}
		default:
			continue
		}
		t.Run(leaf.path, func(t *testing.T) {
			t.Parallel()
			for baseName, base := range bases {
				for _, v := range candidates {
					name := fmt.Sprintf("%s=%v on %s", leaf.path, v, baseName)
					set := charts.MergeValues(base, nestedChartValue(v, strings.Split(leaf.path, ".")...))
					out, err := charts.Render(t.Context(), chartDir, charts.Options{ReleaseName: "hub", Namespace: "service-interconnect", Set: set})
					if err != nil {
						slash := "/" + strings.ReplaceAll(leaf.path, ".", "/")
						if !strings.Contains(err.Error(), leaf.path) && !strings.Contains(err.Error(), "'"+slash+"'") {
							t.Errorf("%s: the render fails without naming %s: %v", name, leaf.path, err)
						}
						continue
					}
					if args, err := out.JobArgs(true); err == nil {
						if err := checkSyncArgs(args); err != nil {
							t.Errorf("%s renders a hook Job that fails on every run: %v", name, err)
						}
					}
					if args, err := out.JobArgs(false); err == nil {
						if err := checkSyncArgs(args); err != nil {
							t.Errorf("%s renders a CronJob that fails on every run: %v", name, err)
						}
					}
					if args, err := out.ControllerArgs(); err == nil {
						if err := checkControllerArgs(args); err != nil {
							t.Errorf("%s renders a controller that fails on every run: %v", name, err)
						}
					}
				}
			}
		})
	}

	// The ones the review found, named: each must fail the render naming
	// the value.
	t.Run("the values the review found", func(t *testing.T) {
		for path, v := range map[string]any{"sync.observeTimeout": "0s", "sync.spokeTimeout": "0s", "sync.requestTimeout": "0s",
			"controller.resync": "500ms", "sync.hook.grantTimeout": "0s", "sync.concurrency": 0, "sync.linkReadyTimeout": "2562048h"} {
			_, err := charts.Render(t.Context(), chartDir, charts.Options{ReleaseName: "hub", Namespace: "service-interconnect",
				Set: charts.MergeValues(bases["acm"], nestedChartValue(v, strings.Split(path, ".")...))})
			require.Error(t, err, "%s=%v", path, v)
			require.True(t, strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "/"+strings.ReplaceAll(path, ".", "/")), "the error names %s: %v", path, err)
		}
	})
}

type chartLeaf struct {
	path  string
	value any
}

// chartScalarLeaves lists the scalar values under the top-level keys, sorted.
func chartScalarLeaves(values map[string]any, prefix string, keys []string) []chartLeaf {
	var out []chartLeaf
	for k, v := range values {
		if prefix == "" && !slices.Contains(keys, k) {
			continue
		}
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		switch v := v.(type) {
		case map[string]any:
			out = append(out, chartScalarLeaves(v, path, keys)...)
		case []any, nil:
		default:
			out = append(out, chartLeaf{path, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

func nestedChartValue(v any, path ...string) map[string]any {
	m := map[string]any{path[len(path)-1]: v}
	for i := len(path) - 2; i >= 0; i-- {
		m = map[string]any{path[i]: m}
	}
	return m
}
