package main

// The ManifestWork transport's rows: the same fleets and passes as the ACM
// rows, with spokes reached through one ManifestWork each, applied and
// reported on by the work agent double (pkg/transport/manifestwork/worktest:
// one agent per spoke, as on a real fleet, with the same latency per
// generation applied as the ACM double's per action). The double is checked
// against the real OCM work agent on the same passes (realagent.go: the cold
// and steady pass of a small fleet with either agent, the writes compared)
// and on the same cases (the transport's conformance suite runs against
// both: pkg/transport/manifestwork TestConformance, unit tier, and
// TestConformanceRealAgent, integration tier).

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork/worktest"
)

// mwOptions are the flags of the ManifestWork rows.
type mwOptions struct {
	// only measures the ManifestWork rows and rewrites their section of
	// the report, leaving the rest of it as it is.
	only bool
	// statusSync is the agent's --status-sync-interval.
	statusSync time.Duration
	// realSize is the fleet of the check of the double against the real
	// work agent (0: no check); realOnly runs only that check.
	realSize int
	realOnly bool
}

func (m *mwOptions) addFlags(fs *flag.FlagSet) {
	fs.BoolVar(&m.only, "manifestwork-only", false, "measure only the ManifestWork transport's rows and rewrite their section of the report")
	fs.DurationVar(&m.statusSync, "manifestwork-status-sync", 10*time.Second, "the work agent double's --status-sync-interval (upstream default 10s)")
	fs.IntVar(&m.realSize, "manifestwork-real-size", 3, "spokes of the check of the work agent double against the real agent (bin/work-agent, one per real spoke API server) on the same passes; 0 skips it")
	fs.BoolVar(&m.realOnly, "manifestwork-real-only", false, "run only the check of the work agent double against the real agent and rewrite its section of the report")
}

// mwFleet is a hub with N spokes reached through ManifestWorks.
type mwFleet struct {
	env    *framework.Env
	agent  *worktest.Agent
	spokes []*acmtest.MemorySpoke
	proxy  *countingProxy
	kube   string
	cancel context.CancelFunc
}

