package scenarios

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterclient "open-cluster-management.io/api/client/cluster/clientset/versioned"

	"github.com/vanlink/vanlink/pkg/skupper"
)

// Controller are the scenarios of `vanlink controller` (issue 16): no job
// runs; the controller runs in the background as the chart's ServiceAccount,
// with the chart's controller RBAC.
var Controller = []Scenario{
	{Name: "controller: a late spoke is linked with no job run", Run: ControllerLateSpoke},
	{Name: "controller: a re-created grant re-links only the broken spoke, within seconds", Run: ControllerGrantRecreated},
	{Name: "controller: a spoke that leaves the selection is pruned", Run: ControllerPrune},
	{Name: "controller: the leader killed mid-push; the next leader neither pushes twice nor spends an extra redemption", Run: ControllerLeaderKilled},
}

func init() { All = append(All, Controller...) }

// controllerWithin is how soon the controller must act on a change.
const controllerWithin = 20 * time.Second

// controllerSet turns the chart's controller on (its RBAC: watches) over
// the scenario's hub values.
func controllerSet(set map[string]any) map[string]any {
	out := map[string]any{"controller": map[string]any{"enabled": true}}
	for k, v := range set {
		out[k] = v
	}
	return out
}

// startController runs `vanlink controller` with the CronJob's flags (its
// transport, selection, names), quick leader election and backoff, and
// stops it with SIGTERM when the test ends.
func (h *Harness) startController(ctx context.Context, identity string, extra ...string) *Process {
	h.T.Helper()
	args := []string{"controller"}
	for _, a := range h.jobArgs(false)[1:] {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "policy", "fail-on", "grant-timeout", "fresh":
			continue
		}
		args = append(args, a)
	}
	args = append(args, "--identity="+identity, "--http-address=", "--resync=30s", "--view-interval=2s",
		"--leader-lease-duration=3s", "--leader-renew-deadline=2s", "--leader-retry-period=250ms",
		"--min-backoff=250ms", "--max-backoff=3s", "-v=1")
	args = append(args, extra...)
	p := h.StartProcess(ctx, args...)
	wait := p.Wait
	var r *Run
	p.Wait = func() Run {
		if r == nil {
			rr := wait()
			r = &rr
		}
		return *r
	}
	h.T.Cleanup(func() {
		if p.Cmd.ProcessState == nil {
			_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		}
		if out := p.Wait(); h.T.Failed() {
			h.T.Logf("the whole log of controller %s:\n%s", identity, out.Stderr)
		}
	})
	return p
}

// stopController sends SIGTERM and checks the controller left nothing that
// carries the code on the hub.
func (h *Harness) stopController(p *Process) Run {
	h.T.Helper()
	require.NoError(h.T, p.Cmd.Process.Signal(syscall.SIGTERM))
	r := p.Wait()
	require.Equal(h.T, 0, r.Code, "the controller stops cleanly on SIGTERM")
	assertNoActions(h.T, h)
	h.AssertNoCodeLeak()
	return r
}

func (h *Harness) waitLinkedWithin(ctx context.Context, d time.Duration, spokes ...Cluster) {
	h.T.Helper()
	old := h.Timeout
	h.Timeout = d
	defer func() { h.Timeout = old }()
	h.WaitLinked(ctx, spokes...)
}

// ControllerLateSpoke: the controller links the fleet, then a spoke that
// joins, with no job run and the others untouched.
func ControllerLateSpoke(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	set := controllerSet(nil)
	setup(t, h, set, nil)
	p := h.startController(ctx, "replica-a")
	h.waitLinkedWithin(ctx, controllerWithin, h.P.Spokes()...)
	time.Sleep(2 * time.Second)
	before := h.Versions(ctx)
	used := h.Redeemed()
	north := h.joinSpoke(t, "north", set)
	joined := time.Now()
	h.waitLinkedWithin(ctx, controllerWithin, north)
	t.Logf("north linked %s after its spoke chart was installed", time.Since(joined).Round(time.Millisecond))
	after := h.Versions(ctx)
	for k, v := range before {
		require.Equal(t, v, after[k], "%s must be untouched", k)
	}
	time.Sleep(time.Second)
	h.RequireRedemptions(used+1, "north spent one redemption")
	require.Eventually(t, func() bool { return h.States(ctx)["north"] == "linked" }, controllerWithin, 250*time.Millisecond,
		"the status record shows north linked, as a pass records it")
	h.stopController(p)
}

