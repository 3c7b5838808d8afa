package main

// Controller mode (issue 16): the real `vanlink controller` runs as a
// long-lived child process through the counting proxy, on the same hub,
// agent double and in-memory spokes as the passes.
//
// For each size of -controller-sizes the controller starts on a cold fleet
// (every spoke needs a token) and links it, or, above
// -controller-cold-up-to, on a fleet one `vanlink sync` pass linked (as when
// the controller replaces the jobs); then, at the largest of those sizes,
// spokes join one after another and in bursts, and finally nothing changes
// for a steady window. For each size of -controller-memory-sizes the fleet is
// preloaded as linked (tokens, Links and the persistent views a controller
// leaves, copied from the views the controller made on the largest cold
// fleet), so only the start-up and the steady window are measured: linking
// 10,000 spokes from cold would take several minutes of the hub's writes.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	clusterclient "open-cluster-management.io/api/client/cluster/clientset/versioned"
	clusterv1 "open-cluster-management.io/api/cluster/v1"

	"github.com/vanlink/vanlink/e2e/fixtures"
	"github.com/vanlink/vanlink/pkg/reconcile"
	vreport "github.com/vanlink/vanlink/pkg/report"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport/acm"
	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
)

// controllerOptions choose the controller-mode measurements.
type controllerOptions struct {
	// sizes are fleets the controller starts on before the steady window;
	// the joins run at the largest.
	sizes []int
	// coldUpTo: the controller links fleets up to this size from cold;
	// larger ones are linked by one pass before it starts.
	coldUpTo int
	// memorySizes are fleets preloaded as linked: start-up and steady
	// window only (they need a cold size run before them, whose views
	// serve as templates).
	memorySizes []int
	// joins spokes join the largest cold fleet: the first half one at a
	// time, the rest burst at a time.
	joins, burst int
	// window is the steady window; resync the controller's --resync (a
	// window as long as the resync period holds exactly one resync).
	window, resync time.Duration
	// only: measure the controller alone (no passes, no ManifestWork
	// section), print its tables and checks, and write no report.
	only bool
	// profiles: when set, the controller serves its profiles
	// (--profiling) and the bench saves its heap after the start-up and
	// at the end of the steady window, and its allocations, there.
	profiles string
}

func (c *controllerOptions) addFlags(fs *flag.FlagSet) {
	c.sizes, c.memorySizes = []int{100, 1000}, []int{10000}
	fs.Func("controller-sizes", "fleet sizes `vanlink controller` starts on before a steady window; the joins run at the largest (empty: none; default 100,1000)",
		func(s string) (err error) { c.sizes, err = parseSizes(s); return err })
	fs.Func("controller-memory-sizes", "fleet sizes preloaded as linked, for the controller's start-up, steady window and peak memory (default 10000)",
		func(s string) (err error) { c.memorySizes, err = parseSizes(s); return err })
	fs.IntVar(&c.coldUpTo, "controller-cold-up-to", 100, "the controller links fleets of -controller-sizes up to this size from cold; larger ones are linked by one vanlink sync pass before it starts")
	fs.IntVar(&c.joins, "joins", 50, "spokes that join the largest cold fleet: half one at a time, half in bursts")
	fs.IntVar(&c.burst, "join-burst", 5, "spokes joining at once in the bursts")
	fs.DurationVar(&c.window, "steady-window", time.Minute, "how long the controller is watched with nothing changing")
	fs.BoolVar(&c.only, "controller-only", false, "measure the controller alone: no passes, no ManifestWork section; print its tables and checks, write no report (e.g. -controller-only -controller-sizes 100 -controller-memory-sizes 10000)")
	fs.StringVar(&c.profiles, "controller-profiles", "", "folder where the controller's heap profiles are saved (after its start-up and at the end of the steady window, per fleet size; read with go tool pprof); empty: none")
	fs.DurationVar(&c.resync, "controller-resync", time.Minute, "the controller's --resync during the bench (default of the flag: 10m)")
}