func setupManifestWork(ctx context.Context, o options, n int, dir string) (*mwFleet, error) {
	f, err := startMWFleet(ctx, n, framework.Options{})
	if err != nil {
		return f, err
	}
	hub := f.env.Hub
	f.agent = worktest.New(hub.Dynamic(), worktest.Options{StatusSync: o.mw.statusSync, Latency: o.latency, Workers: max(n, 10),
		Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if f.spokes, err = registerSpokes(ctx, hub, n, f.agent.AddSpoke); err != nil {
		return f, err
	}
	actx, cancel := context.WithCancel(ctx)
	f.cancel = cancel
	go func() { _ = f.agent.Run(actx) }()
	return f, f.serve(filepath.Join(dir, fmt.Sprintf("hub-mw-%d.kubeconfig", n)))
}

// startMWFleet starts a bed with the given options and prepares its hub for
// a fleet of n (grant, hub Site).
func startMWFleet(ctx context.Context, n int, opts framework.Options) (*mwFleet, error) {
	env, err := framework.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &mwFleet{env: env}, prepareHub(ctx, env.Hub, n)
}

// serve puts the counting proxy in front of the hub and writes the
// kubeconfig vanlink's passes use, at path.
func (f *mwFleet) serve(path string) error {
	hub := f.env.Hub
	var err error
	if f.proxy, err = newCountingProxy(hub.URL, hub.Config.CAData, hub.Config.BearerToken); err != nil {
		return err
	}
	f.kube = path
	return framework.WriteKubeconfig(f.kube, "hub", &rest.Config{Host: f.proxy.URL()})
}

func (f *mwFleet) close() {
	if f.cancel != nil {
		f.cancel()
	}
	if f.proxy != nil {
		f.proxy.Close()
	}
	f.env.Stop()
}

// agentWrites counts the double's status writes to the hub (0 with real
// agents: the check against them counts from the hub's watch instead).
func (f *mwFleet) agentWrites() int64 {
	if f.agent == nil {
		return 0
	}
	return f.agent.HubWrites()
}

// spokeWrites counts the writes to the simulated spokes.
func (f *mwFleet) spokeWrites() int64 {
	var n int64
	for _, s := range f.spokes {
		n += s.Writes()
	}
	return n
}

// pass runs `vanlink sync --transport manifestwork` once and measures it.
func (f *mwFleet) pass(ctx context.Context, o options, n int, name string) (row, error) {
	f.proxy.reset()
	spokeBefore, agentBefore := f.spokeWrites(), f.agentWrites()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, o.binary, "sync", "--transport", "manifestwork", "--kubeconfig", f.kube, "--concurrency", strconv.Itoa(o.concurrency),
		"--spoke-timeout", "10m", "--fail-on", "never", "--log-format", "json")
	if os.Getenv("BENCH_LOGS") != "" {
		cmd.Args = append(cmd.Args, "-v", "1")
	}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return row{}, err
	}
	peak := make(chan int64, 1)
	stop := make(chan struct{})
	go func() {
		var hwm int64
		for {
			if v := vmHWM(cmd.Process.Pid); v > hwm {
				hwm = v
			}
			select {
			case <-stop:
				peak <- hwm
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	err := cmd.Wait()
	close(stop)
	r := row{n: n, pass: name, concurrency: o.concurrency, wall: time.Since(start)}
	r.rssMiB = float64(<-peak) / 1024
	if err != nil {
		return row{}, fmt.Errorf("%s pass: %w\n%s", name, err, tailOf(stderr.String()))
	}
	// The agent's status writes of the pass: those it made before vanlink
	// returned (the agent keeps reporting after, e.g. the Links Ready).
	r.agentWrites = f.agentWrites() - agentBefore
	r.spokeWrites = f.spokeWrites() - spokeBefore
	r.total, r.lists, r.gets, r.writes, r.detail = summarize(f.proxy.reset())
	if os.Getenv("BENCH_LOGS") != "" {
		_ = os.WriteFile(filepath.Join(os.Getenv("BENCH_LOGS"), fmt.Sprintf("manifestwork-%d-%s.log", n, name)), stderr.Bytes(), 0o644)
	}
	r.outcome = lastLine(stdout.String())
	if strings.Contains(stdout.String(), "error:") {
		return r, fmt.Errorf("%s pass failed:\n%s\n%s", name, stdout.String(), tailOf(stderr.String()))
	}
	fmt.Fprintf(os.Stderr, "   manifestwork %s pass: %s, %d hub requests (%d writes), %d agent writes, %d spoke writes, %.1f MiB; %s\n",
		name, r.wall.Round(time.Millisecond), r.total, r.writes, r.agentWrites, r.spokeWrites, r.rssMiB, r.outcome)
	return r, nil
}

// waitLinksReported waits until every work reports its Link Ready (the
// agent's next status sync after the cold pass).
func (f *mwFleet) waitLinksReported(ctx context.Context, n int) error {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		list, err := f.env.Hub.Dynamic().Resource(manifestwork.WorksGVR).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		ready := 0
		for _, u := range list.Items {
			var w workv1.ManifestWork
			if err := kruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &w); err != nil {
				return err
			}
			for _, m := range w.Status.ResourceStatus.Manifests {
				if m.ResourceMeta.Resource != "links" {
					continue
				}
				for _, v := range m.StatusFeedbacks.Values {
					if v.Name == "status" && v.Value.String != nil && *v.Value.String == "Ready" {
						ready++
					}
				}
			}
		}
		if ready == n {
			return nil
		}
		time.Sleep(time.Second)
	}
	return fmt.Errorf("the ManifestWorks did not all report a Ready Link within 3 minutes")
}

// measureManifestWork measures the cold and the steady pass at each size.
func measureManifestWork(ctx context.Context, o options, dir string) ([]row, error) {
	var rows []row
	for _, n := range o.sizes {
		fmt.Fprintf(os.Stderr, "== ManifestWork transport, fleet of %d spokes\n", n)
		f, err := setupManifestWork(ctx, o, n, dir)
		if err == nil {
			var cold, steady row
			if cold, err = f.pass(ctx, o, n, "cold"); err == nil {
				if err = f.waitLinksReported(ctx, n); err == nil {
					steady, err = f.pass(ctx, o, n, "steady")
				}
			}
			rows = append(rows, cold, steady)
		}
		if f != nil {
			f.close()
		}
		if err != nil {
			return nil, fmt.Errorf("ManifestWork transport, N=%d: %w", n, err)
		}
	}
	return rows, nil
}

// checkManifestWork applies the invariants of a steady pass to the rows.
func checkManifestWork(rows []row) (string, bool) {
	var b strings.Builder
	failed := false
	for _, r := range rows {
		if r.pass != "steady" {
			continue
		}
		ok := r.spokeWrites == 0 && r.writes <= 3 && r.gets <= 10
		failed = failed || !ok
		mark := "PASS"
		if !ok {
			mark = "MISS"
		}
		fmt.Fprintf(&b, "- %s: steady pass at N=%d writes no ManifestWork and nothing to spokes, and makes no per-spoke GETs (%d hub writes: status record and lease; %d spoke writes; %d GETs, %d LISTs): %s\n",
			mark, r.n, r.writes, r.spokeWrites, r.gets, r.lists, r.detail)
	}
	return b.String(), failed
}

// acmPerSpoke reads the ACM transport's hub writes per cold spoke (vanlink
// and the agent) from the ACM rows: the largest fleet's cold pass at the
// default concurrency.
func acmPerSpoke(o options, rows []row) (vanlink, agent float64, ok bool) {
	var best *row
	for i, r := range rows {
		if r.pass == "cold" && r.concurrency == o.concurrency && (best == nil || r.n > best.n) {
			best = &rows[i]
		}
	}
	if best == nil {
		return 0, 0, false
	}
	return float64(best.writes) / float64(best.n), float64(best.agentWrites) / float64(best.n), true
}

// acmRowsFromReport reads the ACM rows back from a report's results table
// (-manifestwork-only leaves them as they were measured).
func acmRowsFromReport(text string) []row {
	re := regexp.MustCompile(`(?m)^\| (\d+) \| (cold|steady) \| (\d+) \| [^|]+ \| \d+ \| \d+ \| \d+ \| (\d+) \| (\d+) \|`)
	var rows []row
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		c, _ := strconv.Atoi(m[3])
		w, _ := strconv.Atoi(m[4])
		a, _ := strconv.ParseInt(m[5], 10, 64)
		rows = append(rows, row{n: n, pass: m[2], concurrency: c, writes: w, agentWrites: a})
	}
	return rows
}

