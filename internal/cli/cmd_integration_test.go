//go:build integration

package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	clusterclient "open-cluster-management.io/api/client/cluster/clientset/versioned"

	"github.com/vanlink/vanlink/e2e/fixtures"
	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/internal/charts"
	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport/acm"
	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
)

const (
	ns       = "service-interconnect"
	leakCode = "Zq7-integration-grant-c0de"
)

// cli runs vanlink in-process and keeps everything it printed.
type cli struct {
	t          *testing.T
	kubeconfig string
	all        bytes.Buffer
}

func (c *cli) run(args ...string) (int, string) {
	var out, errOut bytes.Buffer
	code := Main(append(args, "--kubeconfig", c.kubeconfig), IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, noExit)
	c.all.Write(out.Bytes())
	c.all.Write(errOut.Bytes())
	c.t.Logf("vanlink %s -> exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String()
}

// TestSyncOnTheTestBed runs the real CLI, authenticated as the hub chart's
// ServiceAccount, against real API servers, with the ACM agent double
// executing its actions on the spoke API servers.
func TestSyncOnTheTestBed(t *testing.T) {
	env := framework.StartT(t, framework.Options{Spokes: []string{"east", "west"}})
	ctx := t.Context()
	hub := env.Hub
	cs := clusterclient.NewForConfigOrDie(hub.Config)

	// The hub chart, rendered from the shipped values and applied: Site,
	// grant, Listeners, the sync ServiceAccount and its RBAC.
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	out, err := charts.Render(ctx, filepath.Join(root, charts.HubChart), charts.Options{ReleaseName: "hub", Namespace: ns,
		ValuesFiles: []string{filepath.Join(root, "values/catalog.yaml"), filepath.Join(root, "values/clusters/hub.yaml")}})
	require.NoError(t, err)
	applier, err := charts.NewApplier(hub.Config)
	require.NoError(t, err)
	require.NoError(t, applier.Apply(ctx, ns, out.Objects...))

	ca, err := fixtures.CA()
	require.NoError(t, err)
	_, err = fixtures.ProcessGrant(ctx, hub.Dynamic(), ns, "spoke-link", fixtures.GrantStatus{Host: "127.0.0.1:9090", Code: leakCode, CA: ca, Expires: time.Now().Add(720 * time.Hour)})
	require.NoError(t, err)
	// Play the hub's Skupper controller: the chart's Site, Ready with link endpoints.
	require.NoError(t, hubSiteReady(ctx, hub.Dynamic(), "hub"))
	for _, name := range []string{"east", "west"} {
		require.NoError(t, fixtures.ManagedCluster(ctx, cs, hub.Kube(), name, nil, true))
		spoke := env.Cluster(name)
		require.NoError(t, fixtures.Namespace(ctx, spoke.Kube(), ns))
		require.NoError(t, fixtures.Site(ctx, spoke.Dynamic(), ns, name))
	}
	require.NoError(t, fixtures.ManagedCluster(ctx, cs, hub.Kube(), "local-cluster", map[string]string{"local-cluster": "true"}, true))

	agent := acmtest.New(hub.Dynamic(), acmtest.Options{ViewRefresh: func(int64) time.Duration { return 200 * time.Millisecond }})
	for _, name := range []string{"east", "west"} {
		agent.AddSpoke(name, acmtest.APISpoke{Client: env.Cluster(name).Dynamic()})
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = agent.Run(actx) }()

	// vanlink runs as the chart's ServiceAccount: a missing RBAC rule fails here.
	saCfg, err := hub.ServiceAccountConfig(ctx, ns, "hub-service-interconnect-sync")
	require.NoError(t, err)
	kubeconfig := filepath.Join(t.TempDir(), "sa.kubeconfig")
	require.NoError(t, hub.WriteKubeconfig(kubeconfig, saCfg))
	c := &cli{t: t, kubeconfig: kubeconfig}

	t.Run("dry run prints the plan and writes nothing", func(t *testing.T) {
		start := time.Now()
		code, stdout := c.run("sync", "--dry-run", "-o", "json", "-v", "1")
		t.Logf("dry run took %s", time.Since(start))
		require.Equal(t, 0, code, "planned pushes are not failures under --fail-on=error")
		var res reconcile.Result
		require.NoError(t, json.Unmarshal([]byte(stdout), &res))
		got := map[string]reconcile.Action{}
		for _, ch := range res.Changes {
			got[ch.Cluster] = ch.Action
		}
		require.Equal(t, map[string]reconcile.Action{"east": reconcile.Pending, "west": reconcile.Pending, "local-cluster": reconcile.Skip}, got,
			"a dry run on ACM reads only the views already on the hub; before the first pass there are none")
		require.Zero(t, agent.Executed(), "a dry run pushes nothing")
		for _, name := range []string{"east", "west"} {
			for _, gvr := range []schema.GroupVersionResource{acm.ViewsGVR, acm.ActionsGVR} {
				l, err := hub.Dynamic().Resource(gvr).Namespace(name).List(ctx, metav1.ListOptions{})
				require.NoError(t, err)
				require.Empty(t, l.Items, "a dry run writes nothing to the hub: no %s in %s", gvr.Resource, name)
			}
		}
		_, err := hub.Kube().CoreV1().ConfigMaps(ns).Get(ctx, "vanlink-status", metav1.GetOptions{})
		require.Error(t, err, "a dry run records nothing")
	})

	t.Run("a pass pushes a token to each spoke and leaves no action behind", func(t *testing.T) {
		code, _ := c.run("sync", "--policy", "postsync", "--grant-timeout", "30s")
		require.Equal(t, 0, code)
		for _, name := range []string{"east", "west"} {
			tok, err := env.Cluster(name).Dynamic().Resource(skupper.AccessTokensGVR).Namespace(ns).Get(ctx, "hub-link", metav1.GetOptions{})
			require.NoError(t, err, "the token must be on %s", name)
			code, _, _ := unstructured.NestedString(tok.Object, "spec", "code")
			require.Equal(t, leakCode, code)
			mcas, err := hub.Dynamic().Resource(acm.ActionsGVR).Namespace(name).List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			require.Empty(t, mcas.Items, "every ManagedClusterAction carries the code and is deleted once read")
		}
	})

	// Play the spokes' Skupper controllers: redeem, and a Ready Link.
	for _, name := range []string{"east", "west"} {
		dyn := env.Cluster(name).Dynamic()
		tok, err := dyn.Resource(skupper.AccessTokensGVR).Namespace(ns).Get(ctx, "hub-link", metav1.GetOptions{})
		require.NoError(t, err)
		tok.Object["status"] = map[string]any{"redeemed": true, "status": "Ready", "message": "OK",
			"conditions": []any{map[string]any{"type": "Redeemed", "status": "True", "reason": "Ready", "message": "OK", "lastTransitionTime": "2026-11-21T00:00:00Z"}}}
		_, err = dyn.Resource(skupper.AccessTokensGVR).Namespace(ns).UpdateStatus(ctx, tok, metav1.UpdateOptions{})
		require.NoError(t, err)
		link, err := dyn.Resource(skupper.LinksGVR).Namespace(ns).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "skupper.io/v2alpha1", "kind": "Link", "metadata": map[string]any{"name": "hub-link"},
			"spec": map[string]any{"endpoints": []any{map[string]any{"name": "inter-router", "host": "127.0.0.1", "port": "55671"}}, "tlsCredentials": "hub-link"}}}, metav1.CreateOptions{})
		require.NoError(t, err)
		link.Object["status"] = map[string]any{"status": "Ready", "message": "OK"}
		_, err = dyn.Resource(skupper.LinksGVR).Namespace(ns).UpdateStatus(ctx, link, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	time.Sleep(time.Second) // the agent refreshes the Link views

	t.Run("a second pass with nothing to do writes nothing to any spoke", func(t *testing.T) {
		before := agent.Executed()
		rv := map[string]string{}
		for _, name := range []string{"east", "west"} {
			tok, err := env.Cluster(name).Dynamic().Resource(skupper.AccessTokensGVR).Namespace(ns).Get(ctx, "hub-link", metav1.GetOptions{})
			require.NoError(t, err)
			rv[name] = tok.GetResourceVersion()
		}
		code, stdout := c.run("sync", "-o", "json")
		require.Equal(t, 0, code)
		var res reconcile.Result
		require.NoError(t, json.Unmarshal([]byte(stdout), &res))
		require.Equal(t, 2, res.Counts()[reconcile.OutcomeLinked])
		require.Equal(t, before, agent.Executed(), "no ManagedClusterAction in a steady pass")
		for _, name := range []string{"east", "west"} {
			tok, err := env.Cluster(name).Dynamic().Resource(skupper.AccessTokensGVR).Namespace(ns).Get(ctx, "hub-link", metav1.GetOptions{})
			require.NoError(t, err)
			require.Equal(t, rv[name], tok.GetResourceVersion(), "the token on %s is untouched", name)
		}
	})

	t.Run("status reads the record: both spokes linked", func(t *testing.T) {
		code, stdout := c.run("status")
		require.Equal(t, 0, code)
		require.Contains(t, stdout, "east")
		require.Contains(t, stdout, "linked")
		require.Contains(t, stdout, "SINCE", "the table says how old each state is")
		require.Contains(t, stdout, "transport acm", "the record says how the pass reached the spokes")
	})

	t.Run("the grant code appears nowhere but in the token command's output", func(t *testing.T) {
		c.run("version")
		c.run("status", "--live")
		require.NotContains(t, c.all.String(), leakCode, "no command output may carry the code")
		evs, err := hub.Kube().CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		require.NotEmpty(t, evs.Items)
		data, _ := json.Marshal(evs)
		require.NotContains(t, string(data), leakCode, "events")
		cm, err := hub.Kube().CoreV1().ConfigMaps(ns).Get(ctx, "vanlink-status", metav1.GetOptions{})
		require.NoError(t, err)
		data, _ = json.Marshal(cm)
		require.NotContains(t, string(data), leakCode, "status record")
		for _, name := range []string{"east", "west"} {
			views, err := hub.Dynamic().Resource(acm.ViewsGVR).Namespace(name).List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			data, _ = json.Marshal(views)
			require.NotContains(t, string(data), leakCode, "views left on the hub")
			mcas, err := hub.Dynamic().Resource(acm.ActionsGVR).Namespace(name).List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			require.Empty(t, mcas.Items)
		}
		code, stdout := c.run("token", "--cluster", "east")
		require.Equal(t, 0, code)
		require.Contains(t, stdout, leakCode, "the token command prints the code, on request")
		require.Contains(t, stdout, "kind: AccessToken")
	})

	both := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(append(args, "--kubeconfig", kubeconfig), IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, noExit)
		c.all.Write(out.Bytes())
		c.all.Write(errOut.Bytes())
		return code, out.String(), errOut.String()
	}
	t.Run("token warns on stderr that it prints a secret", func(t *testing.T) {
		code, stdout, stderr := both("token", "--cluster", "east")
		require.Equal(t, 0, code)
		require.Contains(t, stderr, "warning: the AccessToken printed on standard output holds the grant code")
		require.NotContains(t, stderr, leakCode, "the warning does not repeat the secret")
		require.Contains(t, stdout, "kind: AccessToken")
	})
	t.Run("a pass that fails before it starts prints its error once, no empty table", func(t *testing.T) {
		for _, args := range [][]string{{"sync", "--grant", "missing"}, {"sync", "--grant", "missing", "-o", "wide"}, {"status", "--live", "--grant", "missing"}} {
			code, stdout, stderr := both(args...)
			require.Equal(t, 1, code, "%v", args)
			require.Empty(t, stdout, "%v: no empty table, no \"0 of 0 redemptions\"", args)
			require.Equal(t, 1, strings.Count(stderr, "error:"), "%v: the error once", args)
			require.Contains(t, stderr, "missing")
		}
		code, stdout, _ := both("sync", "--grant", "missing", "-o", "json")
		require.Equal(t, 1, code)
		require.Contains(t, stdout, `"error":`, "json is data: the failed pass is still a document")
	})
}