// parseSizes parses "100,1000"; "" is no size.
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("fleet size %q: want a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// joinSample is one spoke's join: from its ManagedCluster turning available
// (its Site already present) to the token pushed to it, to its Link Ready
// in the double, and to the controller's status record showing it linked.
type joinSample struct {
	cluster string
	// together is how many spokes joined at the same moment.
	together                 int
	pushed, ready, recorded  time.Duration
	gotPush, gotReady, gotRe bool
	// pushes counts the tokens pushed to the spoke (one is right).
	pushes int
}

// controllerRow is one measured controller run.
type controllerRow struct {
	n int
	// setup is how the fleet was when the controller started (fleetCold,
	// fleetPass, fleetPreloaded).
	setup string
	// start is from the controller's start to every spoke recorded linked
	// with an empty queue: the cold link of the fleet, or the start-up of a
	// preloaded one.
	start time.Duration
	// coldWrites are the hub writes (not the Lease's) of start.
	coldWrites int
	window     time.Duration
	// The window's hub requests by verb and resource, and their sums.
	detail                          string
	requests, writes                int
	leaseRequests, leaseWrites      int
	spokeWrites                     int64
	rssMiB                          float64
	joins                           []joinSample
	joinSpokeWrites, joinOtherSpoke int64
}

func (r controllerRow) perMinute(v int) float64 { return float64(v) / r.window.Minutes() }

// How a fleet is when the controller starts.
const (
	fleetCold      = "cold: every spoke needs a token"
	fleetPass      = "linked by one vanlink sync pass"
	fleetPreloaded = "linked (preloaded)"
)

// viewTemplates are the persistent views the controller made for one
// spoke of a cold fleet, with that spoke's name.
type viewTemplates struct {
	cluster string
	views   []*unstructured.Unstructured
}

// measureControllers runs every controller measurement.
func measureControllers(ctx context.Context, o options, dir string) ([]controllerRow, error) {
	var rows []controllerRow
	var tmpl *viewTemplates
	largest := 0
	for _, n := range o.ctl.sizes {
		largest = max(largest, n)
	}
	for _, n := range o.ctl.sizes {
		joins := 0
		if n == largest {
			joins = min(o.ctl.joins, n-1)
		}
		fmt.Fprintf(os.Stderr, "== controller, fleet of %d spokes linked from cold (%d join later)\n", n, joins)
		var r controllerRow
		err := withFleet(ctx, o, n-joins, dir, func(f *fleet) error {
			var err error
			r, tmpl, err = f.controllerCold(ctx, o, n, joins, dir)
			return err
		})
		if err != nil {
			return rows, fmt.Errorf("controller, N=%d: %w", n, err)
		}
		rows = append(rows, r)
	}
	for _, n := range o.ctl.memorySizes {
		if tmpl == nil {
			return rows, fmt.Errorf("controller, N=%d preloaded: needs a -controller-sizes fleet first (its views are the templates)", n)
		}
		fmt.Fprintf(os.Stderr, "== controller, fleet of %d spokes preloaded as linked\n", n)
		var r controllerRow
		err := withFleet(ctx, o, n, dir, func(f *fleet) error {
			var err error
			r, err = f.controllerPreloaded(ctx, o, n, tmpl, dir)
			return err
		})
		if err != nil {
			return rows, fmt.Errorf("controller, N=%d preloaded: %w", n, err)
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// controllerCold: the controller links the fleet, joins spokes, then is
// watched with nothing changing.
func (f *fleet) controllerCold(ctx context.Context, o options, n, joins int, dir string) (controllerRow, *viewTemplates, error) {
	r := controllerRow{n: n, setup: fleetCold}
	cs := clusterclient.NewForConfigOrDie(f.env.Hub.Config)
	clock := newJoinClock()
	joiners := make([]string, joins)
	for i := range joiners {
		name := fmt.Sprintf("join-%03d", i)
		joiners[i] = name
		if err := f.addJoiner(ctx, cs, name, clock); err != nil {
			return r, nil, err
		}
	}
	defer watchRecord(ctx, f, clock)()
	if n-joins > o.ctl.coldUpTo {
		r.setup = fleetPass
		if _, err := f.pass(ctx, o, n-joins, "cold", o.concurrency); err != nil {
			return r, nil, err
		}
		// The views as a pass leaves them, once the agent refreshed them.
		f.agent.ExpireViews()
		if err := f.waitLinkViewsReady(ctx, n-joins); err != nil {
			return r, nil, err
		}
	}

	f.proxy.reset()
	p, err := startController(ctx, o, f.kube, logPath(dir, n))
	if err != nil {
		return r, nil, err
	}
	defer p.kill()
	if r.start, err = p.waitSettled(ctx, n-joins, 10*time.Minute); err != nil {
		return r, nil, err
	}
	_, _, r.coldWrites, _, _ = summarizeWrites(f.proxy.reset())
	if err := p.saveProfiles(ctx, o, n, "started", "heap"); err != nil {
		return r, nil, err
	}
	fmt.Fprintf(os.Stderr, "   the controller started on %d spokes (%s) and had them recorded linked in %s (%d hub writes)\n", n-joins, r.setup, r.start.Round(10*time.Millisecond), r.coldWrites)
	if r.setup == fleetCold {
		// The persistent views were made before the pushes: the agent
		// refreshes them within their interval (300 s); play it now.
		if err := f.refreshViews(ctx, p, n-joins); err != nil {
			return r, nil, err
		}
	}
	if joins > 0 {
		before, othersBefore := f.agent.Executed(), f.writesOutside(joiners)
		if r.joins, err = f.join(ctx, cs, joiners, o.ctl.burst, clock); err != nil {
			return r, nil, err
		}
		r.joinSpokeWrites = f.agent.Executed() - before
		r.joinOtherSpoke = f.writesOutside(joiners) - othersBefore
		pushed, recorded := durations(r.joins, func(s joinSample) (time.Duration, bool) { return s.pushed, s.gotPush }),
			durations(r.joins, func(s joinSample) (time.Duration, bool) { return s.recorded, s.gotRe })
		fmt.Fprintf(os.Stderr, "   %d joins: token pushed p50 %s p99 %s; recorded linked p50 %s p99 %s\n", len(r.joins),
			percentile(pushed, 0.5), percentile(pushed, 0.99), percentile(recorded, 0.5), percentile(recorded, 0.99))
		if err := f.refreshViews(ctx, p, n); err != nil {
			return r, nil, err
		}
	}
	tmpl, err := f.templates(ctx)
	if err != nil {
		return r, nil, err
	}
	if err := f.steady(ctx, o, p, n, &r); err != nil {
		return r, nil, err
	}
	return r, tmpl, nil
}

// controllerPreloaded: a fleet linked before the controller starts (as the
// controller leaves it); its start-up and a steady window.
func (f *fleet) controllerPreloaded(ctx context.Context, o options, n int, tmpl *viewTemplates, dir string) (controllerRow, error) {
	r := controllerRow{n: n, setup: fleetPreloaded}
	if err := f.preload(ctx, tmpl); err != nil {
		return r, err
	}
	f.proxy.reset()
	p, err := startController(ctx, o, f.kube, logPath(dir, n))
	if err != nil {
		return r, err
	}
	defer p.kill()
	if r.start, err = p.waitSettled(ctx, n, 10*time.Minute); err != nil {
		return r, err
	}
	_, _, r.coldWrites, _, _ = summarizeWrites(f.proxy.reset())
	if err := p.saveProfiles(ctx, o, n, "started", "heap"); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "   the controller found %d spokes linked in %s (%d hub writes)\n", n, r.start.Round(10*time.Millisecond), r.coldWrites)
	return r, f.steady(ctx, o, p, n, &r)
}

// steady waits until nothing moves, watches the controller for the window,
// then stops it with SIGTERM and reads its peak memory.
func (f *fleet) steady(ctx context.Context, o options, p *controllerProcess, n int, r *controllerRow) error {
	if err := f.waitQuiet(ctx, p, 5*time.Second, 3*time.Minute); err != nil {
		return err
	}
	f.proxy.reset()
	spokeBefore := f.agent.Executed()
	start := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return fmt.Errorf("the controller exited during the steady window: %v\n%s", p.err, p.tail())
	case <-time.After(o.ctl.window):
	}
	r.window = time.Since(start)
	counts := f.proxy.reset()
	r.spokeWrites = f.agent.Executed() - spokeBefore
	r.requests, r.leaseRequests, r.writes, r.leaseWrites, r.detail = summarizeWrites(counts)
	if err := p.saveProfiles(ctx, o, n, "steady", "heap", "allocs"); err != nil {
		return err
	}
	if err := p.stop(time.Minute); err != nil {
		return err
	}
	r.rssMiB = float64(p.hwm.Load()) / 1024
	fmt.Fprintf(os.Stderr, "   steady %s: %d hub requests (%d writes) besides the Lease's %d (%d writes), %d spoke writes; peak RSS %.1f MiB\n   %s\n",
		r.window.Round(time.Second), r.requests, r.writes, r.leaseRequests, r.leaseWrites, r.spokeWrites, r.rssMiB, r.detail)
	return nil
}

// summarizeWrites sorts counts into the Lease's requests and the others.
func summarizeWrites(c map[string]int) (requests, leaseRequests, writes, leaseWrites int, detail string) {
	for k, v := range c {
		verb, resource, _ := strings.Cut(k, " ")
		write := verb == "create" || verb == "update" || verb == "patch" || verb == "delete"
		switch {
		case resource == "leases" && write:
			leaseRequests += v
			leaseWrites += v
		case resource == "leases":
			leaseRequests += v
		case write:
			requests += v
			writes += v
		default:
			requests += v
		}
	}
	_, _, _, _, detail = summarize(c)
	return requests, leaseRequests, writes, leaseWrites, detail
}

// addJoiner registers a spoke that has not joined yet: its ManagedCluster
// not available (the controller skips it), its Site present, and the push
// of its token timed.
func (f *fleet) addJoiner(ctx context.Context, cs clusterclient.Interface, name string, clock *joinClock) error {
	s := acmtest.NewMemorySpoke(name)
	s.AfterWrite = func(ctx context.Context, s *acmtest.MemorySpoke, gvr schema.GroupVersionResource, obj *unstructured.Unstructured, deleted bool) {
		push := !deleted && gvr.Resource == "accesstokens" && obj.Object["status"] == nil
		if push {
			clock.pushed(s.Name)
		}
		playSkupper(ctx, s, gvr, obj, deleted)
		if push {
			if l, err := s.Get(ctx, skupper.LinksGVR, obj.GetNamespace(), obj.GetName()); err == nil {
				if st, _, _ := unstructured.NestedString(l.Object, "status", "status"); st == "Ready" {
					clock.ready(s.Name)
				}
			}
		}
	}
	if _, err := s.Create(ctx, skupper.SitesGVR, ns, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "skupper.io/v2alpha1", "kind": "Site", "metadata": map[string]any{"name": name}}}); err != nil {
		return err
	}
	f.spokes = append(f.spokes, s)
	f.agent.AddSpoke(name, s)
	return fixtures.ManagedCluster(ctx, cs, f.env.Hub.Kube(), name, nil, false)
}

