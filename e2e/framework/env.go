package framework

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var metav1CreateOptions = metav1.CreateOptions{}

// HubName is the name of the hub cluster in every bed.
const HubName = "hub"

// Options configure a test bed.
type Options struct {
	// Spokes are the names of the spoke clusters, each a DNS-1123 label.
	Spokes []string
	// HubCRDs replaces the CRDs installed on the hub; nil means DefaultHubCRDs.
	HubCRDs []*apiextensionsv1.CustomResourceDefinition
	// SpokeCRDs replaces the CRDs installed on each spoke; nil means DefaultSpokeCRDs.
	SpokeCRDs []*apiextensionsv1.CustomResourceDefinition
	// ExtraHubCRDs are installed on the hub in addition (e.g. ArgoCDCRDs).
	ExtraHubCRDs []*apiextensionsv1.CustomResourceDefinition
	// Dir holds certificates, kubeconfigs, etcd data and logs; a new temporary
	// folder when empty (removed by Stop unless KeepDir).
	Dir string
	// KeepDir keeps Dir after Stop (logs for a post-mortem).
	KeepDir bool
	// StartTimeout bounds the whole start-up; 90 s when zero.
	StartTimeout time.Duration
	// APIServerArgs are extra kube-apiserver flags for every cluster.
	APIServerArgs []string
}

// Env is a running test bed.
type Env struct {
	Hub    *Cluster
	Spokes []*Cluster
	// Dir holds everything the bed wrote.
	Dir string

	opts       Options
	bins       Binaries
	pki        *pki
	adminToken string
	tokenFile  string
	etcd       *process
	etcdURL    string
	etcdPorts  []int
	removeDir  bool
	stopOnce   sync.Once
	spokeCRDs  []*apiextensionsv1.CustomResourceDefinition
	// agents are the work agents started (StartWorkAgent).
	agents []*WorkAgent
	// checkpoint is what Reset brings the bed back to (Checkpoint).
	checkpoint *checkpoint
	// made counts the clusters made by name (see Cluster.etcdPrefix).
	made map[string]int
	mu   sync.Mutex
}

