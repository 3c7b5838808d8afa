package charts_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"helm.sh/helm/v3/pkg/chartutil"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"sigs.k8s.io/yaml"

	"github.com/vanlink/vanlink/internal/charts"
)

// nested builds {path[0]: {path[1]: ... value}}.
func nested(value any, path ...string) map[string]any {
	m := map[string]any{path[len(path)-1]: value}
	for i := len(path) - 2; i >= 0; i-- {
		m = map[string]any{path[i]: m}
	}
	return m
}

func hookJob(t *testing.T, out *charts.Rendered) batchv1.Job {
	t.Helper()
	for _, h := range out.Hooks {
		if h.GetKind() == "Job" {
			var job batchv1.Job
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(h.Object, &job))
			return job
		}
	}
	t.Fatal("no hook Job rendered")
	return batchv1.Job{}
}

func TestHelmGlobalValuesAreAccepted(t *testing.T) {
	for _, r := range []release{hubRelease, eastRelease, {"hub-defaults", charts.HubChart, nil}} {
		t.Run(r.name+" takes global values an umbrella chart passes to every dependency", func(t *testing.T) {
			out := render(t, r, map[string]any{"global": map[string]any{"pattern": "industrial-edge", "clusterDomain": "example.com",
				"hubClusterDomain": map[string]any{"nested": true}}})
			require.NotEmpty(t, out.Objects)
		})
	}
	t.Run("global.imageRegistry and global.imagePullSecrets reach the sync pods and the operator images", func(t *testing.T) {
		set := map[string]any{"global": map[string]any{"imageRegistry": "mirror.example.com:5000", "imagePullSecrets": []any{"mirror-pull", map[string]any{"name": "other"}}},
			"sync":     map[string]any{"imagePullSecrets": []any{map[string]any{"name": "own"}, "mirror-pull"}},
			"operator": map[string]any{"subscription": map[string]any{"enabled": true}}}
		out := render(t, hubRelease, set)
		delete(set, "sync")
		pod := hookJob(t, out).Spec.Template.Spec
		require.Equal(t, "mirror.example.com:5000/vanlink/vanlink:0.1.0", pod.Containers[0].Image, "the registry of the repository is replaced")
		require.Equal(t, []corev1.LocalObjectReference{{Name: "own"}, {Name: "mirror-pull"}, {Name: "other"}}, pod.ImagePullSecrets, "local first, then global, no duplicate")
		env, _, _ := unstructured.NestedSlice(out.Find("Subscription")[0].Object, "spec", "config", "env")
		require.Equal(t, "mirror.example.com:5000/skupper/skupper-router:3.5.1", env[0].(map[string]any)["value"])
		spoke := render(t, eastRelease, set)
		env, _, _ = unstructured.NestedSlice(spoke.Find("Subscription")[0].Object, "spec", "config", "env")
		require.Equal(t, "mirror.example.com:5000/skupper/kube-adaptor:2.2.1", env[1].(map[string]any)["value"])
	})
	t.Run("an image without a registry gets global.imageRegistry in front", func(t *testing.T) {
		out := render(t, hubRelease, map[string]any{"global": map[string]any{"imageRegistry": "mirror.example.com/"}, "sync": map[string]any{"image": map[string]any{"repository": "vanlink/vanlink"}}})
		require.Equal(t, "mirror.example.com/vanlink/vanlink:0.1.0", hookJob(t, out).Spec.Template.Spec.Containers[0].Image)
	})
	t.Run("a global.imageRegistry that is not a string names the value", func(t *testing.T) {
		_, err := charts.Render(t.Context(), repo(t, charts.HubChart), hubRelease.options(t, map[string]any{"global": map[string]any{"imageRegistry": 5}}))
		require.ErrorContains(t, err, "global.imageRegistry")
	})
}

// mergeSet merges b into a copy of a, as a later --set does.
func mergeSet(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		am, aok := out[k].(map[string]any)
		bm, bok := v.(map[string]any)
		if aok && bok {
			out[k] = mergeSet(am, bm)
			continue
		}
		out[k] = v
	}
	return out
}

// valuePaths lists every key path of a values.yaml, maps and leaves.
func valuePaths(t *testing.T, chart string) [][]string {
	data, err := os.ReadFile(repo(t, chart+"/values.yaml"))
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, yaml.Unmarshal(data, &v))
	var out [][]string
	var walk func(prefix []string, m map[string]any)
	walk = func(prefix []string, m map[string]any) {
		for k, x := range m {
			p := append(slices.Clone(prefix), k)
			out = append(out, p)
			if sub, ok := x.(map[string]any); ok {
				walk(p, sub)
			}
		}
	}
	walk(nil, v)
	return out
}