// join makes the joiners available: the first half one at a time, the
// rest burst at a time, each group once the one before is recorded linked.
func (f *fleet) join(ctx context.Context, cs clusterclient.Interface, joiners []string, burst int, clock *joinClock) ([]joinSample, error) {
	var groups [][]string
	single := len(joiners) / 2
	for _, n := range joiners[:single] {
		groups = append(groups, []string{n})
	}
	for rest := joiners[single:]; len(rest) > 0; {
		k := min(max(burst, 1), len(rest))
		groups = append(groups, rest[:k])
		rest = rest[k:]
	}
	for _, g := range groups {
		errs := make(chan error, len(g))
		for _, name := range g {
			go func() { errs <- makeAvailable(ctx, cs, name, clock) }()
		}
		for range g {
			if err := <-errs; err != nil {
				return nil, err
			}
		}
		deadline := time.Now().Add(30 * time.Second)
		for !clock.allRecorded(g) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var out []joinSample
	for _, g := range groups {
		for _, name := range g {
			s := clock.sample(name)
			s.together = len(g)
			out = append(out, s)
		}
	}
	return out, nil
}

// makeAvailable turns a ManagedCluster available, as the registration
// agent does when the spoke's klusterlet reports in; the join starts there.
func makeAvailable(ctx context.Context, cs clusterclient.Interface, name string, clock *joinClock) error {
	mc, err := cs.ClusterV1().ManagedClusters().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for i := range mc.Status.Conditions {
		if mc.Status.Conditions[i].Type == clusterv1.ManagedClusterConditionAvailable {
			mc.Status.Conditions[i].Status = metav1.ConditionTrue
			mc.Status.Conditions[i].LastTransitionTime = metav1.Now()
		}
	}
	clock.joined(name)
	_, err = cs.ClusterV1().ManagedClusters().UpdateStatus(ctx, mc, metav1.UpdateOptions{})
	return err
}

// joinClock times the joins.
type joinClock struct {
	mu                                  sync.Mutex
	join, push, readyAt, recordedLinked map[string]time.Time
	pushes                              map[string]int
}

func newJoinClock() *joinClock {
	return &joinClock{join: map[string]time.Time{}, push: map[string]time.Time{}, readyAt: map[string]time.Time{},
		recordedLinked: map[string]time.Time{}, pushes: map[string]int{}}
}

func (c *joinClock) joined(n string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.join[n] = time.Now()
}

func (c *joinClock) pushed(n string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pushes[n]++
	if _, ok := c.push[n]; !ok {
		c.push[n] = time.Now()
	}
}

func (c *joinClock) ready(n string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.readyAt[n]; !ok {
		c.readyAt[n] = time.Now()
	}
}

// linked notes the spokes a status record shows linked, once joined.
func (c *joinClock) linked(names []string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		if _, joined := c.join[n]; !joined {
			continue
		}
		if _, ok := c.recordedLinked[n]; !ok {
			c.recordedLinked[n] = at
		}
	}
}

