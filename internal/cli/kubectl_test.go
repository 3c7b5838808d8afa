package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/report"
)

// kubeconfig writes a kubeconfig with two contexts; "hub" sets a namespace.
func kubeconfig(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(path, []byte(`apiVersion: v1
kind: Config
clusters: [{name: h, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts:
  - {name: hub, context: {cluster: h, user: u, namespace: team-net}}
  - {name: plain, context: {cluster: h, user: u}}
current-context: hub
`), 0o600))
	return path
}

func TestOutputFormatsAsKubectl(t *testing.T) {
	res := &reconcile.Result{Started: time.Now(), Grant: reconcile.GrantSummary{Namespace: "service-interconnect", Name: "spoke-link"},
		Changes: []reconcile.Change{{Step: reconcile.Step{Cluster: "east", Action: "push", Reason: "no token"}, Outcome: reconcile.OutcomeFailed, Error: "boom", Duration: 1500 * time.Millisecond}}}
	var out bytes.Buffer
	require.NoError(t, printResult(&out, "wide", res))
	require.Contains(t, out.String(), "TOOK", "wide adds columns")
	require.Contains(t, out.String(), "1.5s")
	require.Regexp(t, `no token\s+boom`, out.String(), "wide shows the reason and the error apart")
	out.Reset()
	require.NoError(t, printResult(&out, "yaml", res))
	var back map[string]any
	require.NoError(t, yaml.Unmarshal(out.Bytes(), &back), "yaml is data")
	require.Equal(t, "east", back["spokes"].([]any)[0].(map[string]any)["cluster"], "the same field names as json")

	now := time.Now()
	rec := &report.Record{Spokes: map[string]*report.SpokeRecord{"east": {State: reconcile.OutcomeLinked, Action: "none", Since: &now, Recorded: &now}}}
	rec.Pass.Started = now
	out.Reset()
	require.NoError(t, printRecord(&out, "wide", rec, now))
	require.Contains(t, out.String(), "RECORDED")
	out.Reset()
	require.NoError(t, printRecord(&out, "yaml", rec, now))
	require.Contains(t, out.String(), "state: linked")

	for _, cmd := range []string{"sync", "status"} {
		code, _, stderr := run(t, cmd, "-o", "csv")
		require.Equal(t, 1, code)
		require.Contains(t, stderr, "must be one of table, wide, json, yaml", "vanlink %s -o", cmd)
	}
}

func TestNamespaceDefaultsToTheKubeconfigContexts(t *testing.T) {
	path := kubeconfig(t)
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"a context with a namespace":    {[]string{"--kubeconfig", path}, "team-net"},
		"a context without a namespace": {[]string{"--kubeconfig", path, "--context", "plain"}, "service-interconnect"},
		"-n wins":                       {[]string{"--kubeconfig", path, "-n", "other"}, "other"},
	} {
		t.Run(name, func(t *testing.T) {
			for _, sub := range []string{"sync", "status", "token", "run", "controller"} {
				root := NewRootCommand(IOStreams{})
				c, rest, err := root.Find(append([]string{sub}, tc.args...))
				require.NoError(t, err)
				require.NoError(t, c.ParseFlags(rest))
				ns, err := c.Flags().GetString("namespace")
				require.NoError(t, err)
				g := &globalOptions{}
				g.kubeconfig, _ = c.Flags().GetString("kubeconfig")
				g.context, _ = c.Flags().GetString("context")
				defaultNamespace(c, g, &ns)
				require.Equal(t, tc.want, ns, "vanlink %s %v", sub, tc.args)
			}
		})
	}
}

func TestShellCompletion(t *testing.T) {
	complete := func(args ...string) []string {
		code, out, _ := run(t, append([]string{"__complete"}, args...)...)
		require.Equal(t, 0, code)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasPrefix(l, ":") {
				got = append(got, l)
			}
		}
		return got
	}
	require.Equal(t, []string{"error", "pending", "never"}, complete("sync", "--fail-on", ""))
	require.Equal(t, []string{"acm", "manifestwork", "direct"}, complete("status", "--transport", ""))
	require.Equal(t, []string{"table", "wide", "json", "yaml"}, complete("sync", "-o", ""))
	require.Equal(t, []string{"text", "json", "yaml"}, complete("version", "-o", ""))
	require.Equal(t, []string{"auto", "text", "json"}, complete("controller", "--log-format", ""))
	require.Equal(t, []string{"hub", "plain"}, complete("--kubeconfig", kubeconfig(t), "status", "--context", ""), "the kubeconfig's contexts")
	require.Empty(t, complete("--kubeconfig", kubeconfig(t), "status", "-n", ""), "an unreachable hub completes no namespace (and does not hang)")
	code, out, _ := run(t, "completion", "bash")
	require.Equal(t, 0, code)
	require.Contains(t, out, "__start_vanlink", "cobra's completion command")
}

func TestWithoutAnyKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "missing"))
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	code, stdout, stderr := run(t, "status")
	require.Equal(t, 1, code)
	require.Empty(t, stdout)
	for _, want := range []string{"no kubeconfig to reach the hub", "--kubeconfig", "KUBECONFIG", "~/.kube/config", "--context"} {
		require.Contains(t, stderr, want, "the message says how to point vanlink at a hub")
	}
	require.Equal(t, 1, strings.Count(stderr, "error:"), "once")
}

func TestTheHookDoesNotWaitForAGrantOnAHubThatRefusesConnections(t *testing.T) {
	start := time.Now()
	code, _, stderr := run(t, "sync", "--policy", "postsync", "--kubeconfig", kubeconfig(t))
	require.Less(t, time.Since(start), 15*time.Second, "the wait ends within seconds, not after --grant-timeout (5m)")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "error: the pass failed: the hub API server 127.0.0.1:1 could not be reached or did not answer 3 reads in a row while waiting for the AccessGrant")
	require.Contains(t, stderr, "connection refused")
	require.Equal(t, 1, strings.Count(stderr, "error:"), "once")
}

func TestAnEmptyKubeconfigFileIsNamed(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	empty := filepath.Join(t.TempDir(), "hub.kubeconfig")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))

	t.Run("given with --kubeconfig", func(t *testing.T) {
		t.Setenv("KUBECONFIG", "")
		code, _, stderr := run(t, "status", "--kubeconfig", empty)
		require.Equal(t, 1, code)
		require.Contains(t, stderr, fmt.Sprintf("--kubeconfig %q: the file has no cluster or context", empty), "the error names the flag and the file")
		require.NotContains(t, stderr, "pass --kubeconfig PATH", "the flag was given: no hint to give it")
		require.Equal(t, 1, strings.Count(stderr, "error:"), "once")
	})
	t.Run("named by KUBECONFIG", func(t *testing.T) {
		t.Setenv("KUBECONFIG", empty)
		code, _, stderr := run(t, "status")
		require.Equal(t, 1, code)
		require.Contains(t, stderr, fmt.Sprintf("$KUBECONFIG %q: its files have no cluster or context", empty))
	})
}

func TestAnUnknownFlagHintsAtHelp(t *testing.T) {
	code, _, stderr := run(t, "sync", "--dryrun")
	require.Equal(t, 1, code)
	require.Contains(t, stderr, "unknown flag: --dryrun")
	require.Contains(t, stderr, "See 'vanlink sync --help'")
	require.Equal(t, 1, strings.Count(stderr, "error:"))
}
