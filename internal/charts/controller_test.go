package charts_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

func controllerSet(kv map[string]any) map[string]any {
	c := map[string]any{"enabled": true}
	for k, v := range kv {
		c[k] = v
	}
	return map[string]any{"controller": c}
}

func TestControllerIsOffByDefault(t *testing.T) {
	out := render(t, hubRelease, nil)
	require.Empty(t, out.Find("Deployment"), "no controller unless controller.enabled")
	require.Len(t, out.Find("CronJob"), 1)
	require.NotEmpty(t, out.Hooks)
}

func TestControllerDeployment(t *testing.T) {
	out := render(t, hubRelease, controllerSet(nil))
	deps := out.Find("Deployment")
	require.Len(t, deps, 1)
	var d appsv1.Deployment
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(deps[0].Object, &d))
	require.EqualValues(t, 2, *d.Spec.Replicas, "two replicas, one leading")
	c := d.Spec.Template.Spec.Containers[0]
	require.Equal(t, "controller", c.Args[0])
	require.Contains(t, c.Args, "--lease=vanlink-sync", "the controller leads on the jobs' Lease")
	require.Contains(t, c.Args, "--http-address=:8080")
	require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path)
	require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	require.NotNil(t, c.Resources.Requests.Memory(), "resources are set")
	require.Equal(t, d.Spec.Template.Spec.ServiceAccountName, "hub-service-interconnect-sync", "it runs as the sync ServiceAccount")

	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	for _, r := range eval.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, &d.Spec.Template.ObjectMeta, &d.Spec.Template.Spec) {
		require.True(t, r.Allowed, "restricted check failed: %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
	}
	require.Len(t, out.Find("PodDisruptionBudget"), 1, "a PodDisruptionBudget for two replicas")
	require.Len(t, out.Find("CronJob"), 1, "the CronJob is kept as a safety net by default")
	for _, h := range out.Hooks {
		require.NotEqual(t, "Job", h.GetKind(), "the hook is off by default under the controller")
	}
	require.Empty(t, out.Find("Service"), "no metrics Service unless asked")

	one := render(t, hubRelease, controllerSet(map[string]any{"replicas": 1, "keepCronJob": false}))
	require.Empty(t, one.Find("PodDisruptionBudget"), "no PodDisruptionBudget for one replica")
	require.Empty(t, one.Find("CronJob"))
}

func TestControllerRBACAddsOnlyWatches(t *testing.T) {
	for _, transport := range []string{"acm", "direct"} {
		t.Run(transport, func(t *testing.T) {
			set := controllerSet(nil)
			set["sync"] = map[string]any{"transport": transport}
			out := render(t, hubRelease, set)
			var extra []string
			for _, o := range out.Find("Role") {
				if !strings.Contains(o.GetName(), "-controller") {
					continue
				}
				var r rbacv1.Role
				require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r))
				for _, rule := range r.Rules {
					require.Equal(t, []string{"watch"}, rule.Verbs, "the controller adds only watches to the jobs' rights")
					extra = append(extra, rule.Resources...)
				}
			}
			slices.Sort(extra)
			want := []string{"sites"}
			if transport == "direct" {
				want = []string{"secrets", "sites"}
			}
			require.Equal(t, want, extra)
		})
	}
}

func TestControllerMetricsServiceAndServiceMonitor(t *testing.T) {
	out := render(t, hubRelease, controllerSet(map[string]any{"metrics": map[string]any{
		"service": map[string]any{"enabled": true}, "serviceMonitor": map[string]any{"enabled": true, "labels": map[string]any{"release": "prom"}}}}))
	require.Len(t, out.Find("Service"), 1)
	sm := out.Find("ServiceMonitor")
	require.Len(t, sm, 1)
	require.Equal(t, "prom", sm[0].GetLabels()["release"])
}

func TestControllerGoMemoryLimitFollowsTheContainers(t *testing.T) {
	env := func(set map[string]any) []corev1.EnvVar {
		t.Helper()
		out := render(t, hubRelease, set)
		var d appsv1.Deployment
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(out.Find("Deployment")[0].Object, &d))
		return d.Spec.Template.Spec.Containers[0].Env
	}
	e := env(controllerSet(nil))
	require.Len(t, e, 1)
	require.Equal(t, "GOMEMLIMIT", e[0].Name)
	require.Equal(t, "limits.memory", e[0].ValueFrom.ResourceFieldRef.Resource, "the default limit (256Mi) in bytes")
	require.Equal(t, "1", e[0].ValueFrom.ResourceFieldRef.Divisor.String())

	noLimit := controllerSet(map[string]any{"resources": map[string]any{"limits": nil, "requests": map[string]any{"memory": "64Mi"}}})
	require.Empty(t, env(noLimit), "no memory limit, no GOMEMLIMIT")

	set := controllerSet(nil)
	set["sync"] = map[string]any{"extraEnv": []any{map[string]any{"name": "GOMEMLIMIT", "value": "180MiB"}}}
	e = env(set)
	require.Equal(t, "GOMEMLIMIT", e[len(e)-1].Name)
	require.Equal(t, "180MiB", e[len(e)-1].Value, "sync.extraEnv comes last, so it wins")
}