func (c *joinClock) allRecorded(names []string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		if _, ok := c.recordedLinked[n]; !ok {
			return false
		}
	}
	return true
}

func (c *joinClock) sample(n string) joinSample {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := joinSample{cluster: n, pushes: c.pushes[n]}
	t0 := c.join[n]
	at := func(m map[string]time.Time) (time.Duration, bool) {
		t, ok := m[n]
		return t.Sub(t0), ok
	}
	s.pushed, s.gotPush = at(c.push)
	s.ready, s.gotReady = at(c.readyAt)
	s.recorded, s.gotRe = at(c.recordedLinked)
	return s
}

// writesOutside sums the writes made to the spokes not named.
func (f *fleet) writesOutside(names []string) int64 {
	skip := map[string]bool{}
	for _, n := range names {
		skip[n] = true
	}
	var n int64
	for _, s := range f.spokes {
		if !skip[s.Name] {
			n += s.Writes()
		}
	}
	return n
}

// watchRecord watches the status record and notes the spokes it shows
// linked; the returned func stops it.
func watchRecord(ctx context.Context, f *fleet, clock *joinClock) func() {
	wctx, cancel := context.WithCancel(ctx)
	cms := f.env.Hub.Kube().CoreV1().ConfigMaps(ns)
	go func() {
		for wctx.Err() == nil {
			w, err := cms.Watch(wctx, metav1.ListOptions{FieldSelector: "metadata.name=vanlink-status"})
			if err != nil {
				time.Sleep(time.Second)
				continue
			}
			for ev := range w.ResultChan() {
				if ev.Type != watch.Added && ev.Type != watch.Modified {
					continue
				}
				at := time.Now()
				cm, ok := ev.Object.(*corev1.ConfigMap)
				if !ok {
					continue
				}
				rec, err := vreport.Decode([]byte(cm.Data[vreport.StatusKey]))
				if err != nil {
					continue
				}
				var linked []string
				for name, s := range rec.Spokes {
					if s.State == reconcile.OutcomeLinked {
						linked = append(linked, name)
					}
				}
				clock.linked(linked, at)
			}
			w.Stop()
		}
	}()
	return cancel
}

