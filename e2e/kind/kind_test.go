package kind_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/e2e/kind"
	"github.com/vanlink/vanlink/internal/charts"
)

// These tests run everywhere (no Docker): what the kind tier and demo build
// and render is checked here; the clusters themselves need `make e2e-kind`.

func dockerAnswers() bool {
	return exec.Command("docker", "info", "--format", "{{.ServerVersion}}").Run() == nil
}

func TestRequireDockerSaysWhatToDo(t *testing.T) {
	// No engine at this address, whatever runs on the machine.
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	err := kind.RequireDocker(context.Background())
	require.ErrorIs(t, err, kind.ErrNoDocker)
	require.Contains(t, err.Error(), "make demo")
	require.Contains(t, err.Error(), "make test")
}

// The make targets that need kind stop at once, with a clear message, on a
// machine without a Docker engine.
func TestKindTargetsFailFastWithoutDocker(t *testing.T) {
	if dockerAnswers() {
		t.Skip("a Docker engine answers here: the kind targets would really run")
	}
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	for _, target := range []string{"e2e-kind", "demo-kind", "demo-kind-down"} {
		t.Run(target, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			start := time.Now()
			out, err := exec.CommandContext(ctx, "make", "-s", "-C", root, target).CombinedOutput()
			require.Error(t, err, "make %s must fail without Docker", target)
			require.Less(t, time.Since(start), 30*time.Second, "make %s must stop at once", target)
			require.Contains(t, string(out), "needs a running Docker engine", "make %s says why: %s", target, out)
		})
	}
}

func TestCommandPodPassesTheRestrictedPodSecurityStandard(t *testing.T) {
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	require.NoError(t, err)
	for name, pod := range map[string]*corev1.Pod{
		"vanlink": kind.CommandPod("service-interconnect", "vanlink-", "hub-service-interconnect-sync", "ghcr.io/vanlink/vanlink:e2e-kind", []string{"sync", "--transport=direct"}),
		"client":  kind.CommandPod("service-interconnect", "demo-client-", "", "ghcr.io/vanlink/vanlink-echo:demo", []string{"get", "--url", "http://x"}),
	} {
		t.Run(name, func(t *testing.T) {
			for _, r := range eval.EvaluatePod(psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}, &pod.ObjectMeta, &pod.Spec) {
				require.True(t, r.Allowed, "restricted check failed: %s: %s", r.ForbiddenReason, r.ForbiddenDetail)
			}
			require.Equal(t, corev1.RestartPolicyNever, pod.Spec.RestartPolicy)
			require.Equal(t, pod.Spec.ServiceAccountName != "", *pod.Spec.AutomountServiceAccountToken, "a token only for a pod that runs as a ServiceAccount")
		})
	}
}

// The hub chart, rendered from the shipped values with the kind values,
// runs the loaded image with the direct transport over the Argo CD cluster
// Secrets, and the CronJob is suspended.
func TestHubValuesForKind(t *testing.T) {
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	im := kind.Images{Repository: "ghcr.io/vanlink/vanlink", Tag: "e2e-kind"}
	out, err := charts.Render(context.Background(), filepath.Join(root, charts.HubChart), charts.Options{ReleaseName: "hub", Namespace: "default",
		ValuesFiles: []string{filepath.Join(root, "values/catalog.yaml"), filepath.Join(root, "values/clusters/hub.yaml")}, Set: kind.HubValues(im)})
	require.NoError(t, err)
	var cj batchv1.CronJob
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(out.Find("CronJob")[0].Object, &cj))
	require.True(t, *cj.Spec.Suspend, "the scenarios run each pass themselves")
	c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	require.Equal(t, "ghcr.io/vanlink/vanlink:e2e-kind", c.Image)
	require.Equal(t, corev1.PullIfNotPresent, c.ImagePullPolicy, "the image is loaded into the nodes, not pulled")
	args := strings.Join(c.Args, " ")
	require.Contains(t, args, "--transport=direct")
	require.Contains(t, args, "--credentials-namespace="+kind.CredentialsNamespace)
	site := out.Find("Site")[0]
	la, _, _ := unstructured.NestedString(site.Object, "spec", "linkAccess")
	require.Equal(t, "nodeport", la, "spokes reach the hub router through a NodePort on the kind network")
	var roles []string
	for _, r := range out.Find("Role") {
		roles = append(roles, r.GetNamespace()+"/"+r.GetName())
	}
	require.Contains(t, strings.Join(roles, " "), kind.CredentialsNamespace+"/", "the sync jobs may read the cluster Secrets")
}

func TestSkupperValuesExposeNodePortsOnTheKindNetwork(t *testing.T) {
	f := kind.NewFleet(kind.Options{Prefix: "x"})
	v := f.SkupperValues(&kind.Cluster{Name: "hub", NodeIP: "172.18.0.2"})
	require.Equal(t, "172.18.0.2", v["clusterHost"])
	require.Equal(t, "nodeport", v["defaultAccessType"])
	require.Contains(t, v["enabledAccessTypes"], "nodeport")
	require.Equal(t, kind.DefaultRouterImage, v["routerImage"])
	require.Equal(t, "quay.io/skupper/controller:2.2.1", v["controllerImage"])
	require.Equal(t, "x-east", f.KindName("east"))
}
