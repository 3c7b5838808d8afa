package kind

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vanlink/vanlink/e2e/scenarios"
)

// fakeOps records what the provider does to the clusters' nodes, in order,
// in one journal shared with the fake chart uninstall.
type fakeOps struct {
	mu      sync.Mutex
	journal []string
	paused  map[string]bool
	// fail makes the named operation ("unpause west") fail.
	fail map[string]bool
}

func (f *fakeOps) do(op, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.journal = append(f.journal, op+" "+name)
	if f.fail[op+" "+name] {
		return fmt.Errorf("%s %s: docker says no", op, name)
	}
	switch op {
	case "pause":
		f.paused[name] = true
	case "unpause":
		delete(f.paused, name)
	}
	return nil
}

func (f *fakeOps) Pause(name string) error            { return f.do("pause", name) }
func (f *fakeOps) Unpause(name string) error          { return f.do("unpause", name) }
func (f *fakeOps) Down(name string) error             { return f.do("down", name) }
func (f *fakeOps) CollectLogs(name, dir string) error { return f.do("logs", name) }
func (f *fakeOps) entries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.journal...)
}
func (f *fakeOps) isPaused(name string) bool { f.mu.Lock(); defer f.mu.Unlock(); return f.paused[name] }
func (f *fakeOps) reset()                    { f.mu.Lock(); defer f.mu.Unlock(); f.journal = nil }
func (f *fakeOps) failing(ops ...string) *fakeOps {
	for _, o := range ops {
		f.fail[o] = true
	}
	return f
}
func newFakeOps() *fakeOps { return &fakeOps{paused: map[string]bool{}, fail: map[string]bool{}} }

var _ clusterOps = (*fakeOps)(nil)

