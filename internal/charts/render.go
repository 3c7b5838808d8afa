// Package charts renders and installs vanlink's Helm charts with the Helm SDK,
// exactly as `helm template` / `helm install` would, for tests, the demo and
// tooling; it also generates the chart READMEs' values tables and the copies
// of the shared template code (make docs). It is repository tooling, not a
// library: it lives under internal/, and nothing in pkg/ or jobs/ imports it.
package charts

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/lint/support"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Names of the two charts, relative to the repository root.
const (
	HubChart   = "charts/service-interconnect"
	SpokeChart = "charts/spoke-interconnect"
)

// KubeVersion is the Kubernetes version charts are rendered for.
var KubeVersion = chartutil.KubeVersion{Version: "v1.37.1", Major: "1", Minor: "37"}

// Options are the inputs of a render.
type Options struct {
	// ReleaseName defaults to the chart name.
	ReleaseName string
	// Namespace is the release namespace (default "default").
	Namespace string
	// ValuesFiles are merged in order, like helm's -f.
	ValuesFiles []string
	// Set are values merged last, like helm's --set (nested maps).
	Set map[string]any
	// APIVersions are extra API versions the cluster is said to serve
	// (e.g. "route.openshift.io/v1" to render for OpenShift).
	APIVersions []string
}

// Rendered is the output of a render.
type Rendered struct {
	// Objects are the chart's regular objects, in manifest order.
	Objects []*unstructured.Unstructured
	// Hooks are the hook objects (e.g. the PostSync Job).
	Hooks []*unstructured.Unstructured
	// Notes is the rendered NOTES.txt.
	Notes string
}

// All returns regular objects followed by hooks.
func (r *Rendered) All() []*unstructured.Unstructured {
	return append(append([]*unstructured.Unstructured{}, r.Objects...), r.Hooks...)
}

