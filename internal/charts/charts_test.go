package charts_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/vanlink/vanlink/internal/charts"
)

func TestEveryChartRendersWithEveryValuesFile(t *testing.T) {
	for _, r := range shippedReleases(t) {
		t.Run(r.name, func(t *testing.T) {
			out := render(t, r, nil)
			require.NotEmpty(t, out.Objects, "the chart must render objects")
			require.NotEmpty(t, out.Notes, "NOTES.txt must tell the user what to check next")
		})
	}
}

func TestHelmLintStrictIsClean(t *testing.T) {
	for _, r := range shippedReleases(t) {
		t.Run(r.name, func(t *testing.T) {
			require.NoError(t, charts.Lint(repo(t, r.chart), r.options(t, nil)), "helm lint --strict must be clean")
		})
	}
}

// The reference platform: ten hub Listeners, two per service, and one per
// broker of each of the three Kafka clusters of each spoke (eighteen).
var referenceListeners = func() map[string]int64 {
	out := map[string]int64{
		"ie-gateway-east": 8080, "ie-gateway-west": 8080,
		"prometheus-east": 9091, "prometheus-west": 9091,
		"kafka-east-tst": 9092, "kafka-west-tst": 9092,
		"kafka-east-stormshift": 9092, "kafka-west-stormshift": 9092,
		"kafka-east-datalake": 9092, "kafka-west-datalake": 9092,
	}
	for _, spoke := range []string{"east", "west"} {
		for suffix, cluster := range map[string]string{"tst": "dev-cluster", "stormshift": "factory-cluster", "datalake": "prod-cluster"} {
			for n := range 3 {
				out[fmt.Sprintf("kafka-%s-%s-%s-kafka-%d", spoke, suffix, cluster, n)] = 9096
			}
		}
	}
	return out
}()

func TestHubRendersExactlyTheReferenceListeners(t *testing.T) {
	out := render(t, hubRelease, nil)
	got := map[string]int64{}
	for _, l := range out.Find("Listener") {
		require.Equal(t, "service-interconnect", l.GetNamespace())
		require.Equal(t, l.GetName(), str(l, "spec", "host"), "the Listener host is the hub DNS name")
		got[l.GetName()] = num(l, "spec", "port")
	}
	require.Equal(t, referenceListeners, got, "the hub must render exactly the reference Listeners")

	grants := out.Find("AccessGrant")
	require.Len(t, grants, 1)
	require.Equal(t, "spoke-link", grants[0].GetName())
	require.EqualValues(t, 10, num(grants[0], "spec", "redemptionsAllowed"), "redemptionsAllowed must be explicit")
	require.Equal(t, "720h", str(grants[0], "spec", "expirationWindow"), "expirationWindow must be explicit")
	require.Equal(t, "PostSync", out.Hooks[0].GetAnnotations()["argocd.argoproj.io/hook"])
	require.Contains(t, jobArgs(t, out.Hooks[0]), "--token-name=hub-link")
}

