package kind

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/vanlink/vanlink/e2e/scenarios"
	"github.com/vanlink/vanlink/internal/charts"
)

// Provider runs the e2e scenarios on kind clusters: real kube-apiservers,
// kubelets, Job controller, Skupper controller and routers; nothing
// simulated. Spokes are reached with the direct transport, through Argo CD
// cluster Secrets holding kind's internal addresses, and every vanlink
// command runs in a pod of the hub as the chart's ServiceAccount.
type Provider struct {
	Fleet  *Fleet
	Images Images

	// ops acts on the clusters' nodes (the Fleet; a fake in unit tests).
	ops clusterOps
	// kube and uninstall reach a cluster's API (fakes in unit tests).
	kube      func(*Cluster) kubernetes.Interface
	uninstall func(kubeconfig, namespace, release string, timeout time.Duration) error

	mu     sync.Mutex
	hub    *Cluster
	spokes []*Cluster
	// base are the spokes the provider started with; Reset removes the others.
	base []string
	// paused are the spokes PauseAgent froze and ResumeAgent has not thawed.
	paused map[string]bool
}

// clusterOps is what the provider does to the kind clusters' node
// containers; *Fleet implements it.
type clusterOps interface {
	Pause(name string) error
	Unpause(name string) error
	Down(name string) error
	CollectLogs(name, dir string) error
}

var _ clusterOps = (*Fleet)(nil)

func newProvider(ops clusterOps, images Images, spokes []string) *Provider {
	return &Provider{ops: ops, Images: images, base: spokes, paused: map[string]bool{},
		kube: (*Cluster).Kube, uninstall: charts.Uninstall}
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
	p := newProvider(f, images, spokes)
	p.Fleet = f
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
// answering the hub. ResumeAgent thaws them. A spoke left paused (a
// scenario that failed between the two) is thawed by ResumePaused, which
// Reset and Finish call first.
func (p *Provider) PauseAgent(spoke string) {
	p.mu.Lock()
	p.paused[spoke] = true
	p.mu.Unlock()
	if err := p.ops.Pause(spoke); err != nil {
		p.log().Error("pausing a spoke", "cluster", spoke, "err", err)
	}
}

func (p *Provider) ResumeAgent(spoke string) {
	if err := p.resume(spoke); err != nil {
		p.log().Error("resuming a spoke", "cluster", spoke, "err", err)
	}
}

func (p *Provider) resume(spoke string) error {
	if err := p.ops.Unpause(spoke); err != nil {
		return fmt.Errorf("resuming spoke %s: %w", spoke, err)
	}
	p.mu.Lock()
	delete(p.paused, spoke)
	p.mu.Unlock()
	return nil
}

// Paused are the spokes paused and not resumed, sorted.
func (p *Provider) Paused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.paused))
	for name := range p.paused {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// ResumePaused thaws every spoke paused and not resumed, and tries them all
// whatever fails.
func (p *Provider) ResumePaused() error {
	var errs []error
	for _, name := range p.Paused() {
		errs = append(errs, p.resume(name))
	}
	return errors.Join(errs...)
}

func (p *Provider) log() *slog.Logger {
	if p.Fleet != nil {
		return p.Fleet.opts.Log
	}
	return slog.New(slog.DiscardHandler)
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
	runner := PodRunner{Client: p.kube(p.hub)}
	if p.Fleet != nil {
		runner.Streams = p.Fleet.PodStreams(p.hub.Name)
	}
	wait, err := runner.Start(ctx, pod)
	if err != nil {
		return nil, err
	}
	return func() (scenarios.Run, error) {
		r, err := wait()
		if err != nil {
			return scenarios.Run{}, err
		}
		return toRun(r), nil
	}, nil
}

// toRun maps a pod's result to a scenario Run. With the streams apart they
// are the Run's Stdout and Stderr, as a local run has them, and the harness
// prints the log once. Without, both must hold the merged log (scenarios
// look for data lines in Stdout and errors in Stderr), and it shows twice.
func toRun(r Result) scenarios.Run {
	if r.Split {
		return scenarios.Run{Code: r.ExitCode, Stdout: r.Stdout, Stderr: r.Stderr}
	}
	return scenarios.Run{Code: r.ExitCode, Stdout: r.Log, Stderr: r.Log}
}

// Reset returns the clusters to their state after Start: paused spokes
// resumed (first: a frozen API server would hold up everything else), the
// charts uninstalled, the chart namespace gone everywhere, the spokes added
// by a scenario deleted and unregistered. Skupper itself stays installed.
// It goes through every step and cluster whatever fails, and returns every
// error.
func (p *Provider) Reset(ctx context.Context) error {
	var errs []error
	if err := p.ResumePaused(); err != nil {
		errs = append(errs, err)
	}
	p.mu.Lock()
	all := append([]*Cluster{p.hub}, p.spokes...)
	p.mu.Unlock()
	for _, c := range all {
		release := c.Name
		if c == p.hub {
			release = scenarios.HubRelease
		}
		if err := p.uninstall(c.Kubeconfig, "default", release, 3*time.Minute); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
		}
		if err := deleteNamespace(ctx, p.kube(c), scenarios.Namespace, 3*time.Minute); err != nil {
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
		if err := unregister(ctx, p.kube(p.hub), name); err != nil {
			errs = append(errs, err)
		}
		if err := p.ops.Down(name); err != nil {
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
		if err := p.ops.CollectLogs(name, filepath.Join(dir, name)); err != nil {
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
		errs = append(errs, p.ops.Down(name))
	}
	return errors.Join(errs...)
}

// Finish ends a run: paused spokes are resumed; then, with keep, the
// clusters stay and w is told where their kubeconfigs are; without, they
// are deleted.
func (p *Provider) Finish(keep bool, w io.Writer) error {
	errs := []error{p.ResumePaused()}
	if !keep {
		errs = append(errs, p.Delete())
		return errors.Join(errs...)
	}
	p.mu.Lock()
	all := append([]*Cluster{p.hub}, p.spokes...)
	p.mu.Unlock()
	fmt.Fprintln(w, "VANLINK_KIND_KEEP is set: the kind clusters are kept (the next run reuses them); their kubeconfigs:")
	var kindNames []string
	for _, c := range all {
		fmt.Fprintf(w, "  %-6s %s  (kind cluster %s)\n", c.Name, c.Kubeconfig, c.KindName)
		kindNames = append(kindNames, c.KindName)
	}
	fmt.Fprintf(w, "  e.g. kubectl --kubeconfig %s -n %s get pods\n", all[0].Kubeconfig, scenarios.Namespace)
	fmt.Fprintf(w, "delete them with: kind delete clusters %s\n", strings.Join(kindNames, " "))
	return errors.Join(errs...)
}
