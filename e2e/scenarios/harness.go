package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/internal/charts"
	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/report"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport/acm"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

// Names used by the shipped values.
const (
	Namespace   = "service-interconnect"
	GrantName   = "spoke-link"
	TokenName   = "hub-link"
	HubRelease  = "hub"
	SyncAccount = "hub-service-interconnect-sync"
)

// Harness runs the real artefacts against a provider: the charts installed
// with the Helm SDK from the shipped values, and the real vanlink binary run
// with the hook's and the CronJob's arguments as the chart's ServiceAccount.
type Harness struct {
	T      *testing.T
	P      Provider
	Root   string
	Binary string

	hubSet  map[string]any
	args    map[bool][]string // jobArgs by hook, for hubSet
	saKube  string
	output  bytes.Buffer
	codes   map[string]bool
	Timeout time.Duration
}

// NewHarness returns a harness; binary is a built vanlink.
func NewHarness(t *testing.T, p Provider, root, binary string) *Harness {
	h := &Harness{T: t, P: p, Root: root, Binary: binary, codes: map[string]bool{}, args: map[bool][]string{}, Timeout: 60 * time.Second}
	t.Logf("clusters: %s", p.Describe())
	t.Cleanup(func() {
		if !t.Failed() {
			h.AssertNoCodeLeak()
		}
	})
	return h
}

func (h *Harness) path(rel string) string { return filepath.Join(h.Root, filepath.FromSlash(rel)) }

func (h *Harness) hubOptions(set map[string]any) charts.Options {
	return charts.Options{ReleaseName: HubRelease, Namespace: "default", Set: Merge(h.P.HubValues(), set),
		ValuesFiles: []string{h.path("values/catalog.yaml"), h.path("values/clusters/hub.yaml")}}
}

// InstallHub installs the hub chart (hooks are run by Hook, as the bed has
// no Job controller) and remembers set for the hook's arguments.
func (h *Harness) InstallHub(ctx context.Context, set map[string]any) {
	h.T.Helper()
	h.hubSet, h.args = set, map[bool][]string{}
	_, err := charts.Install(ctx, h.path(charts.HubChart), charts.InstallOptions{Options: h.hubOptions(set), Kubeconfig: h.P.Hub().Kubeconfig, DisableHooks: true})
	require.NoError(h.T, err, "helm install of the hub chart")
	h.saKube = ""
}

// InstallSpoke installs the spoke chart on a spoke from the shipped values
// (values/clusters/<name>.yaml when it exists) plus set.
func (h *Harness) InstallSpoke(ctx context.Context, spoke Cluster, set map[string]any) {
	h.T.Helper()
	files := []string{h.path("values/catalog.yaml")}
	if f := h.path("values/clusters/" + spoke.Name + ".yaml"); fileExists(f) {
		files = append(files, f)
	} else {
		if set == nil {
			set = map[string]any{}
		}
		set["clusterName"] = spoke.Name
	}
	_, err := charts.Install(ctx, h.path(charts.SpokeChart), charts.InstallOptions{Kubeconfig: spoke.Kubeconfig,
		Options: charts.Options{ReleaseName: spoke.Name, Namespace: "default", ValuesFiles: files, Set: set}})
	require.NoError(h.T, err, "helm install of the spoke chart on %s", spoke.Name)
}

// catalogWith returns the shipped catalog with one more spoke declared.
func (h *Harness) catalogWith(spoke string) map[string]any {
	h.T.Helper()
	data, err := os.ReadFile(h.path("values/catalog.yaml"))
	require.NoError(h.T, err)
	var v map[string]any
	require.NoError(h.T, yaml.Unmarshal(data, &v))
	cat := v["catalog"].(map[string]any)
	cat["spokes"] = append(cat["spokes"].([]any), spoke)
	return cat
}

// Run is one execution of the vanlink binary.
type Run struct {
	Code           int
	Stdout, Stderr string
	Took           time.Duration
}