func TestHubListenersAndSpokeConnectorsPairOneToOne(t *testing.T) {
	hub := render(t, hubRelease, nil)
	listeners := map[string]*unstructured.Unstructured{}
	for _, l := range hub.Find("Listener") {
		key := str(l, "spec", "routingKey")
		require.NotContains(t, listeners, key, "routing keys must be unique on the hub")
		listeners[key] = l
	}
	wantBackends := map[string]string{"ie-gateway-%s": "spoke-gateway"}
	wantSelectors := map[string]string{
		"kafka-%s-tst": "strimzi.io/cluster=dev-cluster,strimzi.io/broker-role=true", "kafka-%s-stormshift": "strimzi.io/cluster=factory-cluster,strimzi.io/broker-role=true",
		"kafka-%s-datalake": "strimzi.io/cluster=prod-cluster,strimzi.io/broker-role=true",
	}
	matched := map[string]bool{}
	for _, spoke := range []release{eastRelease, westRelease} {
		out := render(t, spoke, nil)
		sites := out.Find("Site")
		require.Len(t, sites, 1)
		require.Equal(t, spoke.name, sites[0].GetName(), "the spoke Site is named after the cluster")
		_, hasLinkAccess, _ := unstructured.NestedString(sites[0].Object, "spec", "linkAccess")
		require.False(t, hasLinkAccess, "a spoke Site leaves linkAccess empty by default")
		connectors := out.Find("Connector")
		require.Len(t, connectors, 5, "spoke %s offers five services", spoke.name)
		for _, c := range connectors {
			key := str(c, "spec", "routingKey")
			l, ok := listeners[key]
			require.True(t, ok, "Connector %s on %s has no hub Listener with routing key %q", c.GetName(), spoke.name, key)
			require.Equal(t, spoke.name, l.GetLabels()["vanlink.io/spoke"], "routing key %q must pair with the Listener of the same spoke", key)
			require.False(t, matched[key], "routing key %q matched twice", key)
			matched[key] = true
			// A Connector that exposes pods by name also offers <key>.<pod>
			// (upstream internal/site/connector.go UpdateBridgeConfigForConnectorToPod):
			// the per-pod hub Listeners of this spoke and service pair with it.
			if expose, _, _ := unstructured.NestedBool(c.Object, "spec", "exposePodsByName"); expose {
				for podKey, pl := range listeners {
					if pl.GetLabels()["vanlink.io/pod"] == "" || !strings.HasPrefix(podKey, key+".") {
						continue
					}
					require.Equal(t, spoke.name, pl.GetLabels()["vanlink.io/spoke"])
					require.Equal(t, key+"."+pl.GetLabels()["vanlink.io/pod"], podKey, "the per-pod routing key is <key>.<pod>")
					require.False(t, matched[podKey], "routing key %q matched twice", podKey)
					matched[podKey] = true
				}
			}
			for pattern, sel := range wantSelectors {
				if key == fmt.Sprintf(pattern, spoke.name) {
					require.Equal(t, sel, str(c, "spec", "selector"), "backend of %s", key)
				}
			}
			hasHost, hasSelector := str(c, "spec", "host") != "", str(c, "spec", "selector") != ""
			require.True(t, hasHost != hasSelector, "Connector %s must set exactly one of host or selector", c.GetName())
			for pattern, host := range wantBackends {
				if key == fmt.Sprintf(pattern, spoke.name) {
					require.Equal(t, host, str(c, "spec", "host"), "backend of %s", key)
				}
			}
			if strings.HasPrefix(key, "prometheus-") {
				require.Contains(t, str(c, "spec", "selector"), "thanos-querier-auth-proxy", "Prometheus goes through the auth proxy")
			}
		}
	}
	require.Len(t, matched, len(listeners), "every hub Listener must have exactly one spoke Connector")
}