// refreshViews plays the passing of the views' interval (the agent reads
// every spoke again) and waits until want Link views show Ready and the
// controller has taken the changes in.
func (f *fleet) refreshViews(ctx context.Context, p *controllerProcess, want int) error {
	f.agent.ExpireViews()
	if err := f.waitLinkViewsReady(ctx, want); err != nil {
		return err
	}
	return f.waitQuiet(ctx, p, 3*time.Second, 3*time.Minute)
}

// waitQuiet waits until the controller's queue is empty and it made no hub
// write but the Lease's for quiet.
func (f *fleet) waitQuiet(ctx context.Context, p *controllerProcess, quiet, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		f.proxy.reset()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("the controller exited: %v\n%s", p.err, p.tail())
		case <-time.After(quiet):
		}
		_, _, writes, _, _ := summarizeWrites(f.proxy.reset())
		m, err := p.metrics(ctx)
		if err == nil && writes == 0 && m["vanlink_queue_depth"] == 0 {
			return nil
		}
	}
	return fmt.Errorf("the controller did not settle within %s\n%s", limit, p.tail())
}

// templates reads the persistent views the controller made for the first
// spoke.
func (f *fleet) templates(ctx context.Context) (*viewTemplates, error) {
	cluster := f.spokes[0].Name
	list, err := f.env.Hub.Dynamic().Resource(acm.ViewsGVR).Namespace(cluster).List(ctx, metav1.ListOptions{
		LabelSelector: acm.PurposeLabel + "=observe"})
	if err != nil {
		return nil, err
	}
	t := &viewTemplates{cluster: cluster}
	for i := range list.Items {
		v := &list.Items[i]
		spec, _, _ := unstructured.NestedMap(v.Object, "spec")
		t.views = append(t.views, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": v.GetAPIVersion(), "kind": v.GetKind(),
			"metadata": map[string]any{"name": v.GetName(), "labels": toAny(v.GetLabels())},
			"spec":     spec,
		}})
	}
	if len(t.views) < 2 {
		return nil, fmt.Errorf("the controller made %d persistent views for %s, want its Site's and its Link's", len(t.views), cluster)
	}
	return t, nil
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// preload links every spoke as a controller leaves it: the token redeemed,
// its Link Ready and Secret (the double's Skupper), and the persistent
// views of the templates, which the agent processes.
func (f *fleet) preload(ctx context.Context, tmpl *viewTemplates) error {
	for _, s := range f.spokes {
		if _, err := s.Create(ctx, skupper.AccessTokensGVR, ns, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "skupper.io/v2alpha1", "kind": "AccessToken", "metadata": map[string]any{"name": "hub-link"}}}); err != nil {
			return err
		}
	}
	views := f.env.Hub.Dynamic().Resource(acm.ViewsGVR)
	errs := make(chan error, len(f.spokes))
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	start := time.Now()
	for _, s := range f.spokes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, t := range tmpl.views {
				v := t.DeepCopy()
				v.SetNamespace(s.Name)
				if name, _, _ := unstructured.NestedString(v.Object, "spec", "scope", "name"); name == tmpl.cluster {
					_ = unstructured.SetNestedField(v.Object, s.Name, "spec", "scope", "name")
				}
				if _, err := views.Namespace(s.Name).Create(ctx, v, metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("preloading the views: %w", err)
	}
	fmt.Fprintf(os.Stderr, "   %d views created in %s\n", len(f.spokes)*len(tmpl.views), time.Since(start).Round(time.Second))
	return f.waitLinkViewsReady(ctx, len(f.spokes))
}

// waitLinkViewsReady waits until want Link views show a Ready Link, reading
// them 500 a page (one LIST of 10,000 views is more than the hub answers).
func (f *fleet) waitLinkViewsReady(ctx context.Context, want int) error {
	views := f.env.Hub.Dynamic().Resource(acm.ViewsGVR)
	// The agent double reads 20,000 views at 10,000 spokes: on 2 cores
	// shared with other work (load average 15 to 18) 9,293 of 10,000 Link
	// views were Ready after 5 minutes.
	deadline := time.Now().Add(15 * time.Minute)
	var lastErr error
	ready := 0
	for time.Now().Before(deadline) {
		n, err := countReady(ctx, views)
		if err == nil && n == want {
			return nil
		}
		// A hub busy with the agent's status writes of 20,000 views has
		// reset a LIST stream (HTTP/2 INTERNAL_ERROR): tried again.
		lastErr, ready = err, n
		time.Sleep(2 * time.Second)
	}
	return fmt.Errorf("the Link views did not all show Ready within 15 minutes (%d of %d; last error: %v)", ready, want, lastErr)
}

// countReady counts the Link views that show a Ready Link, 500 a page.
func countReady(ctx context.Context, views dynamic.NamespaceableResourceInterface) (int, error) {
	ready, cont := 0, ""
	for {
		list, err := views.List(ctx, metav1.ListOptions{LabelSelector: acm.ObjectLabel + "=link", Limit: 500, Continue: cont})
		if err != nil {
			return ready, err
		}
		for _, v := range list.Items {
			if s, _, _ := unstructured.NestedString(v.Object, "status", "result", "status", "status"); s == "Ready" {
				ready++
			}
		}
		if cont = list.GetContinue(); cont == "" {
			return ready, nil
		}
	}
}