// Start brings up etcd, the hub and the spokes, installs the CRDs, and
// returns when every cluster is ready. On error everything started is stopped.
func Start(ctx context.Context, opts Options) (env *Env, err error) {
	if err := validateNames(opts.Spokes); err != nil {
		return nil, err
	}
	bins, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	e := &Env{opts: opts, bins: bins, Dir: opts.Dir}
	if e.Dir == "" {
		if e.Dir, err = os.MkdirTemp("", "vanlink-test-bed-"); err != nil {
			return nil, err
		}
		e.removeDir = !opts.KeepDir
	} else if err := os.MkdirAll(e.Dir, 0o700); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	if e.pki, err = newPKI(e.Dir); err != nil {
		return nil, err
	}
	e.adminToken = randomToken()
	e.tokenFile = filepath.Join(e.Dir, "tokens.csv")
	line := fmt.Sprintf("%s,vanlink-admin,vanlink-admin,\"system:masters\"\n", e.adminToken)
	if err := os.WriteFile(e.tokenFile, []byte(line), 0o600); err != nil {
		return nil, err
	}
	hubCRDs, spokeCRDs, err := opts.crds()
	if err != nil {
		return nil, err
	}
	e.spokeCRDs = spokeCRDs
	if err := e.startEtcd(ctx); err != nil {
		return nil, err
	}
	if e.Hub, err = e.newCluster(HubName); err != nil {
		return nil, err
	}
	for _, name := range opts.Spokes {
		c, err := e.newCluster(name)
		if err != nil {
			return nil, err
		}
		e.Spokes = append(e.Spokes, c)
	}
	errs := make([]error, len(e.All()))
	var wg sync.WaitGroup
	for i, c := range e.All() {
		wg.Go(func() {
			crds := spokeCRDs
			if c == e.Hub {
				crds = hubCRDs
			}
			if err := c.startWithRetry(ctx); err != nil {
				errs[i] = err
				return
			}
			if err := InstallCRDs(ctx, c.Config, crds); err != nil {
				errs[i] = fmt.Errorf("cluster %s: %w", c.Name, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return e, nil
}

// AddSpoke starts one more spoke API server on the running bed (a cluster
// that joins late) and installs the spoke CRDs on it.
func (e *Env) AddSpoke(ctx context.Context, name string) (*Cluster, error) {
	e.mu.Lock()
	names := []string{}
	for _, c := range e.Spokes {
		names = append(names, c.Name)
	}
	e.mu.Unlock()
	if err := validateNames(append(names, name)); err != nil {
		return nil, err
	}
	c, err := e.newCluster(name)
	if err != nil {
		return nil, err
	}
	if err := c.startWithRetry(ctx); err != nil {
		c.proc.stop(3 * time.Second)
		return nil, err
	}
	if err := InstallCRDs(ctx, c.Config, e.spokeCRDs); err != nil {
		c.proc.stop(3 * time.Second)
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	e.mu.Lock()
	e.Spokes = append(e.Spokes, c)
	e.mu.Unlock()
	return c, nil
}

// StartT starts a bed for a test and stops it when the test ends, printing the
// API server logs when the test failed.
func StartT(t testing.TB, opts Options) *Env {
	t.Helper()
	start := time.Now()
	env, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatalf("starting the test bed: %v", err)
	}
	t.Logf("test bed up in %s: hub %s, spokes %v, files in %s", time.Since(start).Round(time.Millisecond), env.Hub.URL, opts.Spokes, env.Dir)
	t.Cleanup(func() {
		if t.Failed() {
			env.DumpLogs(t, 40)
		}
		env.Stop()
	})
	return env
}

// All returns the hub followed by the spokes.
func (e *Env) All() []*Cluster {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]*Cluster{e.Hub}, e.Spokes...)
}

// Cluster returns the cluster with the given name (the hub is "hub"), or nil.
func (e *Env) Cluster(name string) *Cluster {
	for _, c := range e.All() {
		if c != nil && c.Name == name {
			return c
		}
	}
	return nil
}

// PIDs returns the process ids of every running program of the bed.
func (e *Env) PIDs() []int {
	var pids []int
	if e.etcd != nil {
		if pid := e.etcd.pid(); pid != 0 {
			pids = append(pids, pid)
		}
	}
	for _, c := range e.All() {
		if c != nil {
			if pid := c.PID(); pid != 0 {
				pids = append(pids, pid)
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range e.agents {
		if pid := a.proc.pid(); pid != 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Ports returns every port the bed listens on.
func (e *Env) Ports() []int {
	ports := slices.Clone(e.etcdPorts)
	for _, c := range e.All() {
		if c != nil {
			ports = append(ports, c.port)
		}
	}
	return ports
}

// Stop stops every API server, then etcd, and removes the bed's folder unless
// it was given or kept. It is safe to call more than once.
func (e *Env) Stop() {
	e.stopOnce.Do(func() {
		var wg sync.WaitGroup
		e.mu.Lock()
		agents := e.agents
		e.mu.Unlock()
		for _, a := range agents {
			wg.Go(a.Stop)
		}
		wg.Wait()
		for _, c := range e.All() {
			if c != nil && c.proc != nil {
				wg.Go(func() { c.proc.stop(3 * time.Second) })
			}
		}
		wg.Wait()
		if e.etcd != nil {
			e.etcd.stop(3 * time.Second)
		}
		if e.removeDir {
			_ = os.RemoveAll(e.Dir)
		}
	})
}

// Logger is the part of testing.TB that DumpLogs needs.
type Logger interface {
	Logf(format string, args ...any)
}

// DumpLogs prints the last lines of every program's log.
func (e *Env) DumpLogs(l Logger, lines int) {
	if e.etcd != nil {
		l.Logf("--- %s (%s):\n%s", e.etcd.name, e.etcd.logPath, e.etcd.logTail(lines))
	}
	for _, c := range e.All() {
		if c != nil && c.proc != nil {
			l.Logf("--- %s (%s):\n%s", c.proc.name, c.proc.logPath, c.proc.logTail(lines))
		}
	}
	e.mu.Lock()
	agents := e.agents
	e.mu.Unlock()
	for _, a := range agents {
		l.Logf("--- %s (%s):\n%s", a.proc.name, a.proc.logPath, a.proc.logTail(lines))
	}
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func isAddrInUse(err error) bool { return errors.Is(err, errAddrInUse) }

func validateNames(spokes []string) error {
	seen := map[string]bool{HubName: true}
	for _, s := range spokes {
		if !dnsLabel.MatchString(s) {
			return fmt.Errorf("spoke name %q is not a DNS-1123 label", s)
		}
		if seen[s] {
			return fmt.Errorf("spoke name %q is used twice (or is the hub's name)", s)
		}
		seen[s] = true
	}
	return nil
}