func TestBadValuesFailNamingTheValue(t *testing.T) {
	long := strings.Repeat("x", 60)
	tests := map[string]struct {
		release release
		set     map[string]any
		want    []string
	}{
		"a routing key used by two services": {
			release: hubRelease,
			set:     withService(t, map[string]any{"name": "kafka-copy", "direction": "spoke-to-hub", "port": 9093, "listenerName": "kafka-copy-{spoke}", "routingKey": "kafka-{spoke}-tst", "backend": map[string]any{"host": "x"}}),
			want:    []string{"catalog.services[kafka-copy]", `routing key "kafka-east-tst"`, "catalog.services[kafka-tst]"},
		},
		"a Listener name used by two services": {
			release: hubRelease,
			set:     withService(t, map[string]any{"name": "gw2", "direction": "spoke-to-hub", "port": 8081, "listenerName": "ie-gateway-{spoke}", "routingKey": "gw2-{spoke}", "backend": map[string]any{"host": "x"}}),
			want:    []string{"catalog.services[gw2].listenerName", `"ie-gateway-east"`},
		},
		"a generated name over 63 characters": {
			release: hubRelease,
			set:     editService(t, "prometheus", func(s map[string]any) { s["listenerName"] = long + "-{spoke}" }),
			want:    []string{"catalog.services[prometheus].listenerName", "at most 63"},
		},
		"a generated name that is not DNS-1123": {
			release: hubRelease,
			set:     editService(t, "prometheus", func(s map[string]any) { s["listenerName"] = "Prom_{spoke}" }),
			want:    []string{"catalog.services[prometheus].listenerName", "not a DNS-1123 label"},
		},
		"a listener for a spoke that is not declared": {
			release: hubRelease,
			set:     editService(t, "kafka-tst", func(s map[string]any) { s["spokes"] = []any{"east", "north"} }),
			want:    []string{"catalog.services[kafka-tst].spokes", `spoke "north" is not declared`},
		},
		"a per-spoke listener name without {spoke}": {
			release: hubRelease,
			set:     editService(t, "kafka-tst", func(s map[string]any) { s["listenerName"] = "kafka-tst" }),
			want:    []string{"catalog.services[kafka-tst].listenerName", "must contain {spoke}"},
		},
		"a spoke declared twice": {
			release: hubRelease,
			set:     map[string]any{"catalog": map[string]any{"spokes": []any{"east", "east"}}},
			want:    []string{"catalog.spokes", `"east" is declared twice`},
		},
		"a service name used twice": {
			release: hubRelease,
			set:     withService(t, map[string]any{"name": "prometheus", "direction": "spoke-to-hub", "port": 1, "listenerName": "p2-{spoke}", "backend": map[string]any{"host": "x"}}),
			want:    []string{"catalog.services[prometheus]", "used twice"},
		},
		"a backend with both selector and host": {
			release: eastRelease,
			set:     editService(t, "ie-gateway", func(s map[string]any) { s["backend"] = map[string]any{"host": "gw", "selector": "app=gw"} }),
			want:    []string{"catalog.services[ie-gateway].backend", "not both"},
		},
		"a backend with neither selector nor host": {
			release: eastRelease,
			set:     editService(t, "ie-gateway", func(s map[string]any) { s["backend"] = map[string]any{"port": 8080} }),
			want:    []string{"catalog.services[ie-gateway].backend", "set host or selector"},
		},
		"a port out of range": {
			release: hubRelease,
			set:     editService(t, "ie-gateway", func(s map[string]any) { s["port"] = 70000 }),
			want:    []string{"/catalog/services/0/port", "65,535"},
		},
		"an unknown direction": {
			release: hubRelease,
			set:     editService(t, "ie-gateway", func(s map[string]any) { s["direction"] = "both-ways" }),
			want:    []string{"/catalog/services/0/direction", "spoke-to-hub"},
		},
		"a missing clusterName": {
			release: release{"spoke", charts.SpokeChart, []string{"values/catalog.yaml"}},
			want:    []string{"clusterName is not set", `release name "spoke"`},
		},
		"a clusterName that is not declared in the catalog": {
			release: eastRelease,
			set:     map[string]any{"clusterName": "north"},
			want:    []string{"clusterName", `"north" is not declared in catalog.spokes`},
		},
		"a clusterName that is not DNS-1123": {
			release: eastRelease,
			set:     map[string]any{"clusterName": "East_1"},
			want:    []string{"clusterName", "DNS-1123"},
		},
		"a cron schedule with a minute out of range": {
			release: hubRelease,
			set:     map[string]any{"sync": map[string]any{"cronJob": map[string]any{"schedule": "61 * * * *"}}},
			want:    []string{"sync.cronJob.schedule", "minute", "out of range"},
		},
		"a cron schedule with four fields": {
			release: hubRelease,
			set:     map[string]any{"sync": map[string]any{"cronJob": map[string]any{"schedule": "*/30 * * *"}}},
			want:    []string{"sync.cronJob.schedule", "five"},
		},
		"a cron schedule with garbage in a field": {
			release: hubRelease,
			set:     map[string]any{"sync": map[string]any{"cronJob": map[string]any{"schedule": "*/30 * * * everyday"}}},
			want:    []string{"sync.cronJob.schedule", "day-of-week"},
		},
		"an unknown top-level value (a typo)": {
			release: hubRelease,
			set:     map[string]any{"sycn": map[string]any{"enabled": false}},
			want:    []string{"sycn"},
		},
		"an unknown nested value (a typo)": {
			release: hubRelease,
			set:     map[string]any{"sync": map[string]any{"cronJob": map[string]any{"shedule": "@hourly"}}},
			want:    []string{"shedule"},
		},
		"the image tag latest": {
			release: hubRelease,
			set:     map[string]any{"sync": map[string]any{"image": map[string]any{"tag": "latest"}}},
			want:    []string{"sync.image.tag", "latest"},
		},
		"a malformed image digest": {
			release: hubRelease,
			set:     map[string]any{"sync": map[string]any{"image": map[string]any{"digest": "sha256:nope"}}},
			want:    []string{"digest"},
		},
		"an unknown fail-on policy": {
			release: hubRelease,
			set:     map[string]any{"sync": map[string]any{"failOn": "sometimes"}},
			want:    []string{"failOn"},
		},
		"a grant that allows no redemption": {
			release: hubRelease,
			set:     map[string]any{"grant": map[string]any{"redemptionsAllowed": 0}},
			want:    []string{"redemptionsAllowed"},
		},
		"an expiration window that is not a Go duration": {
			release: hubRelease,
			set:     map[string]any{"grant": map[string]any{"expirationWindow": "30 days"}},
			want:    []string{"expirationWindow"},
		},
		"an unknown link access": {
			release: hubRelease,
			set:     map[string]any{"site": map[string]any{"linkAccess": "public"}},
			want:    []string{"linkAccess"},
		},
		"a spoke name that is not DNS-1123": {
			release: hubRelease,
			set:     map[string]any{"catalog": map[string]any{"spokes": []any{"East"}}},
			want:    []string{"catalog", "spokes", "East"},
		},
		"a hub Site that accepts no links": {
			release: hubRelease,
			set:     map[string]any{"site": map[string]any{"linkAccess": "none"}},
			want:    []string{"site.linkAccess", `"none"`, "no spoke could link", "loadbalancer", "nodeport"},
		},
		"no ServiceAccount name when the chart does not create one": {
			release: hubRelease,
			set:     map[string]any{"sync": map[string]any{"serviceAccount": map[string]any{"create": false}}},
			want:    []string{"sync.serviceAccount.name is required"},
		},
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
}

func TestEnabledFalseSwitchesFeaturesOff(t *testing.T) {
	kinds := func(out *charts.Rendered) map[string]int {
		m := map[string]int{}
		for _, o := range out.All() {
			m[o.GetKind()]++
		}
		return m
	}
	off := func(path ...string) map[string]any {
		m := map[string]any{path[len(path)-1]: false}
		for i := len(path) - 2; i >= 0; i-- {
			m = map[string]any{path[i]: m}
		}
		return m
	}
	tests := map[string]struct {
		release release
		set     map[string]any
		gone    []string
		kept    []string
	}{
		"sync.enabled=false removes the jobs and their RBAC":   {hubRelease, off("sync", "enabled"), []string{"Job", "CronJob", "ServiceAccount", "ClusterRole", "Role"}, []string{"Site", "AccessGrant", "Listener"}},
		"sync.hook.enabled=false removes only the hook":        {hubRelease, off("sync", "hook", "enabled"), []string{"Job"}, []string{"CronJob", "Role"}},
		"sync.cronJob.enabled=false removes only the CronJob":  {hubRelease, off("sync", "cronJob", "enabled"), []string{"CronJob"}, []string{"Job"}},
		"grant.enabled=false removes the AccessGrant":          {hubRelease, off("grant", "enabled"), []string{"AccessGrant"}, []string{"Site"}},
		"site.enabled=false removes the hub Site":              {hubRelease, off("site", "enabled"), []string{"Site"}, []string{"AccessGrant"}},
		"namespace.create=false removes the Namespace":         {hubRelease, off("namespace", "create"), []string{"Namespace"}, []string{"Site"}},
		"site.enabled=false removes the spoke Site":            {eastRelease, off("site", "enabled"), []string{"Site"}, []string{"Connector"}},
		"a service with enabled=false is gone from both sides": {hubRelease, editService(t, "ie-gateway", func(s map[string]any) { s["enabled"] = false }), nil, []string{"Listener"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := kinds(render(t, tc.release, tc.set))
			for _, k := range tc.gone {
				require.Zero(t, got[k], "%s must not be rendered", k)
			}
			for _, k := range tc.kept {
				require.NotZero(t, got[k], "%s must still be rendered", k)
			}
		})
	}
	t.Run("a disabled service renders neither Listener nor Connector", func(t *testing.T) {
		set := editService(t, "ie-gateway", func(s map[string]any) { s["enabled"] = false })
		for _, r := range []release{hubRelease, eastRelease} {
			for _, o := range render(t, r, set).All() {
				require.NotContains(t, o.GetName(), "ie-gateway", "%s must not render %s/%s", r.name, o.GetKind(), o.GetName())
			}
		}
		require.Len(t, render(t, hubRelease, set).Find("Listener"), len(referenceListeners)-2)
	})
}

func TestHubSiteLinkAccess(t *testing.T) {
	site := func(set map[string]any, apis ...string) string {
		o := hubRelease.options(t, set)
		o.APIVersions = apis
		out, err := charts.Render(t.Context(), repo(t, hubRelease.chart), o)
		require.NoError(t, err)
		return str(out.Find("Site")[0], "spec", "linkAccess")
	}
	require.Equal(t, "loadbalancer", site(nil), "plain Kubernetes gets a LoadBalancer by default")
	require.Equal(t, "route", site(nil, "route.openshift.io/v1"), "OpenShift gets a Route by default")
	require.Equal(t, "nodeport", site(map[string]any{"site": map[string]any{"linkAccess": "nodeport"}}, "route.openshift.io/v1"), "an explicit value wins")
}

func TestHookJobAndCronJob(t *testing.T) {
	out := render(t, hubRelease, map[string]any{"sync": map[string]any{
		"hook":         map[string]any{"backoffLimit": 3, "activeDeadlineSeconds": 120, "annotations": map[string]any{"team": "net"}},
		"resources":    map[string]any{"requests": map[string]any{"cpu": "10m"}},
		"nodeSelector": map[string]any{"node-role.kubernetes.io/infra": ""},
		"tolerations":  []any{map[string]any{"key": "infra", "operator": "Exists"}},
	}})
	require.Len(t, out.Hooks, 1, "one hook: the token-sync Job")
	var job batchv1.Job
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(out.Hooks[0].Object, &job))
	require.Equal(t, map[string]string{
		"argocd.argoproj.io/hook":               "PostSync",
		"argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
		"helm.sh/hook":                          "post-install,post-upgrade",
		"helm.sh/hook-delete-policy":            "before-hook-creation",
		"helm.sh/hook-weight":                   "10",
		"team":                                  "net",
	}, job.Annotations, "the hook must carry both Argo CD and Helm hook annotations")
	require.EqualValues(t, 3, *job.Spec.BackoffLimit)
	require.EqualValues(t, 120, *job.Spec.ActiveDeadlineSeconds)
	pod := job.Spec.Template.Spec
	require.Equal(t, "10m", pod.Containers[0].Resources.Requests.Cpu().String())
	require.Contains(t, pod.NodeSelector, "node-role.kubernetes.io/infra")
	require.Len(t, pod.Tolerations, 1)
	require.Equal(t, "ghcr.io/vanlink/vanlink:0.1.0", pod.Containers[0].Image, "the tag defaults to the chart's appVersion")
	require.Contains(t, pod.Containers[0].Args, "--policy=postsync")
	require.Contains(t, pod.Containers[0].Args, "--fresh", "the hook reads every spoke as it is now")
	require.Contains(t, pod.Containers[0].Args, "--request-timeout=30s")
	require.Contains(t, pod.Containers[0].Args, "--link-ready-timeout=10m")
	require.EqualValues(t, 30, *pod.TerminationGracePeriodSeconds, "room for the cleanup after SIGTERM")

	var cj batchv1.CronJob
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(out.Find("CronJob")[0].Object, &cj))
	require.Equal(t, "*/30 * * * *", cj.Spec.Schedule, "every 30 minutes by default")
	require.Equal(t, batchv1.ForbidConcurrent, cj.Spec.ConcurrencyPolicy)
	require.EqualValues(t, 3, *cj.Spec.SuccessfulJobsHistoryLimit)
	require.EqualValues(t, 3, *cj.Spec.FailedJobsHistoryLimit)
	require.EqualValues(t, 300, *cj.Spec.StartingDeadlineSeconds)
	require.Contains(t, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, "--policy=cron")
	require.NotContains(t, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, "--fresh", "the CronJob trusts the agent's views")
	require.Contains(t, cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Args, "--link-ready-timeout=10m")
	require.LessOrEqual(t, len(cj.Name), 52, "CronJob names must leave room for the Job suffix")

	digest := "sha256:" + strings.Repeat("ab", 32)
	out = render(t, hubRelease, map[string]any{"sync": map[string]any{"image": map[string]any{"tag": "v1.0.0", "digest": digest}}})
	require.Equal(t, "ghcr.io/vanlink/vanlink@"+digest, jobImage(t, out.Hooks[0]), "a digest wins over the tag")
	out = render(t, hubRelease, map[string]any{"sync": map[string]any{"image": map[string]any{"tag": "v1.0.0"}}})
	require.Equal(t, "ghcr.io/vanlink/vanlink:v1.0.0", jobImage(t, out.Hooks[0]))
}

