//go:build integration

package charts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/internal/charts"
	"github.com/vanlink/vanlink/pkg/skupper"
)

// TestRenderedObjectsAreAcceptedByTheAPIServer server-side applies everything
// every chart renders with every values file (hooks included) to real API
// servers carrying the project CRDs: the server validates each object.
func TestRenderedObjectsAreAcceptedByTheAPIServer(t *testing.T) {
	argo, err := framework.ArgoCDCRDs()
	require.NoError(t, err, "the ApplicationSet CRD comes from the argo-cd module")
	env := framework.StartT(t, framework.Options{Spokes: []string{"east", "west"}, ExtraHubCRDs: argo})
	ctx := t.Context()
	for _, c := range env.All() {
		// service-interconnect: the chart defaults render no Namespace (objects go to
		// the release namespace); east and west: the spokes' hub namespaces (ACM's),
		// where the namespaced RBAC binds.
		for _, ns := range []string{"openshift-operators", "openshift-gitops", "argocd", "service-interconnect", "east", "west"} {
			_, err := c.Kube().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
			require.NoError(t, err)
		}
	}
	withOperator := map[string]any{"operator": map[string]any{"subscription": map[string]any{"enabled": true}}}
	t.Run("hub with namespaced RBAC", func(t *testing.T) {
		// A release of its own: its jobs take other arguments (--hub-namespaces),
		// and a Job's pod template cannot change.
		r := hubRelease
		r.name = "hub-namespaced"
		out := render(t, r, map[string]any{"sync": map[string]any{"rbac": map[string]any{"scope": "namespaced"}}})
		applier, err := charts.NewApplier(env.Hub.Config)
		require.NoError(t, err)
		require.NoError(t, applier.Apply(ctx, "service-interconnect", out.All()...), "the API server must accept the namespaced RBAC")
	})
	for _, r := range shippedReleases(t) {
		for variant, set := range map[string]map[string]any{"shipped": nil, "with the operator": withOperator} {
			t.Run(r.name+" "+variant, func(t *testing.T) {
				cluster := env.Hub
				if r.chart == charts.SpokeChart {
					cluster = env.Cluster(r.name)
					require.NotNil(t, cluster, "no test-bed spoke for %s", r.name)
				}
				out := render(t, r, set)
				applier, err := charts.NewApplier(cluster.Config)
				require.NoError(t, err)
				require.NoError(t, applier.Apply(ctx, "service-interconnect", out.All()...), "the API server must accept every rendered object")
			})
		}
	}

	t.Run("every catalog Listener and Connector field", func(t *testing.T) {
		// Each field of skupper.io/v2alpha1 Listener and Connector set
		// through the catalog, per-pod Listeners included, on both sides.
		set := editService(t, "ie-gateway", func(s map[string]any) {
			selectorGateway(s)
			s["listener"] = listenerFields
			s["connector"] = connectorFields
			s["podListeners"] = map[string]any{"pods": []any{"gateway-0"}}
		})
		set = withServiceIn(set, map[string]any{"name": "registry", "direction": "hub-to-spoke", "port": 5000,
			"backend": map[string]any{"host": "registry.infra.svc"}, "listener": listenerFields,
			"connector": map[string]any{"tlsCredentials": "registry-ca", "useClientCert": true, "verifyHostname": true, "settings": map[string]any{"k": "v"}}})
		for _, r := range []release{hubRelease, eastRelease} {
			cluster := env.Hub
			if r.chart == charts.SpokeChart {
				cluster = env.Cluster(r.name)
			}
			var objs []*unstructured.Unstructured
			for _, o := range render(t, r, set).All() {
				if o.GetKind() == "Listener" || o.GetKind() == "Connector" {
					objs = append(objs, o)
				}
			}
			require.NotEmpty(t, objs)
			applier, err := charts.NewApplier(cluster.Config)
			require.NoError(t, err)
			require.NoError(t, applier.Apply(ctx, "service-interconnect", objs...), "%s: the API server must accept every field", r.name)
			for _, o := range objs {
				gvr := skupper.ListenersGVR
				if o.GetKind() == "Connector" {
					gvr = skupper.ConnectorsGVR
				}
				got, err := cluster.Dynamic().Resource(gvr).Namespace("service-interconnect").Get(ctx, o.GetName(), metav1.GetOptions{})
				require.NoError(t, err)
				require.Equal(t, specOf(o), specOf(got), "%s %s: the API server keeps every field (none pruned as unknown)", o.GetKind(), o.GetName())
			}
		}
	})

	t.Run("the Argo CD ApplicationSets and ACM placement", func(t *testing.T) {
		files, err := filepath.Glob(repo(t, "values/argocd/*/*.yaml"))
		require.NoError(t, err)
		require.Len(t, files, 5)
		applier, err := charts.NewApplier(env.Hub.Config)
		require.NoError(t, err)
		for _, f := range files {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			objs, err := charts.Decode(data)
			require.NoError(t, err)
			require.NoError(t, applier.Apply(ctx, "default", objs...), "%s must be accepted by the API server", f)
			for _, o := range objs {
				if o.GetKind() != "ApplicationSet" {
					continue
				}
				vf, _, _ := unstructuredSlice(o, "spec", "template", "spec", "source", "helm", "valueFiles")
				ignoreMissing, _, _ := unstructured.NestedBool(o.Object, "spec", "template", "spec", "source", "helm", "ignoreMissingValueFiles")
				for _, v := range vf {
					if ignoreMissing && strings.Contains(v.(string), "{{") {
						continue // a per-cluster file, used when it exists (TestApplicationSetsWithoutACM)
					}
					path := filepath.Join(repo(t, str(o, "spec", "template", "spec", "source", "path")), v.(string))
					require.FileExists(t, path, "%s: valueFiles entry %s must exist in the repository", filepath.Base(f), v)
				}
			}
		}
	})
}

