// Package local is the cluster provider of the e2e scenarios on real local
// API servers (the test bed): a hub and spokes, each a real kube-apiserver,
// with the two components that cannot run here played by faithful doubles:
// ACM's work-manager agent and the Skupper controller (with an in-process
// HTTPS grant server on 127.0.0.1).
package local

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterclient "open-cluster-management.io/api/client/cluster/clientset/versioned"

	skupperdouble "github.com/vanlink/vanlink/e2e/doubles/skupper"
	"github.com/vanlink/vanlink/e2e/fixtures"
	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/e2e/scenarios"
	"github.com/vanlink/vanlink/pkg/spokecreds"
	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
)

// Options of the local provider.
type Options struct {
	Spokes []string
	// Log receives the doubles' lines; nil keeps their last lines for
	// DumpLogs.
	Log *slog.Logger
	// Dir keeps the bed's files (logs) there; empty uses a temporary folder.
	Dir string
	// ViewScale maps one second of a view's refresh interval to this much
	// time (default 1 ms: vanlink's 300 s views refresh every 300 ms).
	ViewScale time.Duration
	// AgentGCDelay is the hub's garbage-collection delay of completed
	// actions (default 60 s, as ACM).
	AgentGCDelay time.Duration
	// Transport is "acm" (default: spokes reached through the agent double),
	// "manifestwork" (spokes reached through ManifestWorks applied by the
	// real OCM work agent, one process per spoke) or "direct" (spokes
	// reached with Argo CD cluster Secrets on the hub).
	Transport string
}

// CredentialsNamespace is where the direct transport's Argo CD cluster
// Secrets live on the hub.
const CredentialsNamespace = "argocd"

// Provider runs the bed and the doubles.
type Provider struct {
	Env    *framework.Env
	Agent  *acmtest.Agent
	Grants *skupperdouble.Hub
	// Network sets the hub's and spokes' Listener matches (hasMatchingConnector).
	Network *skupperdouble.Network

	opts   Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	spokes map[string]*skupperdouble.Spoke
	// holes are the black holes of paused spokes (direct), by spoke.
	holes map[string]net.Listener
	// workAgents are the OCM work agents of the spokes (manifestwork).
	workAgents map[string]*framework.WorkAgent
	// tail keeps the doubles' last lines when Options.Log is nil.
	tail *logTail
}

var (
	_ scenarios.Provider          = (*Provider)(nil)
	_ scenarios.RedemptionCounter = (*Provider)(nil)
)

// Start brings up the bed, registers the spokes with the hub and starts the doubles.
func Start(ctx context.Context, o Options) (p *Provider, err error) {
	env, err := framework.Start(ctx, framework.Options{Spokes: o.Spokes, Dir: o.Dir, KeepDir: o.Dir != ""})
	if err != nil {
		return nil, err
	}
	p = &Provider{Env: env}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if err := env.Checkpoint(ctx); err != nil {
		return nil, err
	}
	return p, p.populate(ctx, o)
}

// Reset brings the bed back to the state Start left it in, for the next
// scenario (see Clear), and registers its spokes again for o, with fresh
// doubles. o.Spokes and o.Dir must be the bed's; the transport may differ.
func (p *Provider) Reset(ctx context.Context, o Options) error {
	if err := p.Clear(ctx); err != nil {
		return err
	}
	return p.Populate(ctx, o)
}

// Clear stops the doubles and the work agents and deletes every object made
// since Start from every cluster (framework.Env.Reset): the bed is as
// framework.Start left it, until Populate. It fails, leaving the Provider
// to be closed, when the bed cannot be brought back exactly
// (framework.ErrNotResettable: a spoke was added, for one).
func (p *Provider) Clear(ctx context.Context) error {
	p.stopDoubles()
	return p.Env.Reset(ctx)
}

// Populate registers a Clear'ed bed's spokes with the hub for o and starts
// the doubles afresh.
func (p *Provider) Populate(ctx context.Context, o Options) error {
	if !slices.Equal(o.Spokes, p.opts.Spokes) || o.Dir != p.opts.Dir {
		return fmt.Errorf("%w: the bed has spokes %v (folder %q), %v (folder %q) asked for", framework.ErrNotResettable, p.opts.Spokes, p.opts.Dir, o.Spokes, o.Dir)
	}
	return p.populate(ctx, o)
}