func TestSyncWavesOrderTheHub(t *testing.T) {
	out := render(t, hubRelease, map[string]any{"operator": map[string]any{"subscription": map[string]any{"enabled": true}}})
	wave := map[string]string{}
	for _, o := range out.Objects {
		wave[o.GetKind()] = o.GetAnnotations()["argocd.argoproj.io/sync-wave"]
	}
	order := []string{"Namespace", "Subscription", "Site", "AccessGrant", "Listener", "ServiceAccount", "CronJob"}
	for i := 1; i < len(order); i++ {
		var a, b int
		fmt.Sscan(wave[order[i-1]], &a)
		fmt.Sscan(wave[order[i]], &b)
		require.Less(t, a, b, "%s (wave %s) must come before %s (wave %s)", order[i-1], wave[order[i-1]], order[i], wave[order[i]])
	}
	sub := out.Find("Subscription")[0]
	env, _, _ := unstructured.NestedSlice(sub.Object, "spec", "config", "env")
	require.Equal(t, []any{
		map[string]any{"name": "SKUPPER_ROUTER_IMAGE", "value": "quay.io/skupper/skupper-router:3.5.1"},
		map[string]any{"name": "SKUPPER_KUBE_ADAPTOR_IMAGE", "value": "quay.io/skupper/kube-adaptor:2.2.1"},
	}, env, "the operator deploys the pinned router and kube-adaptor images")

	spoke := render(t, eastRelease, map[string]any{"operator": map[string]any{"subscription": map[string]any{"enabled": true}}})
	for _, o := range spoke.Objects {
		switch o.GetKind() {
		case "Site", "Connector", "Listener":
			require.Equal(t, "6", o.GetAnnotations()["argocd.argoproj.io/sync-wave"], "Skupper resources come after the operator")
		case "Subscription":
			require.Equal(t, "1", o.GetAnnotations()["argocd.argoproj.io/sync-wave"])
		}
	}
}