// nullFeatures are the combinations of optional features each key path of
// values.yaml is set to null under: a null must be handled wherever the
// templates that read the value render.
func nullFeatures(chart string) map[string]map[string]any {
	if chart == charts.SpokeChart {
		return map[string]map[string]any{
			"defaults": nil,
			"every option on": {"workAgent": map[string]any{"rbac": true}, "namespace": map[string]any{"create": true, "labels": map[string]any{"team": "net"}},
				"operator": map[string]any{"subscription": map[string]any{"enabled": true}}, "site": map[string]any{"linkAccess": "default", "settings": map[string]any{"a": "b"}}},
		}
	}
	return map[string]map[string]any{
		"defaults": nil,
		"controller on": {"controller": map[string]any{"enabled": true, "metrics": map[string]any{
			"service": map[string]any{"enabled": true}, "serviceMonitor": map[string]any{"enabled": true}}}},
		"observer with an Ingress": observer(map[string]any{"ingress": map[string]any{"enabled": true, "host": "observer.example.com", "tlsSecretName": "tls"}}),
		"observer with a Route": observer(map[string]any{"auth": map[string]any{"strategy": "openshift"}, "tls": map[string]any{"source": "openshift"},
			"route": map[string]any{"enabled": true}}),
		"observer with a Gateway": observer(map[string]any{"tls": map[string]any{"source": "secret", "secretName": "console-tls"},
			"gateway": map[string]any{"enabled": true, "parentRefs": []any{map[string]any{"name": "public"}}, "caConfigMap": "observer-ca"}}),
		"manifestwork transport": {"sync": map[string]any{"transport": "manifestwork", "rbac": map[string]any{"scope": "namespaced"}}},
		"direct transport":       {"sync": map[string]any{"transport": "direct"}},
		"every other option on": {"namespace": map[string]any{"create": true}, "operator": map[string]any{"subscription": map[string]any{"enabled": true}},
			"sync": map[string]any{"prune": true, "rotation": map[string]any{"enabled": true}, "placement": map[string]any{"name": "spokes"}}},
	}
}

// namesTheValue tells whether err names the value at path as a user reads
// it: its key path (or the schema's words for a missing property), and no
// template trace.
func namesTheValue(err error, path []string) bool {
	msg := err.Error()
	if strings.Contains(msg, `executing "`) || strings.Contains(msg, "wrong type") || strings.Contains(msg, "nil pointer") || strings.Contains(msg, "%!") {
		return false
	}
	key := strings.Join(path, ".")
	// The key itself, or a value under it (catalog=null: catalog.spokes is empty).
	if strings.Contains(msg, key+" ") || strings.Contains(msg, key+":") || strings.Contains(msg, key+"=") ||
		strings.Contains(msg, key+".") || strings.HasSuffix(msg, key) {
		return true
	}
	// The schema's words: at '/sync/hook': missing property 'grantTimeout'.
	at := "at ''"
	if len(path) > 1 {
		at = "at '/" + strings.Join(path[:len(path)-1], "/") + "'"
	}
	return strings.Contains(msg, at) && strings.Contains(msg, "'"+path[len(path)-1]+"'")
}

// TestNullDeletesADefaultWithoutACrash sets every key path of both charts'
// values.yaml, one at a time and at every depth, to null (Helm's way to
// delete a default) under each combination of optional features: the chart
// either renders (no "<nil>" in what it renders), or fails with a message
// that names the value; never a template nil pointer or type error.
func TestNullDeletesADefaultWithoutACrash(t *testing.T) {
	for _, r := range []release{hubRelease, eastRelease} {
		for feature, set := range nullFeatures(r.chart) {
			t.Run(r.name+" "+feature, func(t *testing.T) {
				t.Parallel()
				render(t, r, set)
				for _, path := range valuePaths(t, r.chart) {
					key := strings.Join(path, ".")
					out, err := charts.Render(t.Context(), repo(t, r.chart), r.options(t, mergeSet(set, nested(nil, path...))))
					if err != nil {
						assert.True(t, namesTheValue(err, path), "%s=null must fail naming %s, without a template trace: %v", key, key, err)
						continue
					}
					for _, o := range out.All() {
						data, _ := o.MarshalJSON()
						assert.NotContains(t, string(data), "<nil>", "%s=null renders <nil> into %s %s", key, o.GetKind(), o.GetName())
					}
					assert.NotContains(t, out.Notes, "<nil>", "%s=null renders <nil> into NOTES.txt", key)
				}
			})
		}
	}
	t.Run("a template trace does not count as naming the value", func(t *testing.T) {
		require.False(t, namesTheValue(errors.New(`template: x/templates/_vanlink.tpl:398:12: executing "x" at <.Values.sync.clusterSelector>: wrong type for value; expected string; got interface {}`),
			[]string{"sync", "clusterSelector"}))
		require.False(t, namesTheValue(errors.New(`networkObserver.tls.secretName is used only with tls.source secret, and tls.source is %!s(<nil>)`),
			[]string{"networkObserver", "tls", "source"}), "a nil formatted into the message")
		require.True(t, namesTheValue(errors.New(`values don't meet the specifications of the schema(s): at '/sync/hook': missing property 'grantTimeout'`),
			[]string{"sync", "hook", "grantTimeout"}))
	})
	t.Run("site=null and grant=null name the value", func(t *testing.T) {
		for _, key := range []string{"site", "grant", "sync"} {
			_, err := charts.Render(t.Context(), repo(t, charts.HubChart), hubRelease.options(t, map[string]any{key: nil}))
			require.ErrorContains(t, err, "missing property '"+key+"'")
		}
	})
	t.Run("maps that mean nothing when empty keep working", func(t *testing.T) {
		for _, key := range []string{"commonLabels", "global", "catalog"} {
			render(t, hubRelease, map[string]any{key: nil})
		}
		render(t, hubRelease, nested(nil, "sync", "resources"))
		render(t, hubRelease, nested(nil, "namespace", "labels"))
	})
}