// jobArgs renders the hub chart and returns the arguments of the hook Job
// or the CronJob (rendered once per InstallHub).
func (h *Harness) jobArgs(hook bool) []string {
	h.T.Helper()
	if args, ok := h.args[hook]; ok {
		return slices.Clone(args)
	}
	out, err := charts.Render(context.Background(), h.path(charts.HubChart), h.hubOptions(h.hubSet))
	require.NoError(h.T, err)
	args, err := out.JobArgs(hook)
	require.NoError(h.T, err)
	h.args[hook] = args
	return slices.Clone(args)
}

// PassFlags are the CronJob's flags that the subcommand sub (status, token)
// also takes, such as the transport, names and namespaces: each subcommand
// has its own flag set, read from its --help.
func (h *Harness) PassFlags(sub string) []string {
	h.T.Helper()
	takes := h.flagsOf(sub)
	var out []string
	for _, a := range h.jobArgs(false)[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if takes[name] {
			out = append(out, a)
		}
	}
	return out
}

var flagName = regexp.MustCompile(`^\s+(?:-\w, )?--([a-z0-9-]+)`)

// helpFlags caches flagsOf by binary and subcommand.
var helpFlags sync.Map

// flagsOf lists the flags a vanlink subcommand takes, from its --help.
func (h *Harness) flagsOf(sub string) map[string]bool {
	h.T.Helper()
	key := h.Binary + "\x00" + sub
	if f, ok := helpFlags.Load(key); ok {
		return f.(map[string]bool)
	}
	out, err := exec.Command(h.Binary, sub, "--help").CombinedOutput()
	require.NoError(h.T, err, "vanlink %s --help: %s", sub, out)
	flags := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := flagName.FindStringSubmatch(line); m != nil {
			flags[m[1]] = true
		}
	}
	require.NotEmpty(h.T, flags, "vanlink %s --help lists its flags", sub)
	helpFlags.Store(key, flags)
	return flags
}

// Hook runs vanlink as the chart's PostSync hook Job would.
func (h *Harness) Hook(ctx context.Context) Run { return h.Vanlink(ctx, h.jobArgs(true)...) }

// Cron runs vanlink as one run of the chart's CronJob would.
func (h *Harness) Cron(ctx context.Context) Run { return h.Vanlink(ctx, h.jobArgs(false)...) }

// Start starts vanlink in the background; wait returns its Run, which
// the test log shows.
func (h *Harness) Start(ctx context.Context, args ...string) (wait func() Run) {
	h.T.Helper()
	return h.start(ctx, true, args)
}

// start is Start; logged false keeps the Run out of the test log (the
// output still goes through the code-leak check), for polls.
func (h *Harness) start(ctx context.Context, logged bool, args []string) (wait func() Run) {
	h.T.Helper()
	start := time.Now()
	var run func() (Run, error)
	if r, ok := h.P.(Runner); ok {
		var err error
		run, err = r.StartVanlink(ctx, args)
		require.NoError(h.T, err, "starting vanlink %s", strings.Join(args, " "))
	} else {
		run = h.startLocal(ctx, args)
	}
	return func() Run {
		r, err := run()
		require.NoError(h.T, err, "running vanlink %s", strings.Join(args, " "))
		r.Took = time.Since(start)
		h.output.WriteString(r.Stdout + r.Stderr)
		if logged {
			h.logRun(args, r)
		}
		return r
	}
}

func (h *Harness) logRun(args []string, r Run) {
	h.T.Helper()
	h.T.Logf("vanlink %s -> exit %d in %s\n%s%s", strings.Join(args, " "), r.Code, r.Took.Round(time.Millisecond), r.Stdout, tail(r.Stderr, 30))
}

