package kind

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vanlink/vanlink/e2e/scenarios"
	"github.com/vanlink/vanlink/pkg/charts"
)

// Provider runs the e2e scenarios on kind clusters: real kube-apiservers,
// kubelets, Job controller, Skupper controller and routers; nothing
// simulated. Spokes are reached with the direct transport, through Argo CD
// cluster Secrets holding kind's internal addresses, and every vanlink
// command runs in a pod of the hub as the chart's ServiceAccount.
type Provider struct {
	Fleet  *Fleet
	Images Images

	mu     sync.Mutex
	hub    *Cluster
	spokes []*Cluster
	// base are the spokes the provider started with; Reset removes the others.
	base []string
}

var (
	_ scenarios.Provider = (*Provider)(nil)
	_ scenarios.Runner   = (*Provider)(nil)
)

// ErrHubRestart is returned by StopHub and StartHub: on kind the pass runs
// in a pod of the hub, so the hub's API server cannot stop alone.
var ErrHubRestart = errors.New("the kind provider cannot stop the hub's API server alone")

// Start brings up (or reuses) the hub and the spokes, and registers each
// spoke with the hub.
func Start(ctx context.Context, f *Fleet, images Images, spokes []string) (*Provider, error) {
	p := &Provider{Fleet: f, Images: images, base: spokes}
	hub, err := f.Up(ctx, "hub")
	if err != nil {
		return nil, err
	}
	p.hub = hub
	for _, name := range spokes {
		if _, err := p.AddSpoke(ctx, name); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func toScenario(c *Cluster) scenarios.Cluster {
	return scenarios.Cluster{Name: c.Name, Config: c.Config, Kubeconfig: c.Kubeconfig}
}

func (p *Provider) Hub() scenarios.Cluster { return toScenario(p.hub) }

func (p *Provider) Spokes() []scenarios.Cluster {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []scenarios.Cluster
	for _, c := range p.spokes {
		out = append(out, toScenario(c))
	}
	return out
}

// AddSpoke brings up a kind cluster for the spoke and registers it.
func (p *Provider) AddSpoke(ctx context.Context, name string) (scenarios.Cluster, error) {
	c, err := p.Fleet.Up(ctx, name)
	if err != nil {
		return scenarios.Cluster{}, err
	}
	if err := Register(ctx, p.hub, c); err != nil {
		return scenarios.Cluster{}, err
	}
	p.mu.Lock()
	p.spokes = append(p.spokes, c)
	p.mu.Unlock()
	return toScenario(c), nil
}

func (p *Provider) StopHub(context.Context) error  { return ErrHubRestart }
func (p *Provider) StartHub(context.Context) error { return ErrHubRestart }

// PauseAgent freezes the spoke's node containers: its API server stops
// answering the hub. ResumeAgent thaws them.
func (p *Provider) PauseAgent(spoke string) {
	if err := p.Fleet.Pause(spoke); err != nil {
		p.Fleet.opts.Log.Error("pausing a spoke", "spoke", spoke, "err", err)
	}
}

func (p *Provider) ResumeAgent(spoke string) {
	if err := p.Fleet.Unpause(spoke); err != nil {
		p.Fleet.opts.Log.Error("resuming a spoke", "spoke", spoke, "err", err)
	}
}

// HubValues selects the direct transport and the loaded image, exposes the
// hub router through a NodePort on the kind network, and suspends the chart's
// CronJob: the scenarios run each pass themselves.
func (p *Provider) HubValues() map[string]any {
	return HubValues(p.Images)
}

// HubValues are the hub chart values for kind: direct transport through the
// Argo CD cluster Secrets, the loaded vanlink image, NodePort link access.
func HubValues(im Images) map[string]any {
	return map[string]any{
		"site": map[string]any{"linkAccess": "nodeport"},
		"sync": map[string]any{
			"transport": "direct",
			"direct":    map[string]any{"secretNamespace": CredentialsNamespace},
			"image":     map[string]any{"repository": im.Repository, "tag": im.Tag, "pullPolicy": "IfNotPresent"},
			"cronJob":   map[string]any{"suspend": true},
		},
	}
}

func (p *Provider) Describe() string {
	return fmt.Sprintf("kind clusters %s and %d spokes: real API servers, Skupper %s controller and router %s, vanlink %s in hub pods, transport direct; nothing simulated",
		p.hub.KindName, len(p.Spokes()), SkupperVersion, p.Fleet.opts.RouterImage, p.Images.Vanlink())
}

// StartVanlink runs one vanlink command in a pod of the hub's chart
// namespace as the sync ServiceAccount, with the loaded image.
func (p *Provider) StartVanlink(ctx context.Context, args []string) (func() (scenarios.Run, error), error) {
	pod := CommandPod(scenarios.Namespace, "vanlink-", scenarios.SyncAccount, p.Images.Vanlink(), args)
	wait, err := StartPod(ctx, p.hub.Kube(), pod)
	if err != nil {
		return nil, err
	}
	return func() (scenarios.Run, error) {
		r, err := wait()
		if err != nil {
			return scenarios.Run{}, err
		}
		return scenarios.Run{Code: r.ExitCode, Stdout: r.Log, Stderr: r.Log}, nil
	}, nil
}

// Reset returns the clusters to their state after Start: the charts
// uninstalled, the chart namespace gone everywhere, the spokes added by a
// scenario deleted and unregistered. Skupper itself stays installed.
func (p *Provider) Reset(ctx context.Context) error {
	var errs []error
	p.mu.Lock()
	all := append([]*Cluster{p.hub}, p.spokes...)
	p.mu.Unlock()
	for _, c := range all {
		release := c.Name
		if c == p.hub {
			release = scenarios.HubRelease
		}
		if err := charts.Uninstall(c.Kubeconfig, "default", release, 3*time.Minute); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
		if err := deleteNamespace(ctx, c.Kube(), scenarios.Namespace, 3*time.Minute); err != nil {
			errs = append(errs, fmt.Errorf("%s: deleting namespace %s: %w", c.Name, scenarios.Namespace, err))
		}
	}
	p.mu.Lock()
	keep := p.spokes[:0]
	var extra []string
	for _, c := range p.spokes {
		if slices.Contains(p.base, c.Name) {
			keep = append(keep, c)
		} else {
			extra = append(extra, c.Name)
		}
	}
	p.spokes = keep
	p.mu.Unlock()
	for _, name := range extra {
		if err := Unregister(ctx, p.hub, name); err != nil {
			errs = append(errs, err)
		}
		if err := p.Fleet.Down(name); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("resetting the kind clusters: %w", errors.Join(errs...))
	}
	return nil
}

// Names are every cluster of the provider, hub first.
func (p *Provider) Names() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := []string{p.hub.Name}
	for _, c := range p.spokes {
		out = append(out, c.Name)
	}
	return out
}

// CollectLogs exports every cluster's logs under dir/<cluster>.
func (p *Provider) CollectLogs(dir string) error {
	var errs []string
	for _, name := range p.Names() {
		if err := p.Fleet.CollectLogs(name, filepath.Join(dir, name)); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Delete deletes every cluster of the provider.
func (p *Provider) Delete() error {
	var errs []error
	for _, name := range p.Names() {
		errs = append(errs, p.Fleet.Down(name))
	}
	return errors.Join(errs...)
}