// appSet reads one ApplicationSet of values/argocd and evaluates its
// template for one generator element, as Argo CD does with goTemplate:
// text/template, Sprig, missingkey=error.
func appSet(t *testing.T, rel string, params map[string]any) (chartPath string, valueFiles []string, ignoreMissing bool, valuesObject map[string]any, app map[string]any) {
	t.Helper()
	data, err := os.ReadFile(repo(t, rel))
	require.NoError(t, err)
	var as map[string]any
	require.NoError(t, yaml.Unmarshal(data, &as))
	tmpl, err := yaml.Marshal(as["spec"].(map[string]any)["template"])
	require.NoError(t, err)
	app, err = execArgoTemplate(string(tmpl), params)
	require.NoError(t, err, "%s: the template must evaluate for %v", rel, params)
	src := app["spec"].(map[string]any)["source"].(map[string]any)
	helm := src["helm"].(map[string]any)
	for _, f := range helm["valueFiles"].([]any) {
		valueFiles = append(valueFiles, filepath.ToSlash(filepath.Clean(filepath.Join(src["path"].(string), f.(string)))))
	}
	ignoreMissing, _ = helm["ignoreMissingValueFiles"].(bool)
	valuesObject, _ = helm["valuesObject"].(map[string]any)
	return src["path"].(string), valueFiles, ignoreMissing, valuesObject, app
}

// renderApp renders what an Application evaluated by appSet installs:
// its value files (missing ones skipped when ignoreMissingValueFiles) and
// its valuesObject, in the destination namespace.
func renderApp(t *testing.T, chart string, files []string, ignoreMissing bool, obj map[string]any, ns string) (*charts.Rendered, []string) {
	t.Helper()
	o := charts.Options{ReleaseName: "vanlink", Namespace: ns, Set: obj}
	var used []string
	for _, f := range files {
		if _, err := os.Stat(repo(t, f)); err != nil {
			require.True(t, ignoreMissing, "value file %s is missing and ignoreMissingValueFiles is not set", f)
			continue
		}
		o.ValuesFiles = append(o.ValuesFiles, repo(t, f))
		used = append(used, f)
	}
	out, err := charts.Render(t.Context(), repo(t, chart), o)
	require.NoError(t, err, "rendering %s for the ApplicationSet", chart)
	return out, used
}

func TestApplicationSetsWithoutACM(t *testing.T) {
	t.Run("the hub Application renders the direct transport over Argo CD's cluster Secrets", func(t *testing.T) {
		chart, files, ignore, obj, _ := appSet(t, "values/argocd/clusters/applicationset-hub.yaml", map[string]any{"name": "hub", "server": "https://kubernetes.default.svc"})
		out, _ := renderApp(t, chart, files, ignore, obj, "service-interconnect")
		args := strings.Join(hookJob(t, out).Spec.Template.Spec.Containers[0].Args, " ")
		require.Contains(t, args, "--transport=direct")
		require.Contains(t, args, "--credentials-namespace=argocd", "Argo CD keeps its cluster Secrets in its own namespace")
		require.Contains(t, args, "--credentials-selector=argocd.argoproj.io/secret-type=cluster,vanlink.io/interconnect=spoke",
			"the cluster Secrets the spoke ApplicationSet selects")
		require.Empty(t, out.Find("ClusterRole"), "no ACM RBAC without ACM")
		var creds []string
		for _, r := range out.Find("Role") {
			creds = append(creds, r.GetNamespace())
		}
		require.Contains(t, creds, "argocd", "the Secrets are read where Argo CD keeps them")
	})
	clusters := map[string]struct {
		params      map[string]any
		clusterName string
	}{
		"a DNS-label name": {map[string]any{"name": "east", "nameNormalized": "east", "server": "https://east:6443",
			"metadata": map[string]any{"labels": map[string]any{"vanlink.io/interconnect": "spoke"}, "annotations": map[string]any{}}}, "east"},
		"an EKS ARN with its vanlink.io/cluster label": {map[string]any{"name": "arn:aws:eks:eu-west-1:123456789012:cluster/west", "nameNormalized": "arn-aws-eks-eu-west-1-123456789012-cluster-west",
			"server": "https://ABC.gr7.eu-west-1.eks.amazonaws.com", "metadata": map[string]any{"labels": map[string]any{"vanlink.io/interconnect": "spoke", "vanlink.io/cluster": "west"}, "annotations": map[string]any{}}}, "west"},
		"a GKE name with its vanlink.io/cluster label": {map[string]any{"name": "gke_my-project_europe-west1_east", "nameNormalized": "gke-my-project-europe-west1-east",
			"server": "https://10.0.0.1", "metadata": map[string]any{"labels": map[string]any{"vanlink.io/cluster": "east"}, "annotations": map[string]any{}}}, "east"},
	}
	for name, tc := range clusters {
		t.Run("a spoke Application for "+name, func(t *testing.T) {
			chart, files, ignore, obj, app := appSet(t, "values/argocd/clusters/applicationset-spokes.yaml", tc.params)
			appName := app["metadata"].(map[string]any)["name"].(string)
			require.Regexp(t, `^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`, appName, "the Application name must be a Kubernetes name")
			require.Contains(t, files, "values/clusters/"+tc.clusterName+".yaml", "the per-cluster values file in Git")
			require.True(t, ignore, "a cluster without a values file still gets an Application")
			out, used := renderApp(t, chart, files, ignore, obj, "service-interconnect")
			require.Contains(t, used, "values/clusters/"+tc.clusterName+".yaml")
			require.Equal(t, tc.clusterName, out.Find("Site")[0].GetName(), "the Site is named after the catalog's spoke")
		})
	}
	t.Run("a spoke without a values file of its own", func(t *testing.T) {
		_, files, ignore, _, _ := appSet(t, "values/argocd/clusters/applicationset-spokes.yaml", map[string]any{"name": "north", "nameNormalized": "north", "server": "https://north",
			"metadata": map[string]any{"labels": map[string]any{}, "annotations": map[string]any{}}})
		require.Contains(t, files, "values/clusters/north.yaml")
		require.True(t, ignore)
	})
	t.Run("the ACM spoke Application reads the cluster's values file too", func(t *testing.T) {
		chart, files, ignore, obj, _ := appSet(t, "values/argocd/acm/applicationset-spokes.yaml", map[string]any{"clusterName": "west", "server": "https://west"})
		require.Contains(t, files, "values/clusters/west.yaml")
		out, _ := renderApp(t, chart, files, ignore, obj, "service-interconnect")
		require.Equal(t, "west", out.Find("Site")[0].GetName())
		chart, files, ignore, obj, _ = appSet(t, "values/argocd/acm/applicationset-hub.yaml", map[string]any{"name": "hub", "server": "https://kubernetes.default.svc"})
		out, _ = renderApp(t, chart, files, ignore, obj, "service-interconnect")
		require.Contains(t, hookJob(t, out).Spec.Template.Spec.Containers[0].Args, "--placement=openshift-gitops/vanlink-spokes")
	})
}