// populate registers the spokes with the hub for the transport of o and
// starts the doubles.
func (p *Provider) populate(ctx context.Context, o Options) error {
	var tail *logTail
	if o.Log == nil {
		tail = newLogTail(doublesLogLines)
		o.Log = slog.New(slog.NewTextHandler(tail, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.ViewScale == 0 {
		o.ViewScale = time.Millisecond
	}
	if o.Transport == "" {
		o.Transport = "acm"
	}
	p.mu.Lock()
	p.opts, p.tail = o, tail
	p.spokes, p.holes, p.workAgents = map[string]*skupperdouble.Spoke{}, map[string]net.Listener{}, map[string]*framework.WorkAgent{}
	p.mu.Unlock()
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	hub := p.Env.Hub
	cs := clusterclient.NewForConfigOrDie(hub.Config)
	if err := fixtures.ManagedCluster(ctx, cs, hub.Kube(), "local-cluster", map[string]string{"local-cluster": "true"}, true); err != nil {
		return err
	}
	p.Agent = acmtest.New(hub.Dynamic(), acmtest.Options{GCDelay: o.AgentGCDelay, Log: o.Log,
		ViewRefresh: func(s int64) time.Duration { return time.Duration(s) * o.ViewScale }})
	var err error
	if p.Grants, err = skupperdouble.NewHub(hub.Dynamic(), o.Log); err != nil {
		return err
	}
	// The hub chart's Site asks for linkAccess loadbalancer (not OpenShift):
	// the bed plays a cluster with a LoadBalancer provider, as a user's
	// cloud or MetalLB would be; scenarios switch it off.
	p.Grants.SetLoadBalancer(true)
	p.Network = skupperdouble.NewNetwork(hub.Dynamic(), o.Log)
	p.goRun(func(ctx context.Context) { _ = p.Agent.Run(ctx) })
	p.goRun(p.Grants.Run)
	p.goRun(p.Network.Run)
	for _, c := range p.Env.Spokes {
		if err := p.register(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// stopDoubles stops the doubles and the work agents, and brings back the
// API servers of paused spokes (direct).
func (p *Provider) stopDoubles() {
	for _, spoke := range p.stopRunning() {
		if c := p.Env.Cluster(spoke); c != nil {
			_ = c.Start(context.Background())
		}
	}
	p.Env.StopWorkAgents()
}

// stopRunning closes the black holes of paused spokes and stops the
// doubles; it returns the paused spokes.
func (p *Provider) stopRunning() (paused []string) {
	p.mu.Lock()
	for spoke, l := range p.holes {
		_ = l.Close()
		paused = append(paused, spoke)
	}
	p.holes = map[string]net.Listener{}
	p.mu.Unlock()
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	if p.Grants != nil {
		p.Grants.Close()
	}
	return paused
}

func (p *Provider) goRun(f func(context.Context)) {
	p.wg.Go(func() { f(p.ctx) })
}

// register makes a spoke known to the hub and starts its doubles.
func (p *Provider) register(ctx context.Context, c *framework.Cluster) error {
	hub := p.Env.Hub
	if err := fixtures.ManagedCluster(ctx, clusterclient.NewForConfigOrDie(hub.Config), hub.Kube(), c.Name, map[string]string{"vanlink.io/interconnect": "spoke"}, true); err != nil {
		return fmt.Errorf("registering %s: %w", c.Name, err)
	}
	p.Agent.AddSpoke(c.Name, acmtest.APISpoke{Client: c.Dynamic()})
	if p.opts.Transport == "manifestwork" {
		if err := p.startWorkAgent(ctx, c.Name); err != nil {
			return err
		}
	}
	if p.opts.Transport == "direct" {
		// Register the spoke as Argo CD does: a cluster Secret on the hub.
		if err := fixtures.Namespace(ctx, hub.Kube(), CredentialsNamespace); err != nil {
			return err
		}
		sec, err := spokecreds.ArgoSecret(CredentialsNamespace, c.Name, c.URL, c.Config, map[string]string{"vanlink.io/interconnect": "spoke"})
		if err != nil {
			return err
		}
		if _, err := hub.Kube().CoreV1().Secrets(CredentialsNamespace).Create(ctx, sec, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("registering %s with Argo CD: %w", c.Name, err)
		}
	}
	s := skupperdouble.NewSpoke(c.Name, c.Dynamic(), p.opts.Log)
	p.mu.Lock()
	p.spokes[c.Name] = s
	p.mu.Unlock()
	p.Network.AddSpoke(c.Name, c.Dynamic())
	p.goRun(s.Run)
	return nil
}

// workAgentStatusSync is the work agents' --status-sync-interval: their
// default 10 s scaled down, as the ACM views' refresh is (ViewScale).
const workAgentStatusSync = time.Second

// startWorkAgent runs the real OCM work agent of a spoke.
func (p *Provider) startWorkAgent(ctx context.Context, spoke string) error {
	a, err := p.Env.StartWorkAgent(ctx, spoke, framework.WorkAgentOptions{StatusSync: workAgentStatusSync})
	if err != nil {
		return fmt.Errorf("starting the work agent of %s: %w", spoke, err)
	}
	p.mu.Lock()
	p.workAgents[spoke] = a
	p.mu.Unlock()
	return nil
}

// doublesLogLines is how many of the doubles' lines a Provider keeps.
const doublesLogLines = 400

// DumpLogs prints the last lines of the API servers' and etcd's logs, then
// those of the doubles (the agent, the Skupper controllers, the grant
// server) when the Provider keeps them.
func (p *Provider) DumpLogs(l framework.Logger, lines int) {
	p.Env.DumpLogs(l, lines)
	if p.tail != nil {
		l.Logf("--- doubles (ACM agent, Skupper controllers, grant server), last %d lines:\n%s", doublesLogLines, p.tail.String())
	}
}

// Close stops the doubles and the bed.
func (p *Provider) Close() {
	p.stopRunning()
	p.Env.Stop()
}

func toCluster(c *framework.Cluster) scenarios.Cluster {
	return scenarios.Cluster{Name: c.Name, Config: c.Config, Kubeconfig: c.Kubeconfig}
}

func (p *Provider) Hub() scenarios.Cluster { return toCluster(p.Env.Hub) }

func (p *Provider) Spokes() []scenarios.Cluster {
	var out []scenarios.Cluster
	for _, c := range p.Env.All()[1:] {
		out = append(out, toCluster(c))
	}
	return out
}

func (p *Provider) AddSpoke(ctx context.Context, name string) (scenarios.Cluster, error) {
	c, err := p.Env.AddSpoke(ctx, name)
	if err != nil {
		return scenarios.Cluster{}, err
	}
	return toCluster(c), p.register(ctx, c)
}

func (p *Provider) StopHub(context.Context) error      { p.Env.Hub.Stop(); return nil }
func (p *Provider) StartHub(ctx context.Context) error { return p.Env.Hub.Start(ctx) }

// PauseAgent makes a spoke unreachable: its agent double stops answering
// (acm), or (direct) its API server stops and its address becomes a black
// hole that accepts connections and never answers, as a partitioned
// network does (connections are not refused at once).
func (p *Provider) PauseAgent(spoke string) {
	if p.opts.Transport == "manifestwork" {
		// The work agent process stops: its works are neither applied nor
		// reported on until it runs again.
		p.mu.Lock()
		a := p.workAgents[spoke]
		delete(p.workAgents, spoke)
		p.mu.Unlock()
		if a != nil {
			a.Stop()
		}
		return
	}
	if p.opts.Transport != "direct" {
		p.Agent.Pause(spoke)
		return
	}
	c := p.Env.Cluster(spoke)
	c.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.holes[spoke]; ok {
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(c.Port()))
	if err != nil {
		return // the port is taken: connections are refused instead
	}
	p.holes[spoke] = l
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, conn)
		}
	}()
}

// ResumeAgent reverses PauseAgent.
func (p *Provider) ResumeAgent(spoke string) {
	if p.opts.Transport == "manifestwork" {
		p.mu.Lock()
		_, running := p.workAgents[spoke]
		p.mu.Unlock()
		if !running {
			if err := p.startWorkAgent(p.ctx, spoke); err != nil {
				p.opts.Log.Error("resuming the work agent failed", "cluster", spoke, "err", err)
			}
		}
		return
	}
	if p.opts.Transport != "direct" {
		p.Agent.Resume(spoke)
		return
	}
	p.mu.Lock()
	if l, ok := p.holes[spoke]; ok {
		_ = l.Close()
		delete(p.holes, spoke)
	}
	p.mu.Unlock()
	_ = p.Env.Cluster(spoke).Start(p.ctx)
}

// Counted is the grant server double's count of a grant's redemptions.
func (p *Provider) Counted(grantUID string) (written, failed int) { return p.Grants.Counted(grantUID) }

// PauseHubController stops (or restarts) the hub's Skupper controller double.
func (p *Provider) PauseHubController(paused bool) {
	if paused {
		p.Grants.Pause()
		return
	}
	p.Grants.Resume()
}

// SetHubLoadBalancer switches the simulated LoadBalancer provider of the hub.
func (p *Provider) SetHubLoadBalancer(on bool) error {
	p.Grants.SetLoadBalancer(on)
	return nil
}

// HubValues selects the provider's transport in the hub chart.
func (p *Provider) HubValues() map[string]any {
	if p.opts.Transport == "manifestwork" {
		return map[string]any{"sync": map[string]any{"transport": "manifestwork"}}
	}
	if p.opts.Transport == "direct" {
		return map[string]any{"sync": map[string]any{"transport": "direct", "direct": map[string]any{"secretNamespace": CredentialsNamespace}}}
	}
	return nil
}

func (p *Provider) Describe() string {
	if p.opts.Transport == "manifestwork" {
		return fmt.Sprintf("local API servers (real kube-apiserver and etcd: hub + %d spokes), transport manifestwork through the REAL OCM work agent (one process per spoke); SIMULATED: Skupper controller and router, grant server on %s", len(p.Env.Spokes), p.Grants.Addr())
	}
	return fmt.Sprintf("local API servers (real kube-apiserver and etcd: hub + %d spokes), transport %s; SIMULATED: ACM work-manager agent, Skupper controller and router, grant server on %s", len(p.Env.Spokes), p.opts.Transport, p.Grants.Addr())
}
