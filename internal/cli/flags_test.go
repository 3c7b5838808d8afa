package cli

import (
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
)

func TestBadFlagsFailWithAClearMessage(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"an unknown fail-on policy":         {[]string{"sync", "--fail-on", "sometimes"}, `invalid argument "sometimes" for "--fail-on" flag: must be one of error, pending, never`},
		"an unknown job policy":             {[]string{"sync", "--policy", "hourly"}, `"--policy" flag: must be one of postsync, cron`},
		"a placement without namespace":     {[]string{"sync", "--placement", "vanlink-spokes"}, `--placement "vanlink-spokes": want NAMESPACE/NAME`},
		"a selector and a placement":        {[]string{"sync", "--placement", "a/b", "--cluster-selector", "x=y"}, "set one"},
		"a malformed selector":              {[]string{"sync", "--cluster-selector", "region in (east"}, `--cluster-selector "region in (east"`},
		"zero concurrency":                  {[]string{"sync", "--concurrency", "0"}, "--concurrency 0: must be at least 1"},
		"a grant name that is not DNS-1123": {[]string{"sync", "--grant", "Spoke_Link"}, `--grant "Spoke_Link"`},
		"a negative grant timeout":          {[]string{"sync", "--grant-timeout", "-1m"}, `--grant-timeout -1m0s: must be positive`},
		"an invalid schedule":               {[]string{"run", "--schedule", "61 * * * *"}, `schedule "61 * * * *"`},
		"an unknown output format":          {[]string{"status", "-o", "xml"}, `must be one of table, wide, json, yaml`},
		"a token without cluster":           {[]string{"token"}, "--cluster is required"},
		"an unknown log format":             {[]string{"sync", "--log-format", "xml"}, `"xml" for "--log-format" flag: must be one of auto, text, json`},
		"an unknown transport":              {[]string{"sync", "--transport", "ssh"}, `"--transport" flag: must be one of acm`},
		"no request timeout":                {[]string{"status", "--request-timeout", "0"}, `invalid argument "0" for "--request-timeout" flag: must be positive`},
		"hub namespaces with direct":        {[]string{"sync", "--transport", "direct", "--hub-namespaces", "east"}, "--hub-namespaces is for --transport acm or manifestwork"},
		"a placement with direct":           {[]string{"sync", "--transport", "direct", "--placement", "a/b"}, "--cluster-selector and --placement are for --transport acm or manifestwork"},
		"a hub namespace not DNS-1123":      {[]string{"sync", "--hub-namespaces", "East_1"}, `--hub-namespaces "East_1"`},
		"no observation deadline":           {[]string{"sync", "--observe-timeout", "0"}, "--observe-timeout must be positive"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := run(t, tc.args...)
			require.Equal(t, 1, code)
			require.Contains(t, stderr, tc.want)
			require.Equal(t, 1, strings.Count(stderr, "error:"), "the error is printed once")
		})
	}
}

// TestEachSubcommandTakesOnlyTheFlagsItUses lists the flags of each
// subcommand (besides the global ones every command that reaches the hub
// shares).
func TestEachSubcommandTakesOnlyTheFlagsItUses(t *testing.T) {
	grant := []string{"grant", "namespace", "spoke-namespace", "token-name"}
	observe := []string{"cluster-selector", "concurrency", "credentials-namespace", "credentials-selector", "expiry-margin", "fresh", "hub-namespaces",
		"link-ready-timeout", "observe-timeout", "placement", "spoke-timeout", "transport", "view-interval"}
	push := []string{"lease", "lease-wait", "link-cost", "prune", "rotate-grant", "rotation-timeout"}
	record := []string{"status-configmap"}
	join := func(groups ...[]string) []string {
		var out []string
		for _, g := range groups {
			out = append(out, g...)
		}
		sort.Strings(out)
		return out
	}
	tests := map[string][]string{
		"sync":    join(grant, observe, push, record, []string{"dry-run", "fail-on", "grant-timeout", "output", "policy"}),
		"run":     join(grant, observe, push, record, []string{"fail-on", "schedule"}),
		"status":  join(grant, observe, record, []string{"live", "output"}),
		"token":   join(grant, []string{"cluster", "link-cost"}),
		"version": {"output"},
	}
	root := NewRootCommand(IOStreams{})
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			c, _, err := root.Find([]string{name})
			require.NoError(t, err)
			var got []string
			c.LocalNonPersistentFlags().VisitAll(func(f *pflag.Flag) { got = append(got, f.Name) })
			sort.Strings(got)
			require.Equal(t, want, got, "the flags of vanlink %s", name)
		})
	}
	t.Run("every command shares the global flags", func(t *testing.T) {
		var got []string
		root.PersistentFlags().VisitAll(func(f *pflag.Flag) { got = append(got, f.Name) })
		sort.Strings(got)
		require.Equal(t, []string{"context", "kube-api-burst", "kube-api-qps", "kubeconfig", "log-format", "request-timeout", "v"}, got)
	})
}

func TestFlagsASubcommandDoesNotUseAreRefused(t *testing.T) {
	tests := map[string][]string{
		"token does not prune":                  {"token", "--cluster", "east", "--prune"},
		"token does not choose spokes":          {"token", "--cluster", "east", "--placement", "a/b"},
		"token takes no lease":                  {"token", "--cluster", "east", "--lease-wait", "1m"},
		"status does not rotate the grant":      {"status", "--rotate-grant"},
		"status --live does not take a lease":   {"status", "--live", "--lease", "x"},
		"status does not set the link cost":     {"status", "--link-cost", "3"},
		"status has no job policy":              {"status", "--policy", "cron"},
		"version does not reach the hub at all": {"version", "--transport", "direct"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := run(t, args...)
			require.Equal(t, 1, code)
			require.Contains(t, stderr, "unknown flag", "the flag is not offered")
			require.Equal(t, 1, strings.Count(stderr, "error:"), "the error is printed once")
		})
	}
}

func TestStatusLiveKeepsTheTransportFlags(t *testing.T) {
	root := NewRootCommand(IOStreams{})
	c, _, err := root.Find([]string{"status"})
	require.NoError(t, err)
	require.NoError(t, c.ParseFlags([]string{"--live", "--transport", "direct", "--credentials-namespace", "argocd", "--credentials-selector", "env=demo", "--fresh", "--concurrency", "8"}))
	require.Error(t, c.ParseFlags([]string{"--transport", "ssh"}), "an enum flag validates when set")
}

// TestThePassDeadlinesReachTheEngine: --spoke-timeout and --observe-timeout
// are the engine's two deadlines.
func TestThePassDeadlinesReachTheEngine(t *testing.T) {
	o := &passOptions{}
	fs := pflag.NewFlagSet("sync", pflag.ContinueOnError)
	o.AddFlags(fs)
	require.NoError(t, fs.Parse([]string{"--transport", "direct"}))
	c := &clients{kube: kubefake.NewClientset(), dyn: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())}
	e := o.engine(c, slog.New(slog.DiscardHandler), false)
	require.Equal(t, 5*time.Minute, e.Opts.ObserveTimeout, "the default observation deadline")
	require.NoError(t, fs.Parse([]string{"--observe-timeout", "7m", "--spoke-timeout", "90s"}))
	require.NoError(t, o.Validate())
	e = o.engine(c, slog.New(slog.DiscardHandler), false)
	require.Equal(t, 7*time.Minute, e.Opts.ObserveTimeout)
	require.Equal(t, 90*time.Second, e.Opts.SpokeTimeout)
}