// execArgoTemplate evaluates an ApplicationSet template as Argo CD does with
// goTemplate: true and goTemplateOptions ["missingkey=error"] (Sprig
// functions included) and returns the Application it makes.
func execArgoTemplate(tmpl string, params map[string]any) (map[string]any, error) {
	tp, err := template.New("applicationset").Funcs(sprig.TxtFuncMap()).Option("missingkey=error").Parse(tmpl)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := tp.Execute(&b, params); err != nil {
		return nil, err
	}
	var app map[string]any
	return app, yaml.Unmarshal(b.Bytes(), &app)
}

func TestObjectsDefaultToTheReleaseNamespace(t *testing.T) {
	bare := release{"bare", charts.HubChart, nil}
	o := bare.options(t, map[string]any{"catalog": catalog(t)})
	o.Namespace = "team-net"
	out, err := charts.Render(t.Context(), repo(t, charts.HubChart), o)
	require.NoError(t, err)
	require.Empty(t, out.Find("Namespace"), "a Namespace object is a choice, off by default")
	for _, obj := range out.All() {
		if obj.GetKind() != "ClusterRole" && obj.GetKind() != "ClusterRoleBinding" {
			require.Equal(t, "team-net", obj.GetNamespace(), "%s/%s must default to the release namespace", obj.GetKind(), obj.GetName())
		}
	}
	require.Contains(t, out.Notes, "helm install -n team-net --create-namespace", "NOTES says how the namespace comes to exist")
	require.Contains(t, out.Notes, "CreateNamespace=true")

	spoke := release{"east", charts.SpokeChart, nil}
	so := spoke.options(t, map[string]any{"clusterName": "east"})
	so.Namespace = "team-net"
	sout, err := charts.Render(t.Context(), repo(t, charts.SpokeChart), so)
	require.NoError(t, err)
	require.Empty(t, sout.Find("Namespace"))
	require.Equal(t, "team-net", sout.Find("Site")[0].GetNamespace())

	t.Run("a rendered Namespace is never deleted by helm uninstall or Argo CD", func(t *testing.T) {
		for _, r := range []release{hubRelease, eastRelease} {
			out := render(t, r, nil)
			ns := out.Find("Namespace")
			require.Len(t, ns, 1, "the shipped values render the network's namespace")
			require.Equal(t, "keep", ns[0].GetAnnotations()["helm.sh/resource-policy"])
			require.Equal(t, "Delete=false", ns[0].GetAnnotations()["argocd.argoproj.io/sync-options"])
			require.Contains(t, out.Notes, "CreateNamespace=true", "NOTES says how Argo CD's CreateNamespace fits")
		}
	})
}

// helmDefaultTimeout is helm install/upgrade's default --timeout.
const helmDefaultTimeout = 300

func TestTheHookFitsHelmsDefaultTimeout(t *testing.T) {
	out := render(t, hubRelease, nil)
	job := hookJob(t, out)
	pod := job.Spec.Template.Spec
	deadline := *job.Spec.ActiveDeadlineSeconds
	require.LessOrEqual(t, deadline+*pod.TerminationGracePeriodSeconds, int64(helmDefaultTimeout),
		"the hook Job (deadline plus the cleanup after SIGTERM) must end within helm's default --timeout, or the release fails while the Job goes on")
	var grant string
	for _, a := range pod.Containers[0].Args {
		if v, ok := strings.CutPrefix(a, "--grant-timeout="); ok {
			grant = v
		}
	}
	d, err := time.ParseDuration(grant)
	require.NoError(t, err)
	require.Less(t, int64(d.Seconds())+int64(120), deadline, "the grant wait plus a pass (spokeTimeout 2m) fit in the deadline")
	require.NotContains(t, out.Notes, "--timeout", "no advice needed with the defaults")
	require.EqualValues(t, 86400, *job.Spec.TTLSecondsAfterFinished)

	long := render(t, hubRelease, nested(600, "sync", "hook", "activeDeadlineSeconds"))
	require.Contains(t, long.Notes, "pass --timeout 630s", "NOTES says which --timeout a longer hook needs")
}