// logPath is where the controller's log of fleet n goes: BENCH_LOGS when
// set (kept), else the bench's temporary folder.
func logPath(dir string, n int) string {
	if d := os.Getenv("BENCH_LOGS"); d != "" {
		dir = d
	}
	return filepath.Join(dir, fmt.Sprintf("controller-%d.log", n))
}

// controllerProcess is a running `vanlink controller`.
type controllerProcess struct {
	cmd     *exec.Cmd
	addr    string
	logPath string
	started time.Time
	// hwm is the peak resident set (VmHWM, KiB) seen so far.
	hwm  atomic.Int64
	done chan struct{}
	err  error
}

// startController starts `vanlink controller` on the fleet's kubeconfig
// (the counting proxy), logging to logPath.
func startController(ctx context.Context, o options, kubeconfig, logPath string) (*controllerProcess, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, o.binary, "controller", "--kubeconfig", kubeconfig, "--log-format", "json",
		"--http-address", addr, "--identity", "bench", "--resync", o.ctl.resync.String(),
		"--concurrency", strconv.Itoa(o.concurrency))
	if os.Getenv("BENCH_LOGS") != "" {
		cmd.Args = append(cmd.Args, "-v", "1")
	}
	if o.ctl.profiles != "" {
		cmd.Args = append(cmd.Args, "--profiling")
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p := &controllerProcess{cmd: cmd, addr: addr, logPath: logPath, done: make(chan struct{}), started: time.Now()}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	go func() {
		for {
			if v := vmHWM(cmd.Process.Pid); v > p.hwm.Load() {
				p.hwm.Store(v)
			}
			select {
			case <-p.done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return p, nil
}

// metrics scrapes the controller's /metrics: unlabelled samples by name,
// vanlink_spokes by "vanlink_spokes/<state>".
func (p *controllerProcess) metrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		if rest, ok := strings.CutPrefix(name, `vanlink_spokes{state="`); ok {
			name = "vanlink_spokes/" + strings.TrimSuffix(rest, `"}`)
		}
		out[name] = v
	}
	return out, nil
}

// waitSettled waits until the controller leads, has linked want spokes and
// its queue is empty; it returns the time since the start.
func (p *controllerProcess) waitSettled(ctx context.Context, want int, limit time.Duration) (time.Duration, error) {
	deadline := p.started.Add(limit)
	var last map[string]float64
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-p.done:
			return 0, fmt.Errorf("the controller exited: %v\n%s", p.err, p.tail())
		case <-time.After(100 * time.Millisecond):
		}
		m, err := p.metrics(ctx)
		if err != nil {
			continue
		}
		last = m
		if m["vanlink_leader"] == 1 && m["vanlink_spokes/linked"] == float64(want) && m["vanlink_queue_depth"] == 0 {
			return time.Since(p.started), nil
		}
	}
	return 0, fmt.Errorf("the controller did not link %d spokes within %s (metrics: %v)\n%s", want, limit, last, p.tail())
}

// saveProfiles saves the controller's profiles of the given kinds (heap,
// allocs) as <-controller-profiles>/controller-<n>-<when>-<kind>.pb.gz;
// nothing without -controller-profiles.
func (p *controllerProcess) saveProfiles(ctx context.Context, o options, n int, when string, kinds ...string) error {
	if o.ctl.profiles == "" {
		return nil
	}
	if err := os.MkdirAll(o.ctl.profiles, 0o755); err != nil {
		return err
	}
	for _, kind := range kinds {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+"/debug/pprof/"+kind, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("the controller's %s profile: %w", kind, err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return fmt.Errorf("the controller's %s profile: %w", kind, err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("the controller's %s profile: %s", kind, resp.Status)
		}
		path := filepath.Join(o.ctl.profiles, fmt.Sprintf("controller-%d-%s-%s.pb.gz", n, when, kind))
		if err := os.WriteFile(path, body, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "   saved %s\n", path)
	}
	return nil
}

// runControllerOnly measures the controller alone (-controller-only):
// its tables and checks are printed, no report is written.
func runControllerOnly(ctx context.Context, o options, dir string) error {
	rows, err := measureControllers(ctx, o, dir)
	if err != nil {
		return err
	}
	fmt.Println(renderController(rows))
	checks, failed := check(nil, rows)
	fmt.Println(checks)
	if failed {
		return fmt.Errorf("a design invariant of controller mode failed (see above)")
	}
	return nil
}

// stop sends SIGTERM and waits for the controller to exit.
func (p *controllerProcess) stop(limit time.Duration) error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-p.done:
	case <-time.After(limit):
		p.kill()
		return fmt.Errorf("the controller did not stop within %s of SIGTERM\n%s", limit, p.tail())
	}
	var exit *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exit) {
		return p.err
	}
	if p.err != nil {
		return fmt.Errorf("the controller exited with %v after SIGTERM\n%s", p.err, p.tail())
	}
	return nil
}

