package charts_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/internal/charts"
)

// repo returns the absolute path of a repository file.
func repo(t testing.TB, rel string) string {
	t.Helper()
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	return charts.RepoPath(root, rel)
}

// release describes one chart rendered with one set of values files.
type release struct {
	name   string
	chart  string
	values []string
}

// shippedReleases are the charts with every values file the repository ships.
func shippedReleases(t testing.TB) []release {
	t.Helper()
	rels := []release{
		{"hub-defaults", charts.HubChart, nil},
		{"hub", charts.HubChart, []string{"values/catalog.yaml", "values/clusters/hub.yaml"}},
	}
	spokes, err := filepath.Glob(repo(t, "values/clusters/*.yaml"))
	require.NoError(t, err)
	for _, f := range spokes {
		name := filepath.Base(f[:len(f)-len(".yaml")])
		if name == "hub" {
			continue
		}
		rels = append(rels, release{name, charts.SpokeChart, []string{"values/catalog.yaml", "values/clusters/" + name + ".yaml"}})
	}
	return rels
}

func (r release) options(t testing.TB, set map[string]any) charts.Options {
	o := charts.Options{ReleaseName: r.name, Namespace: "service-interconnect", Set: set}
	for _, v := range r.values {
		o.ValuesFiles = append(o.ValuesFiles, repo(t, v))
	}
	return o
}

func render(t testing.TB, r release, set map[string]any) *charts.Rendered {
	t.Helper()
	out, err := charts.Render(t.Context(), repo(t, r.chart), r.options(t, set))
	require.NoError(t, err, "rendering %s", r.name)
	return out
}

var (
	hubRelease  = release{"hub", charts.HubChart, []string{"values/catalog.yaml", "values/clusters/hub.yaml"}}
	eastRelease = release{"east", charts.SpokeChart, []string{"values/catalog.yaml", "values/clusters/east.yaml"}}
	westRelease = release{"west", charts.SpokeChart, []string{"values/catalog.yaml", "values/clusters/west.yaml"}}
)

// catalog returns the shipped catalog, for tests to modify.
func catalog(t testing.TB) map[string]any {
	t.Helper()
	data, err := os.ReadFile(repo(t, "values/catalog.yaml"))
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, yaml.Unmarshal(data, &v))
	return v["catalog"].(map[string]any)
}

// withService returns {"catalog": shipped catalog plus svc}.
func withService(t testing.TB, svc map[string]any) map[string]any {
	c := catalog(t)
	c["services"] = append(c["services"].([]any), svc)
	return map[string]any{"catalog": c}
}

// withServiceIn returns set (as withService or editService return) with
// one more service.
func withServiceIn(set map[string]any, svc map[string]any) map[string]any {
	c := set["catalog"].(map[string]any)
	c["services"] = append(c["services"].([]any), svc)
	return set
}

// editService returns {"catalog": shipped catalog with service name edited}.
func editService(t testing.TB, name string, edit func(map[string]any)) map[string]any {
	c := catalog(t)
	for _, s := range c["services"].([]any) {
		if s.(map[string]any)["name"] == name {
			edit(s.(map[string]any))
		}
	}
	return map[string]any{"catalog": c}
}

func str(o *unstructured.Unstructured, path ...string) string {
	s, _, _ := unstructured.NestedString(o.Object, path...)
	return s
}

func num(o *unstructured.Unstructured, path ...string) int64 {
	n, _, _ := unstructured.NestedInt64(o.Object, path...)
	return n
}

func unstructuredSlice(o *unstructured.Unstructured, path ...string) ([]any, bool, error) {
	return unstructured.NestedSlice(o.Object, path...)
}