func TestPodKnobs(t *testing.T) {
	set := map[string]any{"sync": map[string]any{
		"priorityClassName":  "system-cluster-critical",
		"extraEnv":           []any{map[string]any{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}},
		"extraArgs":          []any{"--view-interval=2m"},
		"extraVolumes":       []any{map[string]any{"name": "ca", "configMap": map[string]any{"name": "trusted-ca"}}},
		"extraVolumeMounts":  []any{map[string]any{"name": "ca", "mountPath": "/etc/pki/ca-trust", "readOnly": true}},
		"podSecurityContext": map[string]any{"runAsNonRoot": true, "runAsUser": 1000680000, "seccompProfile": map[string]any{"type": "RuntimeDefault"}},
		"hook":               map[string]any{"ttlSecondsAfterFinished": 600},
	}}
	set["controller"] = map[string]any{"enabled": true, "keepHook": true}
	out := render(t, hubRelease, set)
	job := hookJob(t, out)
	var cj batchv1.CronJob
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(out.Find("CronJob")[0].Object, &cj))
	var dep appsv1.Deployment
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(out.Find("Deployment")[0].Object, &dep))
	require.EqualValues(t, 600, *job.Spec.TTLSecondsAfterFinished)
	for name, pod := range map[string]corev1.PodSpec{"hook": job.Spec.Template.Spec, "cron": cj.Spec.JobTemplate.Spec.Template.Spec, "controller": dep.Spec.Template.Spec} {
		c := pod.Containers[0]
		require.Equal(t, "system-cluster-critical", pod.PriorityClassName, name)
		require.Contains(t, c.Env, corev1.EnvVar{Name: "HTTPS_PROXY", Value: "http://proxy:3128"}, name)
		if name != "controller" {
			require.Equal(t, "--view-interval=2m", c.Args[len(c.Args)-1], "%s: extra args come last", name)
		}
		require.Len(t, pod.Volumes, 1, "%s: sync.extraVolumes", name)
		require.Equal(t, "trusted-ca", pod.Volumes[0].ConfigMap.Name, name)
		require.Len(t, c.VolumeMounts, 1, "%s: sync.extraVolumeMounts", name)
		require.Equal(t, "/etc/pki/ca-trust", c.VolumeMounts[0].MountPath, name)
		require.EqualValues(t, 1000680000, *pod.SecurityContext.RunAsUser, "%s: the pod securityContext is overridable", name)
		requireRestricted(t, pod)
	}
	t.Run("the container securityContext is overridable", func(t *testing.T) {
		out := render(t, hubRelease, nested(map[string]any{"readOnlyRootFilesystem": false, "allowPrivilegeEscalation": false, "runAsNonRoot": true,
			"capabilities": map[string]any{"drop": []any{"ALL"}}, "seccompProfile": map[string]any{"type": "RuntimeDefault"}}, "sync", "securityContext"))
		require.False(t, *hookJob(t, out).Spec.Template.Spec.Containers[0].SecurityContext.ReadOnlyRootFilesystem)
	})
	t.Run("Chart.yaml names the Kubernetes versions", func(t *testing.T) {
		for _, c := range []string{charts.HubChart, charts.SpokeChart} {
			ch, err := charts.Load(repo(t, c))
			require.NoError(t, err)
			require.NotEmpty(t, ch.Metadata.KubeVersion, "%s: kubeVersion", c)
		}
	})
}

func requireRestricted(t *testing.T, pod corev1.PodSpec) {
	t.Helper()
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	for _, r := range eval.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, &metav1.ObjectMeta{}, &pod) {
		require.True(t, r.Allowed, "restricted check failed: %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
	}
}

func rbacRules(t *testing.T, out *charts.Rendered, kind string) map[string][]rbacv1.PolicyRule {
	got := map[string][]rbacv1.PolicyRule{}
	for _, o := range out.Find(kind) {
		var r rbacv1.ClusterRole
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r))
		got[o.GetName()] = r.Rules
	}
	return got
}