// testProvider is a provider of a hub and spokes east and west (the base)
// plus extra spokes, with a fake clientset per cluster and a fake chart
// uninstall that writes to the ops journal.
func testProvider(t *testing.T, ops *fakeOps, extra ...string) (*Provider, map[string]*fake.Clientset) {
	t.Helper()
	p := newProvider(ops, Images{Repository: "ghcr.io/vanlink/vanlink", Tag: "e2e-kind"}, []string{"east", "west"})
	clients := map[string]*fake.Clientset{}
	cluster := func(name string) *Cluster {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: scenarios.Namespace}}
		clients[name] = fake.NewClientset(ns)
		return &Cluster{Name: name, KindName: "vanlink-e2e-" + name, Kubeconfig: "/out/kind-e2e/" + name + ".kubeconfig"}
	}
	p.hub = cluster("hub")
	for _, name := range append([]string{"east", "west"}, extra...) {
		p.spokes = append(p.spokes, cluster(name))
		_, err := clients["hub"].CoreV1().Secrets(CredentialsNamespace).Create(context.Background(),
			&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cluster-" + name, Namespace: CredentialsNamespace}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	p.kube = func(c *Cluster) kubernetes.Interface { return clients[c.Name] }
	p.uninstall = func(kubeconfig, namespace, release string, _ time.Duration) error {
		return ops.do("uninstall", release)
	}
	return p, clients
}

func TestPauseAndResumeAgentAreTracked(t *testing.T) {
	ops := newFakeOps()
	p, _ := testProvider(t, ops)
	p.PauseAgent("west")
	p.PauseAgent("east")
	require.Equal(t, []string{"east", "west"}, p.Paused())
	p.ResumeAgent("east")
	require.Equal(t, []string{"west"}, p.Paused(), "a resumed spoke is no longer tracked")
	require.True(t, ops.isPaused("west"))

	ops.failing("unpause west")
	p.ResumeAgent("west")
	require.Equal(t, []string{"west"}, p.Paused(), "a spoke that could not be resumed stays tracked, so the reset tries again")
}

func TestReset(t *testing.T) {
	for name, tc := range map[string]struct {
		pause       []string
		extra       []string
		fail        []string
		wantJournal []string
		wantErr     []string
	}{
		"a clean run uninstalls every chart": {
			wantJournal: []string{"uninstall hub", "uninstall east", "uninstall west"},
		},
		"a spoke a failed scenario left paused is resumed before anything else": {
			pause:       []string{"west"},
			wantJournal: []string{"unpause west", "uninstall hub", "uninstall east", "uninstall west"},
		},
		"a spoke added by a scenario is deleted and unregistered, the base spokes stay": {
			extra:       []string{"north"},
			wantJournal: []string{"uninstall hub", "uninstall east", "uninstall west", "uninstall north", "down north"},
		},
		"every step is tried whatever fails, and every error is returned": {
			pause: []string{"west"}, extra: []string{"north"},
			fail:        []string{"unpause west", "uninstall east", "down north"},
			wantJournal: []string{"unpause west", "uninstall hub", "uninstall east", "uninstall west", "uninstall north", "down north"},
			wantErr:     []string{"resuming spoke west", "east: uninstall east", "down north"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			ops := newFakeOps()
			p, clients := testProvider(t, ops, tc.extra...)
			for _, s := range tc.pause {
				p.PauseAgent(s)
			}
			ops.reset()
			ops.failing(tc.fail...)
			err := p.Reset(context.Background())
			require.Equal(t, tc.wantJournal, ops.entries(), "what the reset did, in order")
			if len(tc.wantErr) == 0 {
				require.NoError(t, err)
				require.Empty(t, p.Paused())
			} else {
				for _, want := range tc.wantErr {
					require.ErrorContains(t, err, want)
				}
			}
			ctx := context.Background()
			for name, kc := range clients {
				_, err := kc.CoreV1().Namespaces().Get(ctx, scenarios.Namespace, metav1.GetOptions{})
				require.Error(t, err, "namespace %s is gone on %s", scenarios.Namespace, name)
			}
			require.Equal(t, append([]string{"hub"}, "east", "west"), p.Names(), "the base spokes stay")
			secrets, err := clients["hub"].CoreV1().Secrets(CredentialsNamespace).List(ctx, metav1.ListOptions{})
			require.NoError(t, err)
			var names []string
			for _, s := range secrets.Items {
				names = append(names, s.Name)
			}
			require.ElementsMatch(t, []string{"cluster-east", "cluster-west"}, names, "only the base spokes stay registered")
		})
	}
}

func TestFinish(t *testing.T) {
	for name, tc := range map[string]struct {
		keep        bool
		pause       []string
		fail        []string
		wantJournal []string
		wantOut     []string
		wantErr     string
	}{
		"without keep the clusters are deleted": {
			wantJournal: []string{"down hub", "down east", "down west"},
		},
		"a paused spoke is resumed before the clusters are deleted": {
			pause:       []string{"east"},
			wantJournal: []string{"unpause east", "down hub", "down east", "down west"},
		},
		"with keep the clusters stay, resumed, and their kubeconfigs are printed": {
			keep: true, pause: []string{"west"},
			wantJournal: []string{"unpause west"},
			wantOut: []string{"VANLINK_KIND_KEEP", "hub    /out/kind-e2e/hub.kubeconfig  (kind cluster vanlink-e2e-hub)",
				"west   /out/kind-e2e/west.kubeconfig", "kind delete clusters vanlink-e2e-hub vanlink-e2e-east vanlink-e2e-west"},
		},
		"a failed deletion is reported and the others are still deleted": {
			fail:        []string{"down east"},
			wantJournal: []string{"down hub", "down east", "down west"},
			wantErr:     "down east: docker says no",
		},
	} {
		t.Run(name, func(t *testing.T) {
			ops := newFakeOps()
			p, _ := testProvider(t, ops)
			for _, s := range tc.pause {
				p.PauseAgent(s)
			}
			ops.reset()
			ops.failing(tc.fail...)
			var out bytes.Buffer
			err := p.Finish(tc.keep, &out)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.wantJournal, ops.entries(), "what the end of the run did, in order")
			for _, want := range tc.wantOut {
				require.Contains(t, out.String(), want)
			}
			if !tc.keep {
				require.Empty(t, out.String(), "nothing to say when the clusters are deleted")
			}
			require.Empty(t, p.Paused())
		})
	}
}

func TestToRunPrintsALogOnce(t *testing.T) {
	split := toRun(Result{ExitCode: 1, Log: "merged", Stdout: "data\n", Stderr: "log\n", Split: true})
	require.Equal(t, scenarios.Run{Code: 1, Stdout: "data\n", Stderr: "log\n"}, split, "the streams apart, as a local run has them")
	merged := toRun(Result{ExitCode: 2, Log: "merged", Stdout: "merged"})
	require.Equal(t, scenarios.Run{Code: 2, Stdout: "merged", Stderr: "merged"}, merged, "without the streams both hold the log, so data and errors are both found")
	require.Equal(t, 1, strings.Count(split.Stdout+split.Stderr, "log"), "a split log is printed once")
}
