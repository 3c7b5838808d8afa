package framework

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrWorkAgentMissing is returned when the OCM work agent cannot be found.
var ErrWorkAgentMissing = errors.New("the OCM work agent (bin/work-agent) was not found (run `make tools`)")

// FindWorkAgent looks for the work-agent binary (open-cluster-management.io/ocm
// cmd/work, built by `make tools`) where FindBinaries looks for the API server.
func FindWorkAgent() (string, error) {
	var dirs []string
	for _, env := range []string{BinDirEnv, envtestAssetsEnv} {
		if d := os.Getenv(env); d != "" {
			dirs = append(dirs, d)
		}
	}
	if root, err := RepoRoot(); err == nil {
		dirs = append(dirs, filepath.Join(root, "bin"))
	}
	for _, d := range dirs {
		if p := filepath.Join(d, "work-agent"); isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: looked in %v", ErrWorkAgentMissing, dirs)
}

// WorkAgentOptions configure a spoke's work agent.
type WorkAgentOptions struct {
	// StatusSync is the agent's --status-sync-interval (its default is
	// 10 s; 0 keeps it).
	StatusSync time.Duration
	// StartTimeout bounds the wait for the agent to start (30 s when zero).
	StartTimeout time.Duration
}

// WorkAgent is the real OCM work agent of one spoke, run as a process: it
// applies the ManifestWorks of the spoke's hub namespace to the spoke and
// reports their status, as the klusterlet's work agent does.
type WorkAgent struct {
	Spoke string
	proc  *process
}

// StartWorkAgent runs the work agent of a spoke, against the hub's
// kubeconfig (the workload source) and the spoke's, and waits until the
// controllers that apply works and report their status run (its log says
// so) or it fails. The spoke's hub namespace is created when missing. The
// agent is stopped with the bed (Env.Stop) or by Stop.
func (e *Env) StartWorkAgent(ctx context.Context, spoke string, o WorkAgentOptions) (*WorkAgent, error) {
	c := e.Cluster(spoke)
	if c == nil || c == e.Hub {
		return nil, fmt.Errorf("no spoke named %q in the bed", spoke)
	}
	bin, err := FindWorkAgent()
	if err != nil {
		return nil, err
	}
	timeout := o.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := ensureNamespace(ctx, e.Hub, spoke); err != nil {
		return nil, err
	}
	args := []string{"agent",
		"--spoke-cluster-name=" + spoke,
		"--workload-source-config=" + e.Hub.Kubeconfig,
		"--spoke-kubeconfig=" + c.Kubeconfig,
		"--kubeconfig=" + c.Kubeconfig,
		"--namespace=default",
		"--disable-leader-election",
	}
	if o.StatusSync > 0 {
		args = append(args, "--status-sync-interval="+o.StatusSync.String())
	}
	var a *WorkAgent
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		a = &WorkAgent{Spoke: spoke, proc: &process{name: "work-agent " + spoke, path: bin,
			args:    append(append([]string{}, args...), "--listen=127.0.0.1:"+strconv.Itoa(port)),
			logPath: filepath.Join(c.dir, "work-agent.log")}}
		if err = a.proc.start(); err != nil {
			return nil, err
		}
		err = a.proc.waitReady(ctx, func(context.Context) error {
			// The two controllers vanlink relies on have started their
			// workers (upstream: pkg/work/spoke/controllers,
			// ManifestWorkController and AvailableStatusController).
			// Only this run's lines: a restarted agent appends to its log.
			log := a.proc.logSinceStart()
			for _, c := range []string{"ManifestWorkController", "AvailableStatusController"} {
				if !strings.Contains(log, `"Starting worker of controller ..." logger="`+c+`"`) {
					return errors.New("the agent's " + c + " has not started yet")
				}
			}
			return nil
		})
		if !errors.Is(err, errAddrInUse) {
			if err != nil {
				a.proc.stop(3 * time.Second)
				return nil, err
			}
			break
		}
	}
	e.mu.Lock()
	e.agents = append(e.agents, a)
	e.mu.Unlock()
	return a, nil
}

// Stop stops the agent (SIGTERM, then SIGKILL after 3 s).
func (a *WorkAgent) Stop() { a.proc.stop(3 * time.Second) }

// LogTail returns the last lines of the agent's log.
func (a *WorkAgent) LogTail(lines int) string { return a.proc.logTail(lines) }

func ensureNamespace(ctx context.Context, c *Cluster, name string) error {
	_, err := c.Kube().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s on the hub: %w", name, err)
	}
	return nil
}