func TestNamespacedRBACForFleetsThatListTheirSpokes(t *testing.T) {
	out := render(t, hubRelease, nested("namespaced", "sync", "rbac", "scope"))
	var bound []string
	for _, rb := range out.Find("RoleBinding") {
		var b rbacv1.RoleBinding
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(rb.Object, &b))
		if b.RoleRef.Kind == "ClusterRole" {
			bound = append(bound, b.Namespace)
			require.Equal(t, "hub-service-interconnect-sync-spoke", b.RoleRef.Name)
		}
	}
	require.ElementsMatch(t, []string{"east", "west"}, bound, "writes are bound only in the hub namespaces of catalog.spokes")
	crs := rbacRules(t, out, "ClusterRole")
	for _, r := range crs["hub-service-interconnect-sync"] {
		require.NotContains(t, r.Verbs, "create", "no cluster-wide write: %+v", r)
		require.NotContains(t, r.Verbs, "delete", "no cluster-wide write: %+v", r)
	}
	require.Contains(t, crs["hub-service-interconnect-sync-spoke"], rbacv1.PolicyRule{APIGroups: []string{"action.open-cluster-management.io"},
		Resources: []string{"managedclusteractions"}, Verbs: []string{"create", "get", "list", "watch", "delete"}})
	for _, r := range crs["hub-service-interconnect-sync"] {
		for _, res := range r.Resources {
			require.NotContains(t, []string{"managedclusteractions", "managedclusterviews"}, res, "no cluster-wide right on Actions or Views, not even list or watch: %+v", r)
		}
	}
	args, err := out.JobArgs(false)
	require.NoError(t, err)
	require.Contains(t, args, "--hub-namespaces=east,west", "the jobs watch only the hub namespaces their RoleBindings cover")
	var crbs []string
	for _, o := range out.Find("ClusterRoleBinding") {
		crbs = append(crbs, o.GetName())
	}
	require.Equal(t, []string{"hub-service-interconnect-sync"}, crbs, "only the read-only ClusterRole is bound cluster-wide")

	_, err = charts.Render(t.Context(), repo(t, charts.HubChart), hubRelease.options(t, map[string]any{"catalog": map[string]any{"spokes": []any{}},
		"sync": map[string]any{"rbac": map[string]any{"scope": "namespaced"}}}))
	require.ErrorContains(t, err, "sync.rbac.scope namespaced")
}

func TestManifestWorkRBACIsOnManifestWorksOnly(t *testing.T) {
	for name, scope := range map[string]string{"cluster": "cluster", "namespaced": "namespaced"} {
		t.Run(name, func(t *testing.T) {
			out := render(t, hubRelease, map[string]any{"sync": map[string]any{"transport": "manifestwork", "rbac": map[string]any{"scope": scope}}})
			works := rbacv1.PolicyRule{APIGroups: []string{"work.open-cluster-management.io"}, Resources: []string{"manifestworks"},
				Verbs: []string{"create", "get", "list", "watch", "patch", "delete"}}
			crs := rbacRules(t, out, "ClusterRole")
			role := "hub-service-interconnect-sync"
			if scope == "namespaced" {
				role += "-spoke"
				for _, r := range crs["hub-service-interconnect-sync"] {
					require.NotContains(t, r.Resources, "manifestworks", "no cluster-wide right on ManifestWorks with scope namespaced: %+v", r)
				}
			}
			require.Contains(t, crs[role], works)
			for _, rules := range crs {
				for _, r := range rules {
					for _, res := range r.Resources {
						require.NotContains(t, []string{"managedclusteractions", "managedclusterviews"}, res, "the manifestwork transport gets no right on ACM's Actions and Views: %+v", r)
					}
				}
			}
			args, err := out.JobArgs(false)
			require.NoError(t, err)
			require.Contains(t, args, "--transport=manifestwork")
			if scope == "namespaced" {
				require.Contains(t, args, "--hub-namespaces=east,west")
			}
		})
	}
}