func TestSyncRBACIsLeastPrivilege(t *testing.T) {
	variants := map[string]map[string]any{
		"defaults": nil,
		"rotation and a placement": {"sync": map[string]any{
			"rotation":  map[string]any{"enabled": true},
			"placement": map[string]any{"name": "vanlink-spokes", "namespace": "openshift-gitops"},
		}},
		"the direct transport": {"sync": map[string]any{
			"transport": "direct", "direct": map[string]any{"secretNamespace": "argocd"},
		}},
	}
	for name, set := range variants {
		t.Run(name, func(t *testing.T) {
			out := render(t, hubRelease, set)
			var rules []rbacv1.PolicyRule
			for _, o := range out.All() {
				switch o.GetKind() {
				case "ClusterRole", "Role":
					var r rbacv1.ClusterRole
					require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &r))
					rules = append(rules, r.Rules...)
				}
			}
			require.NotEmpty(t, rules)
			require.Contains(t, rules, rbacv1.PolicyRule{APIGroups: []string{"skupper.io"}, Resources: []string{"sites"}, Verbs: []string{"get", "list"}},
				"the jobs read the hub Site, read-only")
			for _, r := range rules {
				for _, list := range [][]string{r.Verbs, r.Resources, r.APIGroups, r.ResourceNames} {
					require.NotContains(t, list, "*", "no wildcard allowed in %+v", r)
				}
				if slices.Contains(r.Resources, "managedclusters") || slices.Contains(r.Resources, "placementdecisions") {
					require.ElementsMatch(t, []string{"get", "list", "watch"}, r.Verbs, "%v must be read-only", r.Resources)
				}
				if slices.Contains(r.Resources, "accessgrants") && !slices.Contains(r.Verbs, "create") {
					require.Equal(t, []string{"spoke-link"}, r.ResourceNames, "the grant only, by name")
				}
				if slices.Contains(r.Resources, "accessgrants") && set == nil {
					require.NotContains(t, r.Verbs, "delete", "without rotation the grant is read-only")
					require.NotContains(t, r.Verbs, "create", "without rotation the grant is read-only")
				}
				for _, v := range []string{"update", "patch"} {
					if slices.Contains(r.Verbs, v) && (slices.Contains(r.Resources, "configmaps") || slices.Contains(r.Resources, "leases")) {
						require.NotEmpty(t, r.ResourceNames, "ConfigMaps and Leases are changed only by name")
					}
				}
				if name == "the direct transport" {
					require.NotContains(t, r.Resources, "managedclusteractions", "the direct transport needs no ACM")
					if slices.Contains(r.Resources, "secrets") {
						require.Equal(t, []string{"get", "list"}, r.Verbs, "credential Secrets are read-only")
					}
				} else {
					require.NotContains(t, r.Resources, "secrets", "the acm transport never needs Secrets")
				}
			}
			if name == "the direct transport" {
				var ns []string
				for _, o := range out.Find("Role") {
					ns = append(ns, o.GetNamespace())
				}
				require.Contains(t, ns, "argocd", "the credentials Role lives where the Secrets are")
				require.Empty(t, out.Find("ClusterRole"), "no cluster-wide rights with the direct transport")
			}
		})
	}
}