// Find returns the objects of a kind, in order.
func (r *Rendered) Find(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range r.All() {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// Load loads a chart from a directory.
func Load(chartDir string) (*chart.Chart, error) {
	c, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", chartDir, err)
	}
	return c, nil
}

// Values merges the values files and overrides of opts, like helm's -f and --set.
func (o Options) Values() (map[string]any, error) {
	vo := values.Options{ValueFiles: o.ValuesFiles}
	vals, err := vo.MergeValues(getter.Providers{})
	if err != nil {
		return nil, err
	}
	return MergeValues(vals, deepCopy(o.Set)), nil
}

// MergeValues merges set into base as helm's --set does: maps merge key by
// key, anything else (null included: Helm's way to delete a default)
// replaces what base holds. Neither argument is changed.
func MergeValues(base, set map[string]any) map[string]any {
	out := make(map[string]any, len(base))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range set {
		if sm, ok := v.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = MergeValues(bm, sm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Render renders the chart in chartDir as `helm template` does, schema
// validation and `fail` included. Errors are returned as Helm words them.
func Render(ctx context.Context, chartDir string, opts Options) (*Rendered, error) {
	ch, err := Load(chartDir)
	if err != nil {
		return nil, err
	}
	vals, err := opts.Values()
	if err != nil {
		return nil, err
	}
	cfg := &action.Configuration{Capabilities: capabilities(opts.APIVersions)}
	install := action.NewInstall(cfg)
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.DisableHooks = false
	install.ReleaseName = opts.ReleaseName
	if install.ReleaseName == "" {
		install.ReleaseName = ch.Name()
	}
	install.Namespace = opts.Namespace
	if install.Namespace == "" {
		install.Namespace = "default"
	}
	install.KubeVersion = &KubeVersion
	install.APIVersions = opts.APIVersions
	rel, err := install.RunWithContext(ctx, ch, vals)
	if err != nil {
		return nil, err
	}
	out := &Rendered{Notes: rel.Info.Notes}
	if out.Objects, err = Decode([]byte(rel.Manifest)); err != nil {
		return nil, fmt.Errorf("decoding the manifest of %s: %w", chartDir, err)
	}
	sort.SliceStable(rel.Hooks, func(i, j int) bool { return rel.Hooks[i].Weight < rel.Hooks[j].Weight })
	for _, h := range rel.Hooks {
		objs, err := Decode([]byte(h.Manifest))
		if err != nil {
			return nil, fmt.Errorf("decoding hook %s of %s: %w", h.Name, chartDir, err)
		}
		out.Hooks = append(out.Hooks, objs...)
	}
	return out, nil
}

// Lint runs `helm lint --strict` on the chart with the given values and
// returns every message of severity warning or worse as an error.
func Lint(chartDir string, opts Options) error {
	vals, err := opts.Values()
	if err != nil {
		return err
	}
	l := action.NewLint()
	l.Strict = true
	l.KubeVersion = &KubeVersion
	res := l.Run([]string{chartDir}, vals)
	var errs []error
	for _, m := range res.Messages {
		if m.Severity >= support.WarningSev {
			errs = append(errs, fmt.Errorf("%s", m.Error()))
		}
	}
	errs = append(errs, res.Errors...)
	return errors.Join(errs...)
}

// Decode splits a multi-document YAML manifest into objects, skipping empty
// ones. Whole numbers decode as int64, as from an API server.
func Decode(manifest []byte) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	var out []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		data, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(data)) == 0 || string(bytes.TrimSpace(data)) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(data); err != nil {
			return nil, fmt.Errorf("%w in:\n%s", err, doc)
		}
		out = append(out, u)
	}
}

// RepoPath joins root with a chart or values path given with forward slashes.
func RepoPath(root, rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }

func capabilities(extra []string) *chartutil.Capabilities {
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = KubeVersion
	caps.APIVersions = append(caps.APIVersions, extra...)
	return caps
}

// deepCopy copies overrides through JSON, so numbers become float64 as in
// values read from YAML files and the caller's map is never modified.
func deepCopy(m map[string]any) map[string]any {
	out := map[string]any{}
	if data, err := json.Marshal(m); err == nil {
		_ = json.Unmarshal(data, &out)
	}
	return out
}

// JobArgs returns the container arguments of the rendered token-sync hook
// Job (hook true) or CronJob of the hub chart.
func (r *Rendered) JobArgs(hook bool) ([]string, error) {
	kind := "CronJob"
	path := []string{"spec", "jobTemplate", "spec", "template", "spec", "containers"}
	if hook {
		kind, path = "Job", []string{"spec", "template", "spec", "containers"}
	}
	for _, o := range r.All() {
		if o.GetKind() != kind {
			continue
		}
		containers, _, err := unstructured.NestedSlice(o.Object, path...)
		if err != nil || len(containers) == 0 {
			return nil, fmt.Errorf("%s %s has no containers", kind, o.GetName())
		}
		c, _ := containers[0].(map[string]any)
		raw, _, _ := unstructured.NestedStringSlice(c, "args")
		return raw, nil
	}
	return nil, fmt.Errorf("the chart rendered no %s (is it disabled?)", kind)
}

// ControllerArgs returns the container arguments of the rendered vanlink
// controller Deployment of the hub chart.
func (r *Rendered) ControllerArgs() ([]string, error) {
	for _, o := range r.All() {
		if o.GetKind() != "Deployment" || o.GetLabels()["app.kubernetes.io/component"] != "controller" {
			continue
		}
		containers, _, err := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		if err != nil || len(containers) == 0 {
			return nil, fmt.Errorf("Deployment %s has no containers", o.GetName())
		}
		c, _ := containers[0].(map[string]any)
		raw, _, _ := unstructured.NestedStringSlice(c, "args")
		return raw, nil
	}
	return nil, fmt.Errorf("the chart rendered no controller Deployment (is controller.enabled false?)")
}