// readmeRBAC returns the rows of the chart README's RBAC table, keyed by
// the resources named in backticks in the first column.
func readmeRBAC(t *testing.T) map[string][]string {
	data, err := os.ReadFile(repo(t, charts.HubChart+"/README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(data), "## RBAC of the sync jobs")
	require.True(t, ok)
	section, _, _ = strings.Cut(section, "\n## ")
	rows := map[string][]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.Contains(cells[1], "`") {
			continue
		}
		parts := strings.Split(cells[1], "`")
		for i := 1; i < len(parts); i += 2 {
			rows[parts[i]] = append(rows[parts[i]], strings.TrimSpace(cells[2])+" | "+strings.TrimSpace(cells[3]))
		}
	}
	return rows
}

func TestTheReadmeRBACTableMatchesWhatRenders(t *testing.T) {
	table := readmeRBAC(t)
	variants := map[string]map[string]any{
		"defaults":                nil,
		"rotation":                nested(true, "sync", "rotation", "enabled"),
		"a placement":             nested("vanlink-spokes", "sync", "placement", "name"),
		"namespaced":              nested("namespaced", "sync", "rbac", "scope"),
		"direct":                  {"sync": map[string]any{"transport": "direct", "clusterSelector": ""}},
		"manifestwork":            {"sync": map[string]any{"transport": "manifestwork", "placement": map[string]any{"name": "vanlink-spokes"}}},
		"manifestwork namespaced": {"sync": map[string]any{"transport": "manifestwork", "rbac": map[string]any{"scope": "namespaced"}}},
		"sync disabled":           nested(false, "sync", "enabled"),
		"direct elsewhere":        {"sync": map[string]any{"transport": "direct", "direct": map[string]any{"secretNamespace": "argocd"}}},
		// The controller runs as the sync ServiceAccount, with Roles of its
		// own bound to it.
		"the controller":                          nested(true, "controller", "enabled"),
		"the controller, direct":                  {"controller": map[string]any{"enabled": true}, "sync": map[string]any{"transport": "direct", "clusterSelector": ""}},
		"the controller, manifestwork namespaced": {"controller": map[string]any{"enabled": true}, "sync": map[string]any{"transport": "manifestwork", "rbac": map[string]any{"scope": "namespaced"}}},
	}
	for name, set := range variants {
		t.Run(name, func(t *testing.T) {
			out := render(t, hubRelease, set)
			if set["controller"] != nil {
				require.NotEmpty(t, out.Find("Deployment"), "the variant renders the controller")
			}
			for _, kind := range []string{"ClusterRole", "Role"} {
				for role, rules := range rbacRules(t, out, kind) {
					for _, r := range rules {
						for _, res := range r.Resources {
							key := res
							if len(r.ResourceNames) > 0 {
								key = res + "/" + r.ResourceNames[0]
							}
							rows, ok := table[key]
							if !ok {
								rows, ok = table[res]
							}
							require.True(t, ok, "%s %s grants %v on %s: the README's RBAC table must list `%s`", kind, role, r.Verbs, res, res)
							found := false
							for _, row := range rows {
								all := true
								for _, v := range r.Verbs {
									all = all && strings.Contains(row, v)
								}
								found = found || all
							}
							require.True(t, found, "%s %s grants %v on %s; the README says %q", kind, role, r.Verbs, res, rows)
						}
					}
				}
			}
		})
	}
}

func TestRenderTimeChecks(t *testing.T) {
	tests := map[string]struct {
		release release
		set     map[string]any
		want    []string
	}{
		"a clusterSelector that is not a label selector": {hubRelease, nested("region in (east", "sync", "clusterSelector"), []string{"sync.clusterSelector", `"region in (east"`, "not a label selector"}},
		"a clusterSelector with a bad key":               {hubRelease, nested("-region=east", "sync", "clusterSelector"), []string{"sync.clusterSelector"}},
		"a clusterSelector together with a Placement": {hubRelease, map[string]any{"sync": map[string]any{"clusterSelector": "env=prod", "placement": map[string]any{"name": "p"}}},
			[]string{"sync.clusterSelector", "sync.placement.name", "set one"}},
		"the direct transport with a Placement": {hubRelease, map[string]any{"sync": map[string]any{"transport": "direct", "placement": map[string]any{"name": "p"}}},
			[]string{"sync.transport direct", "sync.placement.name"}},
		"the direct transport with a clusterSelector": {hubRelease, map[string]any{"sync": map[string]any{"transport": "direct", "clusterSelector": "env=prod"}},
			[]string{"sync.transport direct", "sync.clusterSelector"}},
		"a credentials selector that is not a label selector": {hubRelease, map[string]any{"sync": map[string]any{"transport": "direct", "direct": map[string]any{"secretSelector": "a=b=c"}}},
			[]string{"sync.direct.secretSelector"}},
		"a backend host written as a URL": {eastRelease, editService(t, "ie-gateway", func(s map[string]any) { s["backend"] = map[string]any{"host": "http://spoke-gateway:8080"} }),
			[]string{"catalog.services[ie-gateway].backend.host", "http://spoke-gateway:8080", "host name only"}},
		"a backend host with a port": {hubRelease, editService(t, "ie-gateway", func(s map[string]any) { s["backend"] = map[string]any{"host": "spoke-gateway:8080"} }),
			[]string{"catalog.services[ie-gateway].backend.host", "backend.port"}},
		"a commonLabels key that is not a label key":     {hubRelease, nested(map[string]any{"team name": "net"}, "commonLabels"), []string{"commonLabels", `"team name"`, "not a label key"}},
		"a commonLabels value that is not a label value": {eastRelease, nested(map[string]any{"team": "network team"}, "commonLabels"), []string{"commonLabels.team", `"network team"`, "not a label value"}},
		"a commonLabels value over 63 characters":        {hubRelease, nested(map[string]any{"example.com/team": strings.Repeat("x", 64)}, "commonLabels"), []string{"commonLabels.example.com/team"}},
		"a namespace label that is not a label value":    {hubRelease, nested(map[string]any{"a": "b c"}, "namespace", "labels"), []string{"namespace.labels.a"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := charts.Render(t.Context(), repo(t, tc.release.chart), tc.release.options(t, tc.set))
			require.Error(t, err, "rendering must fail for %s", name)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w, "the error must name the offending value")
			}
		})
	}
	t.Run("the chart's selector check agrees with Kubernetes' parser", func(t *testing.T) {
		for _, sel := range []string{"", "env", "!env", "env=prod", "env==prod", "env!=prod", "env in (a,b)", "env notin (a, b)", "example.com/env=prod,tier",
			"vanlink.io/interconnect=spoke,argocd.argoproj.io/secret-type=cluster", "a=", "n>1", "env in (a,b),x!=y",
			"env=prod=x", "env in (a", "-x=y", "env in ()", "a b", "x=y,", "Example.com/env=x", "env=-x", "in (a)"} {
			_, perr := labels.Parse(sel)
			_, err := charts.Render(t.Context(), repo(t, charts.HubChart), hubRelease.options(t, nested(sel, "sync", "clusterSelector")))
			if perr == nil {
				require.NoError(t, err, "%q is a label selector", sel)
			} else {
				require.ErrorContains(t, err, "not a label selector", "%q is not a label selector (%v)", sel, perr)
			}
		}
	})
	t.Run("good labels render", func(t *testing.T) {
		render(t, hubRelease, nested(map[string]any{"example.com/team": "net", "cost-center": "", "app.kubernetes.io/component-x": "a.b_c-d"}, "commonLabels"))
	})
}