// TestInstallAndUninstall installs the spoke chart with the Helm SDK, as the
// e2e tiers and demos do, upgrades it, and uninstalls it.
func TestInstallAndUninstall(t *testing.T) {
	env := framework.StartT(t, framework.Options{Spokes: []string{"east"}})
	east := env.Cluster("east")
	ctx := t.Context()
	opts := charts.InstallOptions{Kubeconfig: east.Kubeconfig, Options: charts.Options{ReleaseName: "east", Namespace: "default",
		ValuesFiles: []string{repo(t, "values/catalog.yaml"), repo(t, "values/clusters/east.yaml")}}}
	rel, err := charts.Install(ctx, repo(t, charts.SpokeChart), opts)
	require.NoError(t, err)
	require.Equal(t, 1, rel.Version)
	sites := east.Dynamic().Resource(skupper.SitesGVR).Namespace("service-interconnect")
	_, err = sites.Get(ctx, "east", metav1.GetOptions{})
	require.NoError(t, err, "the release's Site exists")

	rel, err = charts.Install(ctx, repo(t, charts.SpokeChart), opts)
	require.NoError(t, err)
	require.Equal(t, 2, rel.Version, "a second install upgrades the release")

	require.NoError(t, charts.Uninstall(east.Kubeconfig, "default", "east", 0))
	ns, err := east.Kube().CoreV1().Namespaces().Get(ctx, "service-interconnect", metav1.GetOptions{})
	require.NoError(t, err, "helm uninstall keeps the namespace (helm.sh/resource-policy: keep)")
	require.Nil(t, ns.DeletionTimestamp, "the namespace is not being deleted")
	_, err = sites.Get(ctx, "east", metav1.GetOptions{})
	require.True(t, apierrors.IsNotFound(err), "the Site is removed with the release: %v", err)
	require.NoError(t, charts.Uninstall(east.Kubeconfig, "default", "east", 0), "a missing release is not an error")
}