// ControllerGrantRecreated: west lost its link; the grant is re-created;
// the controller re-links west within seconds and leaves east alone.
func ControllerGrantRecreated(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	setup(t, h, controllerSet(nil), nil)
	p := h.startController(ctx, "replica-a")
	h.waitLinkedWithin(ctx, controllerWithin, h.P.Spokes()...)
	time.Sleep(2 * time.Second)
	before := h.Versions(ctx)

	west := h.Spoke("west")
	require.NoError(t, dyn(west).Resource(skupper.LinksGVR).Namespace(Namespace).Delete(ctx, TokenName, metav1.DeleteOptions{}))
	h.RecreateGrant(ctx)
	recreated := time.Now()
	h.waitLinkedWithin(ctx, controllerWithin, west)
	t.Logf("west re-linked %s after the grant was re-created", time.Since(recreated).Round(time.Millisecond))
	after := h.Versions(ctx)
	for k, v := range before {
		if strings.HasPrefix(k, "east/") {
			require.Equal(t, v, after[k], "%s must be untouched", k)
		}
	}
	require.LessOrEqual(t, h.Redeemed(), int64(1), "only west redeemed the new grant (or the old one, if re-linked before it went)")
	h.stopController(p)
}

// ControllerPrune: with pruning on, west leaves the selection (its
// ManagedCluster, or its credentials Secret, loses the label that selects
// it) and the controller removes its token, Link and Secret.
func ControllerPrune(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	direct := h.transport() == "direct"
	sync := map[string]any{"prune": true}
	if !direct {
		sync["clusterSelector"] = "vanlink.io/interconnect=spoke"
	}
	setup(t, h, controllerSet(map[string]any{"sync": sync}), nil)
	p := h.startController(ctx, "replica-a")
	h.waitLinkedWithin(ctx, controllerWithin, h.P.Spokes()...)
	west := h.Spoke("west")

	if direct {
		secrets := kube(h.P.Hub()).CoreV1().Secrets(metav1.NamespaceAll)
		list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: "vanlink.io/interconnect=spoke"})
		require.NoError(t, err)
		found := false
		for i := range list.Items {
			s := &list.Items[i]
			if string(s.Data["name"]) != "west" {
				continue
			}
			delete(s.Labels, "vanlink.io/interconnect")
			_, err := kube(h.P.Hub()).CoreV1().Secrets(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
			require.NoError(t, err)
			found = true
		}
		require.True(t, found, "west's credentials Secret")
	} else {
		mcs := clusterclient.NewForConfigOrDie(h.P.Hub().Config).ClusterV1().ManagedClusters()
		mc, err := mcs.Get(ctx, "west", metav1.GetOptions{})
		require.NoError(t, err)
		delete(mc.Labels, "vanlink.io/interconnect")
		_, err = mcs.Update(ctx, mc, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	left := time.Now()
	require.Eventually(t, func() bool {
		return h.Object(ctx, west, "accesstokens", TokenName) == nil && len(h.Links(ctx, west)) == 0
	}, controllerWithin, 250*time.Millisecond, "west's token and Link are removed")
	t.Logf("west pruned %s after it left the selection", time.Since(left).Round(time.Millisecond))
	require.True(t, h.Links(ctx, h.Spoke("east")).Ready(), "east keeps its link")
	require.Eventually(t, func() bool { return h.States(ctx)["west"] == "pruned" }, controllerWithin, 250*time.Millisecond)
	h.stopController(p)
}

// ControllerLeaderKilled: two replicas; the leader is killed (SIGKILL: no
// cleanup, no Lease release) while its push to west waits on a paused
// agent. The standby takes over, and west ends linked with one redemption:
// no second push, no extra redemption.
func ControllerLeaderKilled(t *testing.T, h *Harness) {
	ctx := ctxFor(t)
	setup(t, h, controllerSet(nil), nil)
	h.P.PauseAgent("west")
	t.Cleanup(func() { h.P.ResumeAgent("west") })
	a := h.startController(ctx, "replica-a")
	h.waitLinkedWithin(ctx, controllerWithin, h.Spoke("east"))
	b := h.startController(ctx, "replica-b")
	time.Sleep(time.Second) // a's push to west waits on the paused agent
	require.NoError(t, a.Cmd.Process.Kill())
	ra := a.Wait()
	require.Contains(t, ra.Stderr, "replica-a", "a led")
	h.P.ResumeAgent("west")
	h.waitLinkedWithin(ctx, 2*controllerWithin, h.Spoke("west"))
	time.Sleep(3 * time.Second)
	h.RequireRedemptions(2, "one redemption per spoke: the new leader spent none more")
	rb := h.stopController(b)
	require.Contains(t, rb.Stderr, "leading", "b took over")
	require.LessOrEqual(t, strings.Count(ra.Stderr+rb.Stderr, `"cluster":"west"`+`,"action":"push"`)+strings.Count(ra.Stderr+rb.Stderr, "cluster=west action=push"), 1,
		"west was pushed at most once by the two leaders")
}

// transport is the transport the provider's hub values choose.
func (h *Harness) transport() string {
	if s, ok := h.P.HubValues()["sync"].(map[string]any); ok {
		if t, ok := s["transport"].(string); ok {
			return t
		}
	}
	return "acm"
}