func TestChartCIValuesLintAndRender(t *testing.T) {
	transports := map[string]bool{}
	for _, chart := range []string{charts.HubChart, charts.SpokeChart} {
		files, err := filepath.Glob(repo(t, chart+"/ci/*-values.yaml"))
		require.NoError(t, err)
		require.NotEmpty(t, files, "%s has ci/*-values.yaml for chart-testing", chart)
		for _, f := range files {
			t.Run(chart+" "+filepath.Base(f), func(t *testing.T) {
				o := charts.Options{ReleaseName: "ci", Namespace: "ci", ValuesFiles: []string{f}}
				require.NoError(t, charts.Lint(repo(t, chart), o), "helm lint --strict -f %s", f)
				out, err := charts.Render(t.Context(), repo(t, chart), o)
				require.NoError(t, err)
				require.NotEmpty(t, out.All())
				if chart == charts.HubChart {
					args, err := out.JobArgs(true)
					require.NoError(t, err)
					for _, a := range args {
						if v, ok := strings.CutPrefix(a, "--transport="); ok {
							transports[v] = true
						}
					}
				}
			})
		}
	}
	require.Equal(t, map[string]bool{"acm": true, "manifestwork": true, "direct": true}, transports,
		"chart-testing's values files cover every sync.transport of the hub chart")
}

// TestChartsNameTheirMaintainers: chart-testing's ct lint validates
// maintainers by default and fails a chart without them.
func TestChartsNameTheirMaintainers(t *testing.T) {
	for _, chart := range []string{charts.HubChart, charts.SpokeChart} {
		ch, err := charts.Load(repo(t, chart))
		require.NoError(t, err)
		require.NotEmpty(t, ch.Metadata.Maintainers, "%s/Chart.yaml lists maintainers", chart)
		for _, m := range ch.Metadata.Maintainers {
			require.NotEmpty(t, m.Name, "%s: a maintainer has a name (ct checks it is a GitHub account)", chart)
			require.True(t, m.URL != "" || m.Email != "", "%s: maintainer %s has a url or an email", chart, m.Name)
		}
	}
}

func TestNotesWithoutSyncJobs(t *testing.T) {
	out := render(t, hubRelease, nested(false, "sync", "enabled"))
	require.NotContains(t, out.Notes, "token-sync job links", "no word of sync jobs that are not rendered")
	require.NotContains(t, out.Notes, "logs job/")
	require.Contains(t, out.Notes, "sync.enabled=false")
	with := render(t, hubRelease, nil)
	require.Contains(t, with.Notes, "logs job/hub-service-interconnect-token-sync")
	noHook := render(t, hubRelease, nested(false, "sync", "hook", "enabled"))
	require.NotContains(t, noHook.Notes, "logs job/", "no hook, no hook log")
}

// TestEachChartLintsStrictWithNoValues: `helm lint --strict charts/<chart>`
// with no flag at all is clean (the spoke's clusterName defaults to the
// release name).
func TestEachChartLintsStrictWithNoValues(t *testing.T) {
	for _, chart := range []string{charts.HubChart, charts.SpokeChart} {
		require.NoError(t, charts.Lint(repo(t, chart), charts.Options{ReleaseName: "east", Namespace: "default"}), "helm lint --strict %s", chart)
	}
	out, err := charts.Render(t.Context(), repo(t, charts.SpokeChart), charts.Options{ReleaseName: "east", Namespace: "default"})
	require.NoError(t, err)
	sites := out.Find("Site")
	require.Len(t, sites, 1)
	require.Equal(t, "east", sites[0].GetName(), "the Site is named after the release when clusterName is not set")
}

// TestMakefileHelmReportsAKubernetesVersionTheChartsAccept: `go run` builds
// Helm without its release -ldflags, and such a Helm assumes Kubernetes
// v1.20.0, which both charts' kubeVersion refuses; the Makefile's HELM sets
// the version Helm's own build sets.
func TestMakefileHelmReportsAKubernetesVersionTheChartsAccept(t *testing.T) {
	data, err := os.ReadFile(repo(t, "Makefile"))
	require.NoError(t, err)
	var line string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "HELM ") {
			line = l
		}
	}
	require.NotEmpty(t, line, "the Makefile defines HELM")
	x := func(v string) string {
		m := regexp.MustCompile(regexp.QuoteMeta(v) + `=([0-9]+)`).FindStringSubmatch(line)
		require.NotNil(t, m, "HELM sets %s with -ldflags -X", v)
		return m[1]
	}
	version := x("helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor") + "." + x("helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor") + ".0"
	require.Equal(t, version, x("helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor")+"."+x("helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor")+".0",
		"helm lint checks deprecations against the same version")
	for _, c := range []string{charts.HubChart, charts.SpokeChart} {
		ch, err := charts.Load(repo(t, c))
		require.NoError(t, err)
		require.True(t, chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, version), "%s: kubeVersion %s accepts the Makefile's Helm (Kubernetes %s)", c, ch.Metadata.KubeVersion, version)
	}
}