// loadAverage is the 1, 5 and 15 minute load average (Linux), or "unknown".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

const (
	mwBegin = "<!-- manifestwork rows: begin -->"
	mwEnd   = "<!-- manifestwork rows: end -->"
)

// manifestWorkReport is the report's section on the ManifestWork
// transport, compared with the ACM rows.
func manifestWorkReport(o options, rows, acmRows []row) string {
	var b strings.Builder
	b.WriteString(mwBegin + "\n## ManifestWork transport (`--transport manifestwork`)\n\n")
	fmt.Fprintf(&b, `The same fleets and passes with spokes reached through one ManifestWork each: the OCM work
agent is played by the project's double (one agent per spoke, as on a real fleet; %s latency
per generation applied, as the ACM double's per action; status synced every %s, upstream's
default), checked
against the real work agent (open-cluster-management.io/ocm v1.2.1) on the same passes at a
small N (below) and on the same cases (the transport's conformance suite runs against both). "hub writes" are vanlink's (the work
created, the push written and taken out again, the status record and the lease); "agent
writes" are the agent's status writes to the hub made while the pass ran. Load average of
the machine when the rows were written: %s (wall times are only comparable between rows
measured at a similar load; the request and write counts do not depend on it).

`, o.latency, o.mw.statusSync, loadAverage())
	b.WriteString("| spokes | pass | concurrency | wall time | hub requests | lists | gets | hub writes | agent writes | hub writes/s | spoke writes | peak RSS |\n")
	b.WriteString("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %s | %d | %s | %d | %d | %d | %d | %d | %.0f | %d | %.1f MiB |\n",
			r.n, r.pass, r.concurrency, r.wall.Round(10*time.Millisecond), r.total, r.lists, r.gets, r.writes, r.agentWrites, r.writeRate(), r.spokeWrites, r.rssMiB)
	}
	checks, _ := checkManifestWork(rows)
	b.WriteString("\n" + checks)
	var cold *row
	for i, r := range rows {
		if r.pass == "cold" && (cold == nil || r.n > cold.n) {
			cold = &rows[i]
		}
	}
	if cold != nil {
		n := float64(cold.n)
		mv, ma := float64(cold.writes)/n, float64(cold.agentWrites)/n
		fmt.Fprintf(&b, "\nHub writes per cold spoke at N=%d: **%.1f** (vanlink %.1f, the agent %.1f)", cold.n, mv+ma, mv, ma)
		if av, aa, ok := acmPerSpoke(o, acmRows); ok {
			fmt.Fprintf(&b, ", against **%.1f** with the ACM transport (vanlink %.1f, the agent %.1f)", av+aa, av, aa)
		}
		b.WriteString(`. A cold spoke costs vanlink the work's create (whose first report is the
fresh read the push rests on), the push (the token in a CreateOnly manifest) and the write
that takes it out again; nothing is created per read or deleted afterwards, as views and
actions are. The agent writes a status after each apply and after each read that changed
what it reports. A steady pass reads every work from one LIST and a WATCH and writes none.
`)
	}
	b.WriteString(mwEnd + "\n")
	return b.String()
}