func TestSyncPodsPassTheRestrictedPodSecurityStandard(t *testing.T) {
	out := render(t, hubRelease, nil)
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	templates := map[string]corev1.PodTemplateSpec{}
	var job batchv1.Job
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(out.Hooks[0].Object, &job))
	templates["hook Job"] = job.Spec.Template
	var cj batchv1.CronJob
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(out.Find("CronJob")[0].Object, &cj))
	templates["CronJob"] = cj.Spec.JobTemplate.Spec.Template
	for name, tmpl := range templates {
		t.Run(name, func(t *testing.T) {
			results := eval.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, &tmpl.ObjectMeta, &tmpl.Spec)
			for _, r := range results {
				require.True(t, r.Allowed, "restricted check failed: %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
			}
			c := tmpl.Spec.Containers[0]
			require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem, "read-only root filesystem")
			require.True(t, *tmpl.Spec.SecurityContext.RunAsNonRoot, "non-root")
		})
	}
}

func TestChartReadmesListEveryValue(t *testing.T) {
	for _, chart := range []string{charts.HubChart, charts.SpokeChart} {
		t.Run(chart, func(t *testing.T) {
			readme, err := os.ReadFile(repo(t, chart+"/README.md"))
			require.NoError(t, err)
			values, err := os.ReadFile(repo(t, chart+"/values.yaml"))
			require.NoError(t, err)
			docs, err := charts.ValuesDocs(values)
			require.NoError(t, err, "every value in values.yaml needs a `# --` comment")
			want, err := charts.ReadmeWithValues(readme, values)
			require.NoError(t, err)
			require.Equal(t, string(want), string(readme), "README.md is out of date with values.yaml: run `make docs`")
			for _, d := range docs {
				require.Contains(t, string(readme), "`"+d.Key+"`")
			}
		})
	}
	t.Run("an undocumented value is reported", func(t *testing.T) {
		_, err := charts.ValuesDocs([]byte("# -- documented\na: 1\nb:\n  c: 2\n"))
		require.ErrorContains(t, err, "b.c")
	})
}