// hubSiteReady writes, as the hub's Skupper controller does once its way in
// exists, a Ready status with link endpoints into the hub Site name.
func hubSiteReady(ctx context.Context, dyn dynamic.Interface, name string) error {
	api := dyn.Resource(skupper.SitesGVR).Namespace(ns)
	site, err := api.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	site.Object["status"] = map[string]any{"status": "Ready", "message": "OK", "endpoints": []any{
		map[string]any{"name": "inter-router", "host": "skupper-router." + ns, "port": "55671", "group": "skupper-router"},
		map[string]any{"name": "edge", "host": "skupper-router." + ns, "port": "45671", "group": "skupper-router"},
	}}
	_, err = api.UpdateStatus(ctx, site, metav1.UpdateOptions{})
	return err
}

// TestSIGTERMMidPassLeavesNoCodeOnTheHub runs the built binary against a
// slow agent, sends SIGTERM while a ManagedClusterAction that carries the
// grant code waits for the agent, and checks that vanlink exits within a few
// seconds, leaves no action on the hub, releases its lease and records the
// pass.
func TestSIGTERMMidPassLeavesNoCodeOnTheHub(t *testing.T) {
	root, err := framework.RepoRoot()
	require.NoError(t, err)
	binary := filepath.Join(t.TempDir(), "vanlink")
	build := exec.Command("go", "build", "-o", binary, "./cmd/vanlink")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building vanlink: %s", out)

	env := framework.StartT(t, framework.Options{Spokes: []string{"east", "west"}})
	ctx := t.Context()
	hub := env.Hub
	cs := clusterclient.NewForConfigOrDie(hub.Config)
	require.NoError(t, fixtures.Namespace(ctx, hub.Kube(), ns))
	require.NoError(t, fixtures.Grant(ctx, hub.Dynamic(), ns, "spoke-link", 10, "720h"))
	ca, err := fixtures.CA()
	require.NoError(t, err)
	_, err = fixtures.ProcessGrant(ctx, hub.Dynamic(), ns, "spoke-link", fixtures.GrantStatus{Host: "127.0.0.1:9090", Code: leakCode, CA: ca, Expires: time.Now().Add(720 * time.Hour)})
	require.NoError(t, err)
	_, err = hub.Dynamic().Resource(skupper.SitesGVR).Namespace(ns).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "skupper.io/v2alpha1", "kind": "Site", "metadata": map[string]any{"name": "hub"}, "spec": map[string]any{"linkAccess": "local"}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.NoError(t, hubSiteReady(ctx, hub.Dynamic(), "hub"))
	spokes := []string{"east", "west"}
	for _, name := range spokes {
		require.NoError(t, fixtures.ManagedCluster(ctx, cs, hub.Kube(), name, nil, true))
		require.NoError(t, fixtures.Namespace(ctx, env.Cluster(name).Kube(), ns))
		require.NoError(t, fixtures.Site(ctx, env.Cluster(name).Dynamic(), ns, name))
	}
	// A slow agent: every view read and action waits 3 s.
	agent := acmtest.New(hub.Dynamic(), acmtest.Options{Latency: 3 * time.Second, ViewRefresh: func(int64) time.Duration { return 200 * time.Millisecond }})
	for _, name := range spokes {
		agent.AddSpoke(name, acmtest.APISpoke{Client: env.Cluster(name).Dynamic()})
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = agent.Run(actx) }()

	// actions counts the ManagedClusterActions on the hub, and those that
	// create the token (carry the code).
	actions := func() (all, creates int) {
		for _, name := range spokes {
			l, err := hub.Dynamic().Resource(acm.ActionsGVR).Namespace(name).List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			for _, a := range l.Items {
				all++
				data, _ := json.Marshal(a.Object)
				if strings.Contains(string(data), leakCode) {
					creates++
				}
			}
		}
		return all, creates
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary, "sync", "--kubeconfig", hub.Kubeconfig, "-v", "1", "--log-format", "text")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	require.Eventually(t, func() bool { _, creates := actions(); return creates > 0 }, 60*time.Second, 20*time.Millisecond,
		"a ManagedClusterAction that carries the code must be waiting for the agent")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	signalled := time.Now()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("vanlink did not exit within 20 s of SIGTERM\n%s", stderr.String())
	}
	t.Logf("exited %s after SIGTERM with %d\n%s%s", time.Since(signalled).Round(time.Millisecond), cmd.ProcessState.ExitCode(), stdout.String(), stderr.String())
	require.Less(t, time.Since(signalled), 10*time.Second, "vanlink exits within a few seconds")
	require.Equal(t, 128+int(syscall.SIGTERM), cmd.ProcessState.ExitCode())
	require.Contains(t, stderr.String(), "SIGTERM received: stopping")
	require.Contains(t, stderr.String(), "error: stopped by SIGTERM")
	all, _ := actions()
	require.Zero(t, all, "no ManagedClusterAction (the token's carries the grant code) is left on the hub")
	for _, name := range spokes {
		views, err := hub.Dynamic().Resource(acm.ViewsGVR).Namespace(name).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		data, _ := json.Marshal(views)
		require.NotContains(t, string(data), leakCode, "no view left on the hub carries the code")
	}
	lease, err := hub.Kube().CoordinationV1().Leases(ns).Get(ctx, "vanlink-sync", metav1.GetOptions{})
	require.NoError(t, err)
	require.Empty(t, ptr.Deref(lease.Spec.HolderIdentity, ""), "the lease is released")
	_, err = hub.Kube().CoreV1().ConfigMaps(ns).Get(ctx, "vanlink-status", metav1.GetOptions{})
	require.NoError(t, err, "the stopped pass is recorded")
	require.NotContains(t, stdout.String()+stderr.String(), leakCode)
}
