package main

// The work agent double against the real one, on the ManifestWork rows'
// own passes (-manifestwork-real). The rows above come from the double
// (pkg/transport/manifestwork/worktest), since a real agent per spoke does
// not scale to 1,000 spokes here. This check runs the same cold and steady
// pass (`vanlink sync --transport manifestwork`, the same flags) on a small
// fleet twice: once with the double over in-memory spokes, once with the
// real OCM work agent (open-cluster-management.io/ocm v1.2.1, bin/work-agent)
// on real spoke API servers, one agent each. Both fleets play the Skupper
// controller the same way (a pushed token becomes a Ready Link and its
// Secret). Writes are counted the same way on both: vanlink's through its
// counting proxy, the agent's as every ManifestWork write event the hub's
// watch delivers that is not vanlink's (its status reports, and whatever
// else it writes to the work, such as finalizers).

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	clusterclient "open-cluster-management.io/api/client/cluster/clientset/versioned"

	"github.com/vanlink/vanlink/e2e/fixtures"
	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

// workWrites counts the write events (added, modified, deleted) of every
// ManifestWork on the hub, from one watch.
type workWrites struct {
	n      atomic.Int64
	cancel context.CancelFunc
	done   chan struct{}
}

func watchWorkWrites(ctx context.Context, hub dynamic.Interface) (*workWrites, error) {
	list, err := hub.Resource(manifestwork.WorksGVR).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w, err := hub.Resource(manifestwork.WorksGVR).Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		cancel()
		return nil, err
	}
	c := &workWrites{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.ResultChan():
				if !ok {
					// A closed watch would undercount: the check fails
					// rather than report a figure that is too low.
					c.n.Store(math.MinInt32)
					return
				}
				switch e.Type {
				case watch.Added, watch.Modified, watch.Deleted:
					c.n.Add(1)
				}
			}
		}
	}()
	return c, nil
}

func (c *workWrites) stop() {
	c.cancel()
	<-c.done
}