// WaitObserved waits until the transport shows every spoke as done says: a
// dry-run pass (vanlink status --live -o json, the job's transport and
// names) plans for it a step done accepts (done nil: every spoke in sync).
// A pass plans from what its transport last observed, and the ACM views
// and ManifestWork status feedback report a spoke's objects some time
// after they changed (the views' refresh, the work agent's
// --status-sync-interval); a scenario that asserts what the next pass does
// with a change waits here for the change to be observable, instead of
// sleeping a guess. Direct reads are fresh: it returns at the first poll.
func (h *Harness) WaitObserved(ctx context.Context, done func(reconcile.Change) bool) {
	h.T.Helper()
	if done == nil {
		done = func(c reconcile.Change) bool { return c.Action == reconcile.InSync }
	}
	args := append([]string{"status", "--live", "-o", "json"}, h.PassFlags("status")...)
	deadline := time.Now().Add(h.Timeout)
	for {
		r := h.start(ctx, false, args)()
		var res reconcile.Result
		err := json.Unmarshal([]byte(r.Stdout), &res)
		waiting := []string{}
		for _, c := range res.Changes {
			if c.Action != reconcile.Skip && !done(c) {
				waiting = append(waiting, fmt.Sprintf("%s (%s: %s)", c.Cluster, c.Action, c.Reason))
			}
		}
		if err == nil && (r.Code == 0 || r.Code == 2) && len(waiting) == 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			h.logRun(args, r)
			h.T.Fatalf("the %s transport did not observe the spokes as expected within %s; still: %s (decoding: %v)", h.transport(), h.Timeout, strings.Join(waiting, ", "), err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// startLocal runs the binary on this machine as the chart's ServiceAccount.
func (h *Harness) startLocal(ctx context.Context, args []string) func() (Run, error) {
	h.T.Helper()
	cmd := exec.CommandContext(ctx, h.Binary, append(args, "--kubeconfig", h.serviceAccountKubeconfig(ctx))...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(h.T, cmd.Start())
	return func() (Run, error) {
		err := cmd.Wait()
		r := Run{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
		if err != nil && r.Code == 0 {
			r.Code = -1
		}
		return r, nil
	}
}

// Process is vanlink running on this machine (providers without a Runner).
type Process struct {
	Cmd  *exec.Cmd
	Wait func() Run
}

// StartProcess starts vanlink on this machine as the chart's
// ServiceAccount and hands back the process, to signal it.
func (h *Harness) StartProcess(ctx context.Context, args ...string) *Process {
	h.T.Helper()
	cmd := exec.CommandContext(ctx, h.Binary, append(args, "--kubeconfig", h.serviceAccountKubeconfig(ctx))...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	require.NoError(h.T, cmd.Start())
	return &Process{Cmd: cmd, Wait: func() Run {
		_ = cmd.Wait()
		r := Run{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(start)}
		h.output.WriteString(r.Stdout + r.Stderr)
		h.T.Logf("vanlink %s -> exit %d in %s\n%s%s", strings.Join(args, " "), r.Code, r.Took.Round(time.Millisecond), r.Stdout, tail(r.Stderr, 30))
		return r
	}}
}

// runBinary runs the binary on this machine with exactly args (their own
// --kubeconfig).
func (h *Harness) runBinary(ctx context.Context, args ...string) Run {
	h.T.Helper()
	cmd := exec.CommandContext(ctx, h.Binary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	_ = cmd.Run()
	r := Run{Code: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String(), Took: time.Since(start)}
	h.output.WriteString(r.Stdout + r.Stderr)
	h.T.Logf("vanlink %s -> exit %d in %s\n%s%s", strings.Join(args, " "), r.Code, r.Took.Round(time.Millisecond), r.Stdout, tail(r.Stderr, 30))
	return r
}

// Vanlink runs the binary with args as the chart's ServiceAccount.
func (h *Harness) Vanlink(ctx context.Context, args ...string) Run { return h.Start(ctx, args...)() }

// serviceAccountKubeconfig writes a kubeconfig for the sync ServiceAccount:
// vanlink gets exactly the RBAC the chart grants.
func (h *Harness) serviceAccountKubeconfig(ctx context.Context) string {
	h.T.Helper()
	if h.saKube == "" {
		path := filepath.Join(h.T.TempDir(), "sync.kubeconfig")
		require.NoError(h.T, framework.ServiceAccountKubeconfig(ctx, h.P.Hub().Config, Namespace, SyncAccount, path))
		h.saKube = path
	}
	return h.saKube
}

func dyn(c Cluster) dynamic.Interface     { return dynamic.NewForConfigOrDie(c.Config) }
func kube(c Cluster) kubernetes.Interface { return kubernetes.NewForConfigOrDie(c.Config) }
func fileExists(p string) bool            { _, err := os.Stat(p); return err == nil }
func (h *Harness) Grant() *skupper.Grant  { return h.grant(context.Background()) }

// Redeemed is how many redemptions of the grant were honoured: what the
// grant server wrote when the provider says (RedemptionCounter), else the
// grant's status.redemptions.
func (h *Harness) Redeemed() int64 {
	h.T.Helper()
	g := h.Grant()
	if rc, ok := h.P.(RedemptionCounter); ok {
		written, _ := rc.Counted(string(g.UID))
		return int64(written)
	}
	return g.Redemptions
}

// RequireRedemptions fails unless want redemptions of the grant were
// honoured and its status.redemptions counts no more than those plus the
// redemptions the grant server answered 503 after a failed write (upstream
// can leave those counted; see RedemptionCounter). Without a
// RedemptionCounter, status.redemptions must be want.
func (h *Harness) RequireRedemptions(want int64, msgAndArgs ...any) {
	h.T.Helper()
	g := h.Grant()
	rc, ok := h.P.(RedemptionCounter)
	if !ok {
		require.Equal(h.T, want, g.Redemptions, msgAndArgs...)
		return
	}
	written, failed := rc.Counted(string(g.UID))
	require.Equal(h.T, want, int64(written), msgAndArgs...)
	require.GreaterOrEqual(h.T, g.Redemptions, want, "status.redemptions of grant %s counts every redemption honoured", g.UID)
	require.LessOrEqual(h.T, g.Redemptions, want+int64(failed),
		"status.redemptions of grant %s counts at most the %d redemptions honoured and the %d answered 503 after a failed write", g.UID, want, failed)
}
func (h *Harness) Spoke(name string) Cluster { return spokeByName(h.P, name) }

func spokeByName(p Provider, name string) Cluster {
	for _, s := range p.Spokes() {
		if s.Name == name {
			return s
		}
	}
	return Cluster{}
}

// grant reads the hub grant and remembers its code for the leak check.
func (h *Harness) grant(ctx context.Context) *skupper.Grant {
	h.T.Helper()
	obj, err := dyn(h.P.Hub()).Resource(skupper.AccessGrantsGVR).Namespace(Namespace).Get(ctx, GrantName, metav1.GetOptions{})
	require.NoError(h.T, err)
	g, err := skupper.ParseGrant(obj)
	require.NoError(h.T, err)
	if g.Code != "" {
		h.codes[g.Code.Reveal()] = true
	}
	return g
}

// RecreateGrant deletes the grant and creates it again with the same spec,
// labels and annotations (a new uid, url and code), waits until it is Ready
// and returns the old object and the new grant.
func (h *Harness) RecreateGrant(ctx context.Context) (*unstructured.Unstructured, *skupper.Grant) {
	h.T.Helper()
	grants := dyn(h.P.Hub()).Resource(skupper.AccessGrantsGVR).Namespace(Namespace)
	old, err := grants.Get(ctx, GrantName, metav1.GetOptions{})
	require.NoError(h.T, err)
	require.NoError(h.T, grants.Delete(ctx, GrantName, metav1.DeleteOptions{}))
	fresh := &unstructured.Unstructured{Object: map[string]any{"apiVersion": old.GetAPIVersion(), "kind": old.GetKind(),
		"metadata": map[string]any{"name": GrantName, "namespace": Namespace, "labels": toAny(old.GetLabels()), "annotations": toAny(old.GetAnnotations())},
		"spec":     old.Object["spec"]}}
	_, err = grants.Create(ctx, fresh, metav1.CreateOptions{})
	require.NoError(h.T, err)
	g := h.WaitGrantReady(ctx)
	require.NotEqual(h.T, old.GetUID(), g.UID, "the re-created grant has a new uid")
	return old, g
}

// WaitGrantReady waits for the grant to be processed and returns it.
func (h *Harness) WaitGrantReady(ctx context.Context) *skupper.Grant {
	h.T.Helper()
	var g *skupper.Grant
	require.Eventually(h.T, func() bool { g = h.grant(ctx); return g.Status == skupper.StatusReady }, h.Timeout, 100*time.Millisecond, "the grant must be processed")
	return g
}

// Object returns a spoke object in the namespace, or nil.
func (h *Harness) Object(ctx context.Context, spoke Cluster, resource, name string) *unstructured.Unstructured {
	gvr := skupper.GroupVersion.WithResource(resource)
	if resource == "secrets" {
		gvr = skupper.SecretsGVR
	}
	o, err := dyn(spoke).Resource(gvr).Namespace(Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return o
}

// WaitLinked waits until each spoke's Links (every Link using the token's
// credentials: one, or one per router group of an HA hub) are Ready.
func (h *Harness) WaitLinked(ctx context.Context, spokes ...Cluster) {
	h.T.Helper()
	for _, s := range spokes {
		if !assert.Eventually(h.T, func() bool { return h.Links(ctx, s).Ready() }, h.Timeout, 100*time.Millisecond, "spoke %s must be linked", s.Name) {
			h.T.Fatalf("spoke %s is not linked: %s", s.Name, h.linkState(ctx, s))
		}
	}
}

// linkState describes a spoke's token and Links as Skupper's status gives
// them (no spec: the token's spec carries the code), for a failure message.
func (h *Harness) linkState(ctx context.Context, s Cluster) string {
	var b strings.Builder
	if tok := h.Object(ctx, s, "accesstokens", TokenName); tok == nil {
		b.WriteString("no AccessToken " + TokenName)
	} else {
		st, _, _ := unstructured.NestedMap(tok.Object, "status")
		fmt.Fprintf(&b, "AccessToken %s (uid %s) status %v", TokenName, tok.GetUID(), st)
	}
	links := h.Links(ctx, s)
	if len(links) == 0 {
		b.WriteString("; no Link uses its credentials")
	}
	for _, l := range links {
		fmt.Fprintf(&b, "; Link %s: %+v", l.Name, l)
	}
	return b.String()
}

// Links returns the token's Links on a spoke.
func (h *Harness) Links(ctx context.Context, spoke Cluster) skupper.LinkSet {
	h.T.Helper()
	list, err := dyn(spoke).Resource(skupper.LinksGVR).Namespace(Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []skupper.Link
	for i := range list.Items {
		if l, err := skupper.ParseLink(&list.Items[i]); err == nil && l.UsesCredentials(TokenName) {
			out = append(out, *l)
		}
	}
	return skupper.NewLinkSet(out...)
}

// Versions fingerprints every AccessToken and Link in the spoke namespaces
// (uid, generation, labels, annotations) and the token's Secret (uid):
// equal snapshots mean vanlink wrote nothing there. Status updates, which
// Skupper makes, do not count; vanlink only ever deletes the Secret.
func (h *Harness) Versions(ctx context.Context) map[string]string {
	h.T.Helper()
	out := map[string]string{}
	for _, s := range h.P.Spokes() {
		for _, gvr := range []schema.GroupVersionResource{skupper.AccessTokensGVR, skupper.LinksGVR, skupper.SecretsGVR} {
			list, err := dyn(s).Resource(gvr).Namespace(Namespace).List(ctx, metav1.ListOptions{})
			require.NoError(h.T, err)
			for _, o := range list.Items {
				key := fmt.Sprintf("%s/%s/%s", s.Name, o.GetKind(), o.GetName())
				if gvr == skupper.SecretsGVR {
					if o.GetName() == TokenName {
						out[key] = string(o.GetUID())
					}
					continue
				}
				out[key] = fmt.Sprintf("%s/%d/%v/%v", o.GetUID(), o.GetGeneration(), o.GetLabels(), o.GetAnnotations())
			}
		}
	}
	return out
}

// Record reads the status record of the last pass.
func (h *Harness) Record(ctx context.Context) *report.Record {
	h.T.Helper()
	rec, err := report.StatusStore{ConfigMaps: kube(h.P.Hub()).CoreV1().ConfigMaps(Namespace), Name: "vanlink-status"}.Read(ctx)
	require.NoError(h.T, err)
	require.NotNil(h.T, rec, "a pass must have recorded its result")
	return rec
}

// States returns the recorded state of each of the provider's spokes
// (clusters a provider has besides, such as ACM's local-cluster, are left out).
func (h *Harness) States(ctx context.Context) map[string]string {
	out := map[string]string{}
	rec := h.Record(ctx)
	for _, s := range h.P.Spokes() {
		if r, ok := rec.Spokes[s.Name]; ok {
			out[s.Name] = string(r.State)
		}
	}
	return out
}

// AssertNoCodeLeak fails when any grant code the scenario saw appears in
// vanlink's output, in Events, in ConfigMaps of the hub namespace, or in any
// ManagedClusterAction, ManagedClusterView or ManifestWork on the hub.
func (h *Harness) AssertNoCodeLeak() {
	h.T.Helper()
	ctx := context.Background()
	if len(h.codes) == 0 {
		return
	}
	var hay bytes.Buffer
	hay.Write(h.output.Bytes())
	hub := h.P.Hub()
	if evs, err := kube(hub).CoreV1().Events(Namespace).List(ctx, metav1.ListOptions{}); err == nil {
		_ = json.NewEncoder(&hay).Encode(evs)
	}
	if cms, err := kube(hub).CoreV1().ConfigMaps(Namespace).List(ctx, metav1.ListOptions{}); err == nil {
		_ = json.NewEncoder(&hay).Encode(cms)
	}
	hay.WriteString(h.transportObjects(ctx))
	for code := range h.codes {
		require.NotContains(h.T, hay.String(), code, "the grant code must appear in no output, event, status record, action, view or ManifestWork")
	}
}

// transportObjects returns, as JSON, every ManagedClusterAction,
// ManagedClusterView and ManifestWork on the hub: the objects a transport
// makes, which may carry the grant code while a push runs.
func (h *Harness) transportObjects(ctx context.Context) string { return h.transportObjectsIn(ctx, "") }

// transportObjectsIn is transportObjects in one hub namespace (a spoke's:
// ACM's actions and views and OCM's works live in the namespace named after
// the cluster), or in all with "".
func (h *Harness) transportObjectsIn(ctx context.Context, namespace string) string {
	var b bytes.Buffer
	for _, gvr := range []schema.GroupVersionResource{acm.ActionsGVR, acm.ViewsGVR, manifestwork.WorksGVR} {
		if list, err := dyn(h.P.Hub()).Resource(gvr).Namespace(namespace).List(ctx, metav1.ListOptions{}); err == nil {
			_ = json.NewEncoder(&b).Encode(list)
		}
	}
	return b.String()
}

// CodeOnHub reports whether a transport object on the hub carries the
// current grant's code (a push under way).
func (h *Harness) CodeOnHub(ctx context.Context) bool { return h.CodeOnHubFor(ctx, "") }

// CodeOnHubFor is CodeOnHub for the objects of one spoke (its hub
// namespace), or of all with "".
func (h *Harness) CodeOnHubFor(ctx context.Context, spoke string) bool {
	g := h.Grant()
	return g != nil && g.Code != "" && strings.Contains(h.transportObjectsIn(ctx, spoke), g.Code.Reveal())
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