// spliceManifestWork puts the section into a report: in place of the one
// there, or at its end.
func spliceManifestWork(report, section string) string {
	return spliceSection(report, mwBegin, mwEnd, section)
}

// spliceSection puts a section marked by begin and end lines into a report:
// in place of the one there, or at its end.
func spliceSection(report, begin, end, section string) string {
	if i, j := strings.Index(report, begin), strings.Index(report, end); i >= 0 && j > i {
		return report[:i] + section + report[j+len(end)+1:]
	}
	return strings.TrimRight(report, "\n") + "\n\n" + section
}

// runManifestWorkOnly measures the ManifestWork rows and rewrites their
// section of the report (-manifestwork-only).
func runManifestWorkOnly(ctx context.Context, o options, root, dir string) error {
	path := filepath.Join(root, o.out)
	old, _ := os.ReadFile(path)
	report := string(old)
	failed := false
	if !o.mw.realOnly {
		rows, err := measureManifestWork(ctx, o, dir)
		if err != nil {
			return err
		}
		section := manifestWorkReport(o, rows, acmRowsFromReport(report))
		fmt.Println(section)
		report = spliceManifestWork(report, section)
		_, failed = checkManifestWork(rows)
	}
	if o.mw.realSize > 0 {
		section, realFailed, err := runRealAgentCheck(ctx, o, dir)
		if err != nil {
			return err
		}
		fmt.Println(section)
		report = spliceSection(report, realBegin, realEnd, section)
		failed = failed || realFailed
	}
	if o.out != "" {
		if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "wrote", o.out)
	}
	if failed {
		return fmt.Errorf("a design invariant of the ManifestWork transport failed (see above)")
	}
	return nil
}