func TestChartsShareTheCatalogCode(t *testing.T) {
	read := func(rel string) []byte {
		data, err := os.ReadFile(repo(t, rel))
		require.NoError(t, err)
		return data
	}
	require.True(t, bytes.Equal(read(charts.HubChart+"/templates/_vanlink.tpl"), read(charts.SpokeChart+"/templates/_vanlink.tpl")),
		"templates/_vanlink.tpl must be identical in both charts")
	for _, chart := range charts.SharedCharts {
		require.Equal(t, string(charts.SharedCopy("_vanlink.tpl", read(charts.SharedDir+"/_vanlink.tpl"))), string(read(chart+"/templates/_vanlink.tpl")),
			"%s/templates/_vanlink.tpl is generated from %s/_vanlink.tpl: edit the source and run `make docs`", chart, charts.SharedDir)
	}
	schema := func(chart string) map[string]any {
		var s map[string]any
		require.NoError(t, json.Unmarshal(read(chart+"/values.schema.json"), &s))
		return s["properties"].(map[string]any)
	}
	hub, spoke := schema(charts.HubChart), schema(charts.SpokeChart)
	for _, key := range []string{"catalog", "namespace", "operator", "commonLabels"} {
		require.Equal(t, hub[key], spoke[key], "the %s schema must be identical in both charts", key)
	}
}

