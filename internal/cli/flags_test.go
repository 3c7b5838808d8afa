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
		"a selector and a placement":        {[]string{"sync", "--placement", "a/b", "--cluster-selector", "x=y"}, `--placement "a/b": chooses spokes another way than --cluster-selector "x=y": set one`},
		"a malformed selector":              {[]string{"sync", "--cluster-selector", "region in (east"}, `--cluster-selector "region in (east"`},
		"zero concurrency":                  {[]string{"sync", "--concurrency", "0"}, "--concurrency 0: must be at least 1"},
		"a grant name that is not DNS-1123": {[]string{"sync", "--grant", "Spoke_Link"}, `--grant "Spoke_Link"`},
		"a negative grant timeout":          {[]string{"sync", "--grant-timeout", "-1m"}, `--grant-timeout -1m0s: must be positive`},
		"an invalid schedule":               {[]string{"run", "--schedule", "61 * * * *"}, `--schedule "61 * * * *": end of range (61) above maximum (59): 61 (want five fields`},
		"an unknown output format":          {[]string{"status", "-o", "xml"}, `must be one of table, wide, json, yaml`},
		"a token without cluster":           {[]string{"token"}, `--cluster "": is required`},
		"an unknown log format":             {[]string{"sync", "--log-format", "xml"}, `"xml" for "--log-format" flag: must be one of auto, text, json`},
		"an unknown transport":              {[]string{"sync", "--transport", "ssh"}, `"--transport" flag: must be one of acm`},
		"no request timeout":                {[]string{"status", "--request-timeout", "0"}, `invalid argument "0" for "--request-timeout" flag: must be positive`},
		"hub namespaces with direct":        {[]string{"sync", "--transport", "direct", "--hub-namespaces", "east"}, `--hub-namespaces "east": is for --transport acm or manifestwork`},
		"a placement with direct":           {[]string{"sync", "--transport", "direct", "--placement", "a/b"}, `--placement "a/b": is for --transport acm or manifestwork`},
		"a hub namespace not DNS-1123":      {[]string{"sync", "--hub-namespaces", "East_1"}, `--hub-namespaces "East_1"`},
		"no observation deadline":           {[]string{"sync", "--observe-timeout", "0"}, "--observe-timeout 0s: must be positive"},
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

