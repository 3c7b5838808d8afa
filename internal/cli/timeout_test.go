package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// silentServer completes TLS and then never answers, until the test ends.
func silentServer(t *testing.T) (kubeconfig, hostPort string) {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	srv.StartTLS()
	t.Cleanup(func() { close(stop); srv.Close() })
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["hub"] = &clientcmdapi.Cluster{Server: srv.URL, InsecureSkipTLSVerify: true}
	cfg.AuthInfos["hub"] = &clientcmdapi.AuthInfo{Token: "t"}
	cfg.Contexts["hub"] = &clientcmdapi.Context{Cluster: "hub", AuthInfo: "hub"}
	cfg.CurrentContext = "hub"
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, clientcmd.WriteToFile(*cfg, kubeconfig))
	return kubeconfig, strings.TrimPrefix(srv.URL, "https://")
}

func TestCommandsEndWhenTheHubAPIServerNeverAnswers(t *testing.T) {
	kubeconfig, hostPort := silentServer(t)
	tests := map[string][]string{
		"status":             {"status"},
		"status --live":      {"status", "--live"},
		"sync":               {"sync"},
		"sync --dry-run":     {"sync", "--dry-run"},
		"sync, direct":       {"sync", "--transport", "direct"},
		"token":              {"token", "--cluster", "east"},
		"sync --policy cron": {"sync", "--policy", "cron", "--fail-on", "never"},
		// The hook's wait for the grant ends after 3 reads in a row that
		// the server did not answer, not after --grant-timeout.
		"sync --policy postsync": {"sync", "--policy", "postsync", "--grant-timeout", "10m"},
		// The controller's first fill of its informer caches is bounded
		// (--cache-sync-timeout, by default 3 times --request-timeout).
		"controller":                          {"controller", "--http-address", ""},
		"controller, direct":                  {"controller", "--http-address", "", "--transport", "direct"},
		"controller, a placement":             {"controller", "--http-address", "", "--placement", "openshift-gitops/spokes"},
		"controller, --cache-sync-timeout 2s": {"controller", "--http-address", "", "--cache-sync-timeout", "2s"},
	}
	for name, args := range tests {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			code, _, stderr := run(t, append(args, "--kubeconfig", kubeconfig, "--request-timeout", "1s")...)
			took := time.Since(start)
			require.Less(t, took, 15*time.Second, "the command must end, bounded by --request-timeout")
			if name == "sync --policy cron" {
				require.Equal(t, 0, code, "--fail-on never")
				require.Contains(t, stderr, hostPort, "the warning names the server")
				return
			}
			require.NotZero(t, code)
			want := "the hub API server " + hostPort + " did not answer within 1s (--request-timeout)"
			switch name {
			case "sync --policy postsync":
				want = "the hub API server " + hostPort + " could not be reached or did not answer 3 reads in a row while waiting for the AccessGrant"
			case "controller, --cache-sync-timeout 2s":
				want = "the hub API server " + hostPort + " did not answer the controller's lists and watches within 2s (--cache-sync-timeout)"
			case "controller", "controller, direct", "controller, a placement":
				want = "the hub API server " + hostPort + " did not answer the controller's lists and watches within 3s (--cache-sync-timeout, by default 3 times --request-timeout)"
			}
			require.Contains(t, stderr, want, "a clear error naming the server")
			require.Equal(t, 1, strings.Count(stderr, "error:"), "the error is printed once")
		})
	}
}

func TestRequestTimeoutFlag(t *testing.T) {
	tests := map[string]struct {
		value string
		want  time.Duration
		err   string
	}{
		"a duration":                  {value: "45s", want: 45 * time.Second},
		"minutes":                     {value: "2m", want: 2 * time.Minute},
		"a number of seconds":         {value: "10", want: 10 * time.Second},
		"zero, kubectl's no timeout":  {value: "0", err: "must be positive"},
		"a negative duration":         {value: "-1s", err: "must be positive"},
		"something that is no number": {value: "soon", err: "want a duration"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var r requestTimeout
			err := r.Set(tc.value)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, time.Duration(r))
		})
	}
	t.Run("the default bounds every request", func(t *testing.T) {
		g := &globalOptions{}
		g.AddFlags(pflag.NewFlagSet("vanlink", pflag.ContinueOnError))
		require.Equal(t, 30*time.Second, time.Duration(g.requestTimeout))
		g.kubeconfig = filepath.Join(t.TempDir(), "none")
		_ = os.WriteFile(g.kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters: [{name: h, cluster: {server: https://127.0.0.1:1}}]\ncontexts: [{name: h, context: {cluster: h}}]\ncurrent-context: h\n"), 0o600)
		cfg, err := g.restConfig()
		require.NoError(t, err)
		require.Equal(t, 30*time.Second, cfg.Timeout, "rest.Config.Timeout is --request-timeout")
	})
}
