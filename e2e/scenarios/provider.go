// Package scenarios holds vanlink's end-to-end scenarios, written once
// against a Provider of clusters, so the same code runs on local API servers
// (e2e/local, everywhere) and on kind clusters (where Docker runs).
package scenarios

import (
	"context"
	"errors"

	"k8s.io/client-go/rest"
)

// Cluster is one cluster of a provider.
type Cluster struct {
	Name string
	// Config has admin rights.
	Config *rest.Config
	// Kubeconfig is a kubeconfig file equivalent to Config.
	Kubeconfig string
}

// Provider is what a scenario needs from the clusters under test.
type Provider interface {
	// Hub is the hub cluster.
	Hub() Cluster
	// Spokes are the spoke clusters, registered with the hub as
	// ManagedClusters (joined and available) with hub namespaces.
	Spokes() []Cluster
	// AddSpoke brings up one more spoke cluster and registers it.
	AddSpoke(ctx context.Context, name string) (Cluster, error)
	// StopHub stops the hub API server; StartHub brings it back.
	StopHub(ctx context.Context) error
	StartHub(ctx context.Context) error
	// PauseAgent makes a spoke unreachable from the hub (its agent stops
	// answering); ResumeAgent brings it back.
	PauseAgent(spoke string)
	ResumeAgent(spoke string)
	// SetHubLoadBalancer says whether the hub cluster serves LoadBalancer
	// Services (a provider such as MetalLB runs), so a hub Site with
	// linkAccess loadbalancer gets link endpoints. It returns
	// ErrNotSupported when the provider cannot switch it.
	SetHubLoadBalancer(on bool) error
	// HubValues are hub chart values the provider needs (e.g. the
	// transport), merged under every scenario's own values.
	HubValues() map[string]any
	// Describe says what is real and what is simulated, for logs.
	Describe() string
}

// HubControllerPauser is implemented by providers that can stop the hub's
// Skupper controller (as if scaled to zero) and start it again.
type HubControllerPauser interface {
	PauseHubController(paused bool)
}

// RedemptionCounter is implemented by providers whose grant server says
// how it counted a grant's redemptions: how many increments of
// status.redemptions it wrote, and how many redemptions it answered 503
// because that write failed. Upstream's grant server increments the count
// on the grant it caches, which concurrent redemptions share, so a failed
// one can leave its increment in the next write: status.redemptions is then
// above the redemptions honoured, through no fault of the tokens pushed
// (skupperproject/skupper internal/kube/grants/grants.go
// checkAndUpdateAccessToken, Grants.get, Grants.record).
type RedemptionCounter interface {
	Counted(grantUID string) (written, failed int)
}

// ErrNotSupported: the provider cannot do what was asked.
var ErrNotSupported = errors.New("not supported by this provider")

// Runner is implemented by providers that run vanlink themselves, where the
// hub runs pods (kind: a pod of the chart's ServiceAccount with the loaded
// image and the in-cluster config). Providers without it get the binary run
// on this machine with a kubeconfig of that ServiceAccount.
type Runner interface {
	// StartVanlink starts one vanlink command with args; wait returns its
	// Run (Stdout and Stderr both hold the merged log of a pod).
	StartVanlink(ctx context.Context, args []string) (wait func() (Run, error), err error)
}

// Merge deep-merges maps: values of b win, nested maps are merged.
func Merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = Merge(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}