// TestEachBadValueNamesItsFlagAndValue: every Validate error names the one
// flag refused and its value, as --concurrency 0: must be at least 1 does,
// never a list of flags.
func TestEachBadValueNamesItsFlagAndValue(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"sync: a zero spoke timeout":               {[]string{"sync", "--spoke-timeout", "0"}, "--spoke-timeout 0s: must be positive"},
		"sync: a zero observe timeout":             {[]string{"sync", "--observe-timeout", "0"}, "--observe-timeout 0s: must be positive"},
		"sync: a negative expiry margin":           {[]string{"sync", "--expiry-margin", "-1h"}, "--expiry-margin -1h0m0s: must not be negative"},
		"sync: a negative link-ready timeout":      {[]string{"sync", "--link-ready-timeout", "-1s"}, "--link-ready-timeout -1s: must not be negative"},
		"sync: a view interval under a second":     {[]string{"sync", "--view-interval", "500ms"}, "--view-interval 500ms: must be at least 1s"},
		"sync: a zero rotation timeout":            {[]string{"sync", "--rotation-timeout", "0"}, "--rotation-timeout 0s: must be positive"},
		"sync: a negative lease wait":              {[]string{"sync", "--lease-wait", "-1s"}, "--lease-wait -1s: must not be negative"},
		"sync: a negative link cost":               {[]string{"sync", "--link-cost", "-2"}, "--link-cost -2: must not be negative"},
		"sync: a zero grant timeout":               {[]string{"sync", "--grant-timeout", "0"}, "--grant-timeout 0s: must be positive"},
		"sync: a namespace not DNS-1123":           {[]string{"sync", "-n", "Hub_NS"}, `--namespace "Hub_NS": a lowercase RFC 1123 label`},
		"sync: a token name not DNS-1123":          {[]string{"sync", "--token-name", "Hub_Link"}, `--token-name "Hub_Link": a lowercase RFC 1123 label`},
		"sync: a bad credentials selector":         {[]string{"sync", "--credentials-selector", "a in (b"}, `--credentials-selector "a in (b": `},
		"sync: a cluster selector with direct":     {[]string{"sync", "--transport", "direct", "--cluster-selector", "x=y"}, `--cluster-selector "x=y": is for --transport acm or manifestwork`},
		"sync: no QPS":                             {[]string{"sync", "--kube-api-qps", "0"}, "--kube-api-qps 0: must be positive"},
		"sync: no burst":                           {[]string{"sync", "--kube-api-burst", "0"}, "--kube-api-burst 0: must be at least 1"},
		"sync: a negative verbosity":               {[]string{"sync", "-v", "-1"}, "-v -1: must be 0 or more"},
		"run: a zero spoke timeout":                {[]string{"run", "--spoke-timeout", "0"}, "--spoke-timeout 0s: must be positive"},
		"status: a zero concurrency":               {[]string{"status", "--concurrency", "0"}, "--concurrency 0: must be at least 1"},
		"status: a negative expiry margin":         {[]string{"status", "--expiry-margin", "-1s"}, "--expiry-margin -1s: must not be negative"},
		"token: a cluster not DNS-1123":            {[]string{"token", "--cluster", "East_1"}, `--cluster "East_1": a lowercase RFC 1123 label`},
		"token: a negative link cost":              {[]string{"token", "--cluster", "east", "--link-cost", "-1"}, "--link-cost -1: must not be negative"},
		"controller: no batch":                     {[]string{"controller", "--max-batch", "0"}, "--max-batch 0: must be at least 1"},
		"controller: a resync under a second":      {[]string{"controller", "--resync", "100ms"}, "--resync 100ms: must be at least 1s"},
		"controller: a zero min backoff":           {[]string{"controller", "--min-backoff", "0"}, "--min-backoff 0s: must be positive"},
		"controller: a max backoff under the min":  {[]string{"controller", "--min-backoff", "10s", "--max-backoff", "1s"}, "--max-backoff 1s: must be at least --min-backoff (10s)"},
		"controller: a zero push backoff":          {[]string{"controller", "--push-backoff", "0"}, "--push-backoff 0s: must be positive"},
		"controller: a negative cache sync":        {[]string{"controller", "--cache-sync-timeout", "-1s"}, "--cache-sync-timeout -1s: must be positive, or 0"},
		"controller: profiles with no address":     {[]string{"controller", "--profiling", "--http-address", ""}, `--http-address "": --profiling serves the profiles there`},
		"controller: a zero retry period":          {[]string{"controller", "--leader-retry-period", "0"}, "--leader-retry-period 0s: must be positive"},
		"controller: a renew deadline too short":   {[]string{"controller", "--leader-renew-deadline", "1s"}, "--leader-renew-deadline 1s: must be longer than --leader-retry-period (2s)"},
		"controller: a lease shorter than renewal": {[]string{"controller", "--leader-lease-duration", "10s"}, "--leader-lease-duration 10s: must be longer than --leader-renew-deadline (10s)"},
		"controller: a pass flag":                  {[]string{"controller", "--spoke-timeout", "0"}, "--spoke-timeout 0s: must be positive"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := run(t, append(tc.args, "--kubeconfig", "/nonexistent")...)
			require.Equal(t, 1, code)
			require.Contains(t, stderr, "error: "+tc.want, "the error starts with the one flag and its value")
			require.Equal(t, 1, strings.Count(stderr, "error:"), "the error is printed once")
		})
	}
	t.Run("a FlagError is typed", func(t *testing.T) {
		o := &observeOptions{concurrency: 0}
		var fe *FlagError
		require.ErrorAs(t, o.Validate(), &fe)
		require.Equal(t, "--concurrency", fe.Flag)
		require.Equal(t, "0", fe.Value)
	})
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