// playSkupperOn plays the Skupper controller on a real spoke as playSkupper
// does on an in-memory one: a token without status in namespace ns becomes
// Redeemed, with its Secret and a Ready Link, until ctx ends.
func playSkupperOn(ctx context.Context, dyn dynamic.Interface, kube *framework.Cluster) error {
	w, err := dyn.Resource(skupper.AccessTokensGVR).Namespace(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	go func() {
		defer w.Stop()
		for e := range w.ResultChan() {
			tok, ok := e.Object.(*unstructured.Unstructured)
			if !ok || e.Type != watch.Added || tok.Object["status"] != nil {
				continue
			}
			name := tok.GetName()
			tok.Object["status"] = map[string]any{"redeemed": true, "status": "Ready",
				"conditions": []any{map[string]any{"type": "Redeemed", "status": "True", "reason": "Ready", "message": "OK",
					"lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}}
			_, _ = dyn.Resource(skupper.AccessTokensGVR).Namespace(ns).UpdateStatus(ctx, tok, metav1.UpdateOptions{})
			_, _ = kube.Kube().CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
			link := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "skupper.io/v2alpha1", "kind": "Link", "metadata": map[string]any{"name": name},
				"spec": map[string]any{"tlsCredentials": name, "endpoints": []any{map[string]any{"name": "inter-router", "host": "hub", "port": "55671"}}}}}
			created, err := dyn.Resource(skupper.LinksGVR).Namespace(ns).Create(ctx, link, metav1.CreateOptions{})
			if err != nil {
				continue
			}
			created.Object["status"] = map[string]any{"status": "Ready", "message": "OK"}
			_, _ = dyn.Resource(skupper.LinksGVR).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
		}
	}()
	return nil
}

// setupRealManifestWork is setupManifestWork with real spokes, each with a
// Site and the real work agent.
func setupRealManifestWork(ctx context.Context, o options, n int, dir string) (*mwFleet, error) {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("spoke-%04d", i)
	}
	f, err := startMWFleet(ctx, n, framework.Options{Spokes: names})
	if err != nil {
		return f, err
	}
	hub := f.env.Hub
	cs := clusterclient.NewForConfigOrDie(hub.Config)
	actx, cancel := context.WithCancel(ctx)
	f.cancel = cancel
	for _, name := range names {
		c := f.env.Cluster(name)
		if err := fixtures.Namespace(ctx, c.Kube(), ns); err != nil {
			return f, err
		}
		if err := fixtures.Site(ctx, c.Dynamic(), ns, name); err != nil && !apierrors.IsAlreadyExists(err) {
			return f, err
		}
		if err := playSkupperOn(actx, c.Dynamic(), c); err != nil {
			return f, err
		}
		if err := fixtures.ManagedCluster(ctx, cs, hub.Kube(), name, nil, true); err != nil {
			return f, err
		}
		if _, err := f.env.StartWorkAgent(ctx, name, framework.WorkAgentOptions{StatusSync: o.mw.statusSync}); err != nil {
			return f, err
		}
	}
	return f, f.serve(filepath.Join(dir, fmt.Sprintf("hub-mw-real-%d.kubeconfig", n)))
}

// agentRow is one pass of the check: vanlink's ManifestWork writes and the
// agent's, per spoke.
type agentRow struct {
	agent, pass            string
	vanlinkWork, agentWork float64
	wall                   time.Duration
}

// checkPasses runs the cold pass, waits for the Links to be reported, and
// runs the steady pass, counting the ManifestWork writes of each.
func checkPasses(ctx context.Context, o options, f *mwFleet, n int, agent string) ([]agentRow, error) {
	var out []agentRow
	for _, pass := range []string{"cold", "steady"} {
		if pass == "steady" {
			if err := f.waitLinksReported(ctx, n); err != nil {
				return nil, err
			}
			// The agent's reports of the Links (after the cold pass) are
			// not the steady pass's: let them settle.
			time.Sleep(2 * o.mw.statusSync)
		}
		ww, err := watchWorkWrites(ctx, f.env.Hub.Dynamic())
		if err != nil {
			return nil, err
		}
		r, err := f.pass(ctx, o, n, pass)
		ww.stop()
		if err != nil {
			return nil, err
		}
		events := ww.n.Load()
		if events < 0 {
			return nil, fmt.Errorf("%s pass: the hub closed the watch that counts ManifestWork writes", pass)
		}
		vanlink := workWritesIn(r.detail)
		out = append(out, agentRow{agent: agent, pass: pass, wall: r.wall,
			vanlinkWork: float64(vanlink) / float64(n), agentWork: float64(events-int64(vanlink)) / float64(n)})
	}
	return out, nil
}

// workWritesIn sums the ManifestWork writes of a proxy summary
// ("create manifestworks=3, patch manifestworks=6, ...").
func workWritesIn(detail string) int {
	total := 0
	for _, part := range strings.Split(detail, ", ") {
		k, v, ok := strings.Cut(part, "=")
		verb, res, _ := strings.Cut(k, " ")
		if !ok || res != "manifestworks" {
			continue
		}
		switch verb {
		case "create", "update", "patch", "delete":
			var x int
			fmt.Sscan(v, &x)
			total += x
		}
	}
	return total
}

// agentTolerance is how far the double's status writes per spoke may be
// from the real agent's: the agent reports after each apply and on each
// status sync that finds a change, so a report can fall on either side of
// the end of a pass.
const agentTolerance = 1.0

// runRealAgentCheck runs the check and prints its section of the report.
func runRealAgentCheck(ctx context.Context, o options, dir string) (string, bool, error) {
	if _, err := framework.FindWorkAgent(); err != nil {
		return "", false, err
	}
	n := o.mw.realSize
	var rows []agentRow
	for _, agent := range []string{"double", "real"} {
		fmt.Fprintf(os.Stderr, "== ManifestWork transport, %d spokes, %s work agent\n", n, agent)
		setup := setupManifestWork
		if agent == "real" {
			setup = setupRealManifestWork
		}
		f, err := setup(ctx, o, n, dir)
		var r []agentRow
		if err == nil {
			r, err = checkPasses(ctx, o, f, n, agent)
		}
		if f != nil {
			f.close()
		}
		if err != nil {
			return "", false, fmt.Errorf("%s work agent: %w", agent, err)
		}
		rows = append(rows, r...)
	}
	return agentReport(o, n, rows)
}

// agentReport renders the rows and the verdicts: vanlink writes the same to
// the works whichever agent answers, and the double's writes per spoke are
// within agentTolerance of the real agent's.
func agentReport(o options, n int, rows []agentRow) (string, bool, error) {
	by := map[string]agentRow{}
	for _, r := range rows {
		by[r.agent+"/"+r.pass] = r
	}
	var b strings.Builder
	b.WriteString(realBegin + "\n")
	fmt.Fprintf(&b, "### The double against the real work agent\n\nThe cold and the steady pass at N=%d, once with the double and once with the real agent (one\nper real spoke API server), status synced every %s; ManifestWork writes per spoke (vanlink's\nfrom its requests, the agent's as the other write events of the hub's watch of the works):\n\n", n, o.mw.statusSync)
	b.WriteString("| pass | agent | wall time | vanlink's work writes per spoke | the agent's writes per spoke |\n|---|---|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %.1f | %.1f |\n", r.pass, r.agent, r.wall.Round(10*time.Millisecond), r.vanlinkWork, r.agentWork)
	}
	failed := false
	b.WriteString("\n")
	for _, pass := range []string{"cold", "steady"} {
		d, r := by["double/"+pass], by["real/"+pass]
		same := d.vanlinkWork == r.vanlinkWork
		close := math.Abs(d.agentWork-r.agentWork) <= agentTolerance
		mark := func(ok bool) string {
			if ok {
				return "PASS"
			}
			failed = true
			return "MISS"
		}
		fmt.Fprintf(&b, "- %s: %s pass, vanlink writes the works alike with either agent (%.1f and %.1f per spoke)\n", mark(same), pass, d.vanlinkWork, r.vanlinkWork)
		fmt.Fprintf(&b, "- %s: %s pass, the double's writes per spoke within %.0f of the real agent's (%.1f and %.1f)\n", mark(close), pass, agentTolerance, d.agentWork, r.agentWork)
	}
	b.WriteString(realEnd + "\n")
	return b.String(), failed, nil
}

const (
	realBegin = "<!-- manifestwork real agent: begin -->"
	realEnd   = "<!-- manifestwork real agent: end -->"
)