func TestSchemasForbidUnknownValuesEverywhere(t *testing.T) {
	for _, chart := range []string{charts.HubChart, charts.SpokeChart} {
		data, err := os.ReadFile(repo(t, chart+"/values.schema.json"))
		require.NoError(t, err)
		var s map[string]any
		require.NoError(t, json.Unmarshal(data, &s))
		var missing []string
		var walk func(path string, n map[string]any)
		walk = func(path string, n map[string]any) {
			if props, ok := n["properties"].(map[string]any); ok {
				if n["additionalProperties"] != false {
					missing = append(missing, path)
				}
				keys := make([]string, 0, len(props))
				for k := range props {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					walk(path+"."+k, props[k].(map[string]any))
				}
			}
			if items, ok := n["items"].(map[string]any); ok {
				walk(path+"[]", items)
			}
		}
		walk("", s)
		require.Empty(t, missing, "%s: objects without additionalProperties: false", chart)
	}
}

func jobArgs(t *testing.T, o *unstructured.Unstructured) []string {
	var job batchv1.Job
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &job))
	return job.Spec.Template.Spec.Containers[0].Args
}

func jobImage(t *testing.T, o *unstructured.Unstructured) string {
	var job batchv1.Job
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &job))
	return job.Spec.Template.Spec.Containers[0].Image
}

func TestHubToSpokeServicesPairAHubConnectorWithSpokeListeners(t *testing.T) {
	set := withService(t, map[string]any{"name": "hub-registry", "direction": "hub-to-spoke", "port": 5000,
		"backend": map[string]any{"host": "registry.hub-infra.svc.cluster.local", "port": 443}})
	hub := render(t, hubRelease, set)
	var conn *unstructured.Unstructured
	for _, c := range hub.Find("Connector") {
		if c.GetName() == "hub-registry" {
			conn = c
		}
	}
	require.NotNil(t, conn, "the hub offers the service with a Connector")
	require.EqualValues(t, 443, num(conn, "spec", "port"), "the Connector targets the backend port")
	require.Equal(t, "registry.hub-infra.svc.cluster.local", str(conn, "spec", "host"))
	require.Len(t, hub.Find("Listener"), len(referenceListeners), "no hub Listener for a hub-to-spoke service")
	for _, r := range []release{eastRelease, westRelease} {
		var l *unstructured.Unstructured
		for _, o := range render(t, r, set).Find("Listener") {
			if o.GetName() == "hub-registry" {
				l = o
			}
		}
		require.NotNil(t, l, "spoke %s listens for the hub service", r.name)
		require.Equal(t, str(conn, "spec", "routingKey"), str(l, "spec", "routingKey"), "one routing key on both sides")
		require.EqualValues(t, 5000, num(l, "spec", "port"))
	}
}

func TestPullRefusesWhatItCannotPin(t *testing.T) {
	_, err := charts.Pull("https://charts.example.com/skupper", "2.2.1")
	require.ErrorContains(t, err, "not an oci:// reference")
	_, err = charts.Pull("oci://quay.io/skupper/helm/skupper", "")
	require.ErrorContains(t, err, "a version is required")
}