// kill ends the controller at once (a bench cut short).
func (p *controllerProcess) kill() {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tail is the end of the controller's log.
func (p *controllerProcess) tail() string {
	data, _ := os.ReadFile(p.logPath)
	return tailOf(string(data))
}

// durations collects the durations of the samples that have one.
func durations(samples []joinSample, pick func(joinSample) (time.Duration, bool)) []time.Duration {
	var out []time.Duration
	for _, s := range samples {
		if d, ok := pick(s); ok {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// percentile is the nearest-rank percentile q of sorted durations (0 when
// there are none).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)].Round(time.Millisecond)
}

// renderController renders the controller's steady state and start-up, and
// the joins.
func renderController(rows []controllerRow) string {
	var b strings.Builder
	b.WriteString("| spokes | fleet when the controller starts | start-up | its hub writes | steady window | hub requests/min | hub writes/min | Lease requests/min | Lease writes/min | spoke writes | peak RSS |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %s | %s | %d | %s | %.1f | %.1f | %.1f | %.1f | %d | %.1f MiB |\n",
			r.n, r.setup, r.start.Round(10*time.Millisecond), r.coldWrites, r.window.Round(time.Second),
			r.perMinute(r.requests), r.perMinute(r.writes), r.perMinute(r.leaseRequests), r.perMinute(r.leaseWrites), r.spokeWrites, r.rssMiB)
	}
	for _, r := range rows {
		if len(r.joins) == 0 {
			continue
		}
		b.WriteString("\n| spokes | joins | joining at once | token pushed p50 | p99 | Link Ready p50 | p99 | recorded linked p50 | p99 | slowest recorded | tokens pushed | writes to other spokes |\n")
		b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		var sizes []int
		by := map[int][]joinSample{}
		for _, s := range r.joins {
			if len(by[s.together]) == 0 {
				sizes = append(sizes, s.together)
			}
			by[s.together] = append(by[s.together], s)
		}
		line := func(samples []joinSample, together string, others string) {
			pushed := durations(samples, func(s joinSample) (time.Duration, bool) { return s.pushed, s.gotPush })
			ready := durations(samples, func(s joinSample) (time.Duration, bool) { return s.ready, s.gotReady })
			rec := durations(samples, func(s joinSample) (time.Duration, bool) { return s.recorded, s.gotRe })
			slowest := "never (" + strconv.Itoa(len(samples)-len(rec)) + ")"
			if len(rec) == len(samples) {
				slowest = rec[len(rec)-1].Round(time.Millisecond).String()
			}
			tokens := 0
			for _, s := range samples {
				tokens += s.pushes
			}
			fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d | %s |\n", r.n, len(samples), together,
				percentile(pushed, 0.5), percentile(pushed, 0.99), percentile(ready, 0.5), percentile(ready, 0.99),
				percentile(rec, 0.5), percentile(rec, 0.99), slowest, tokens, others)
		}
		for _, k := range sizes {
			line(by[k], strconv.Itoa(k), "")
		}
		line(r.joins, "all", strconv.FormatInt(r.joinOtherSpoke, 10))
	}
	return b.String()
}

// checkController applies the goals of controller mode (issue 16).
func checkController(rows []controllerRow, verdict, invariant func(ok bool, format string, a ...any)) {
	for _, r := range rows {
		invariant(r.writes == 0, "with nothing changing, the controller makes no hub write but the Lease's at N=%d (%.1f/min; Lease: %.1f writes/min)", r.n, r.perMinute(r.writes), r.perMinute(r.leaseWrites))
		invariant(r.spokeWrites == 0, "with nothing changing, the controller writes nothing to spokes at N=%d (%d spoke writes)", r.n, r.spokeWrites)
		if len(r.joins) == 0 {
			continue
		}
		pushed := durations(r.joins, func(s joinSample) (time.Duration, bool) { return s.pushed, s.gotPush })
		ready := durations(r.joins, func(s joinSample) (time.Duration, bool) { return s.ready, s.gotReady })
		once := 0
		for _, s := range r.joins {
			if s.pushes == 1 {
				once++
			}
		}
		invariant(once == len(r.joins) && r.joinOtherSpoke == 0, "at N=%d, each of the %d joining spokes got exactly one token (%d did) and no other spoke was written (%d writes)", r.n, len(r.joins), once, r.joinOtherSpoke)
		verdict(len(pushed) == len(r.joins) && percentile(pushed, 0.99) <= 5*time.Second, "join latency at N=%d, to the token pushed: p99 at most 5 s (p50 %s, p99 %s, %d of %d pushed)", r.n, percentile(pushed, 0.5), percentile(pushed, 0.99), len(pushed), len(r.joins))
		verdict(len(ready) == len(r.joins) && percentile(ready, 0.99) <= 5*time.Second, "join latency at N=%d, to the Link Ready in the double: p99 at most 5 s (p50 %s, p99 %s)", r.n, percentile(ready, 0.5), percentile(ready, 0.99))
	}
	var cold []controllerRow
	for _, r := range rows {
		if r.setup != fleetPreloaded {
			cold = append(cold, r)
		}
	}
	if len(cold) >= 2 {
		a, z := cold[0], cold[len(cold)-1]
		verdict(z.perMinute(z.requests) <= 1.25*a.perMinute(a.requests)+2, "with nothing changing, hub requests per minute stay flat from N=%d to N=%d (%.1f -> %.1f besides the Lease's %.1f -> %.1f; flat: at most 25%% more, +2)",
			a.n, z.n, a.perMinute(a.requests), z.perMinute(z.requests), a.perMinute(a.leaseRequests), z.perMinute(z.leaseRequests))
	}
	for _, r := range rows {
		if r.n >= 10000 {
			verdict(r.rssMiB <= 200, "the controller's peak RSS at N=%d at most 200 MiB (%.1f MiB)", r.n, r.rssMiB)
		}
	}
}

// controllerReport is the controller-mode section of BENCHMARKS.md.
func controllerReport(o options, rows []controllerRow, table string, took time.Duration) string {
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, `
## Controller mode

`+"`vanlink controller`"+` (the real binary, through the counting proxy, on the same hub, agent double
with %[1]s latency and in-memory spokes as above) runs as a long-lived process with
`+"`--resync %[2]s`"+` (the flag's default is 10m: with %[2]s, every steady window of %[3]s holds
exactly one resync of the whole fleet) and the default `+"`--concurrency %[4]d`"+`. How the fleet is when
it starts:

- **%[5]s** (N = %[6]s): the controller links it; its start-up runs from its start to every
  spoke recorded linked with its queue empty (read from its `+"`/metrics`"+`). The agent then
  re-reads every view, as it does within their 300 s interval.
- **%[7]s** (N = %[8]s): as when the controller replaces the jobs; the agent has
  refreshed the views since.
- **%[9]s** (N = %[10]s): tokens, Ready Links, and the persistent views the controller
  made for a spoke of a fleet above, copied to every spoke and processed by the agent, so only
  the start-up and the steady window run (linking 10,000 spokes first would spend several
  minutes of the hub's writes).

Then:

- **joins** (at N = %[11]d): %[12]d spokes are registered with their Site present and their
  ManagedCluster joined but not available (skipped); each join turns its ManagedCluster
  available, as the registration agent does. Half join one at a time, half %[13]d at once; each
  group joins once the one before is recorded linked. Per join: the time to the token pushed
  (the agent's create of the AccessToken on the spoke), to the Link Ready in the double (the
  double makes it Ready as soon as the token is there, so the two differ by microseconds), and
  to the controller's status record showing the spoke linked (a watch of the status
  ConfigMap).
- **steady window**: nothing changes for %[3]s; every hub request of the controller is counted,
  the Lease's apart (leader election renews it every 2 s). Peak RSS is the controller's VmHWM
  over its whole life (start-up included), sampled from /proc every 50 ms.

%[14]s
What the steady figures are made of:

- The Lease: one UPDATE per renewal (`+"`--leader-retry-period`"+` 2s), 30 a minute, whatever the fleet.
- Watches re-opened: every request to the hub, watches included, is bounded by
  `+"`--request-timeout`"+` (30s), so each of the controller's informers (ManagedClusters, the
  AccessGrant, the hub Sites, and the session's ManagedClusterViews and Actions) re-opens its
  watch about twice a minute, from its last resource version (no LIST).
- The resync: per batch of up to `+"`--max-batch`"+` (500) spokes, one GET of the AccessGrant and
  one LIST of the hub Sites; the spokes themselves are read from the views' watch cache. So a
  resync costs 2 requests per 500 spokes (0.2 per 500 spokes a minute at the default 10m): the
  only part that grows with the fleet.

The whole `+"`go run ./e2e/bench`"+` took %[15]s on this machine (`+"`make bench`"+` runs the planner's Go
benchmark before it, a few seconds). The controller's measurements alone, their tables and
checks printed and this file not written:
`+"`go run ./e2e/bench -controller-only -controller-sizes 100,1000 -controller-memory-sizes 10000`"+`;
with `+"`-controller-profiles DIR`"+` the controller runs with `+"`--profiling`"+` and its heap profiles
are saved in DIR (after its start-up and at the end of the steady window).
`, o.latency, o.ctl.resync, o.ctl.window, o.concurrency,
		fleetCold, sizesOf(rows, fleetCold), fleetPass, sizesOf(rows, fleetPass), fleetPreloaded, sizesOf(rows, fleetPreloaded),
		largestJoin(rows), o.ctl.joins, o.ctl.burst, table, took.Round(time.Second))
	return b.String()
}

// sizesOf lists the fleet sizes of the rows of one setup.
func sizesOf(rows []controllerRow, setup string) string {
	var out []string
	for _, r := range rows {
		if r.setup == setup {
			out = append(out, strconv.Itoa(r.n))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// largestJoin is the fleet size of the joins (0: none).
func largestJoin(rows []controllerRow) int {
	for _, r := range rows {
		if len(r.joins) > 0 {
			return r.n
		}
	}
	return 0
}
