package scenarios

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport/acm"
)

// Scenario is one end-to-end scenario; its name says what it proves.
type Scenario struct {
	Name string
	Run  func(t *testing.T, h *Harness)
	// LocalOnly, when set, says why the scenario runs on the local tier
	// only: it needs a control a real cluster does not give.
	LocalOnly string
}

// All are the scenarios every provider runs.
var All = []Scenario{
	{Name: "cold start links east and west in one pass", Run: ColdStart},
	{Name: "steady state: a second pass writes nothing to any spoke", Run: SteadyState},
	{Name: "a late spoke is linked by the next pass, the others untouched", Run: LateSpokeJoins},
	{Name: "a spoke without a Site stays pending and spends no redemption", Run: SpokeWithoutSite},
	{Name: "a re-created grant leaves working links alone and re-links a broken spoke", Run: GrantRecreated},
	{Name: "an exhausted grant blocks the push with a clear report", Run: GrantExhausted},
	{Name: "an exhausted grant is rotated when rotation is enabled", Run: GrantExhaustedRotated},
	{Name: "a stale token, Link and Secret are cleaned without extra redemptions", Run: StaleLeftovers},
	{Name: "a paused agent hits its deadline while the other spoke links", Run: AgentPaused},
	{Name: "a hub API server restart mid-pass leaves no duplicate and the next pass converges", Run: HubRestartMidPass,
		LocalOnly: "stopping the hub's API server mid-pass needs a hub whose API server stops alone; on kind the pass runs in a pod of the hub itself"},
	{Name: "hook and cron started together push once", Run: HookAndCronTogether},
	{Name: "an invalid grant status pushes nothing and names the field", Run: InvalidGrant,
		LocalOnly: "it writes a broken grant status, which a real Skupper controller may rewrite before the pass reads it"},
	{Name: "status shows a service unreachable once its spoke Connector is removed", Run: ReachabilityFollowsTheSpokeConnector},
}

func ctxFor(t *testing.T) context.Context { return t.Context() }

// setup installs the hub chart (with hubSet) and the spoke chart on every spoke.
func setup(t *testing.T, h *Harness, hubSet map[string]any, spokeSets map[string]map[string]any) *skupper.Grant {
	ctx := ctxFor(t)
	h.InstallHub(ctx, hubSet)
	g := h.WaitGrantReady(ctx)
	for _, s := range h.P.Spokes() {
		h.InstallSpoke(ctx, s, spokeSets[s.Name])
	}
	return g
}

func syncSet(kv map[string]any) map[string]any { return map[string]any{"sync": kv} }

// linkedFleet is the state after a cold start: every spoke linked.
func linkedFleet(t *testing.T, h *Harness, hubSet map[string]any) {
	setup(t, h, hubSet, nil)
	r := h.Hook(ctxFor(t))
	require.Equal(t, 0, r.Code, "the hook must succeed")
	h.WaitLinked(ctxFor(t), h.P.Spokes()...)
	// The next pass sees the links once the transport has observed them.
	h.WaitObserved(ctxFor(t), nil)
}

// ColdStart: one hook run pushes a token to east and west and both link.
func ColdStart(t *testing.T, h *Harness) {
	setup(t, h, nil, nil)
	r := h.Hook(ctxFor(t))
	require.Equal(t, 0, r.Code)
	require.Equal(t, map[string]string{"east": "pushed", "west": "pushed"}, h.States(ctxFor(t)))
	h.WaitLinked(ctxFor(t), h.P.Spokes()...)
	h.RequireRedemptions(2, "one redemption per spoke")
	h.WaitObserved(ctxFor(t), nil)
	st := h.Vanlink(ctxFor(t), append([]string{"status", "--live"}, h.PassFlags("status")...)...)
	require.Equal(t, 0, st.Code, "status --live reports every spoke linked")
}

// SteadyState: with every spoke linked, a CronJob pass writes nothing.
func SteadyState(t *testing.T, h *Harness) {
	linkedFleet(t, h, nil)
	before := h.Versions(ctxFor(t))
	used := h.Redeemed()
	r := h.Cron(ctxFor(t))
	require.Equal(t, 0, r.Code)
	require.Equal(t, map[string]string{"east": "linked", "west": "linked"}, h.States(ctxFor(t)))
	require.Equal(t, before, h.Versions(ctxFor(t)), "no token, Link or Secret on any spoke changed")
	h.RequireRedemptions(used)
	assertNoActions(t, h)
}

// LateSpokeJoins: a spoke registered after the first pass is linked by the next.
func LateSpokeJoins(t *testing.T, h *Harness) {
	linkedFleet(t, h, nil)
	before := h.Versions(ctxFor(t))
	north := h.joinSpoke(t, "north", nil)
	r := h.Cron(ctxFor(t))
	require.Equal(t, 0, r.Code)
	require.Equal(t, "pushed", h.States(ctxFor(t))["north"])
	h.WaitLinked(ctxFor(t), north)
	after := h.Versions(ctxFor(t))
	for k, v := range before {
		require.Equal(t, v, after[k], "%s must be untouched", k)
	}
}

// SpokeWithoutSite: no Site on west: pending, and no redemption spent there.
func SpokeWithoutSite(t *testing.T, h *Harness) {
	setup(t, h, nil, map[string]map[string]any{"west": {"site": map[string]any{"enabled": false}}})
	r := h.Hook(ctxFor(t))
	require.Equal(t, 0, r.Code, "a spoke without Site is pending, not an error")
	rec := h.Record(ctxFor(t))
	require.Equal(t, "pending", string(rec.Spokes["west"].State))
	require.Contains(t, rec.Spokes["west"].Reason, "no Site")
	h.WaitLinked(ctxFor(t), h.Spoke("east"))
	time.Sleep(time.Second)
	h.RequireRedemptions(1, "only east redeemed")
	require.Nil(t, h.Object(ctxFor(t), h.Spoke("west"), "accesstokens", TokenName), "no token pushed to a spoke without Site")
}

// GrantRecreated: the grant is deleted and re-created (new uid, url, code);
// linked spokes stay untouched, a spoke that lost its link is re-linked.
func GrantRecreated(t *testing.T, h *Harness) {
	linkedFleet(t, h, nil)
	ctx := ctxFor(t)
	_, g := h.RecreateGrant(ctx)

	// west's router lost its link.
	west := h.Spoke("west")
	require.NoError(t, dyn(west).Resource(skupper.LinksGVR).Namespace(Namespace).Delete(ctx, TokenName, metav1.DeleteOptions{}))
	h.WaitObserved(ctx, func(c reconcile.Change) bool { return (c.Cluster == "west") != (c.Action == reconcile.InSync) })
	before := h.Versions(ctx)
	r := h.Cron(ctx)
	require.Equal(t, 0, r.Code)
	require.Equal(t, map[string]string{"east": "linked", "west": "pushed"}, h.States(ctx))
	h.WaitLinked(ctx, west)
	after := h.Versions(ctx)
	for k, v := range before {
		if strings.HasPrefix(k, "east/") {
			require.Equal(t, v, after[k], "%s must be untouched", k)
		}
	}
	tok := h.Object(ctx, west, "accesstokens", TokenName)
	require.Equal(t, string(g.UID), tok.GetAnnotations()[skupper.GrantUIDAnnotation], "west was re-linked with the new grant")
	h.RequireRedemptions(1)
}

// exhaust links east and west, lowers the grant's redemptionsAllowed to the
// redemptions spent, then adds north. The grant is not made with exactly 2:
// Skupper's grant server increments the count on the cached grant that
// concurrent redemptions share, so when east and west redeem at the same
// moment one can be answered 503 and still leave its count behind, and the
// spoke's retry then finds the grant used up.
// upstream: skupperproject/skupper internal/kube/grants/grants.go
// Grants.checkAndUpdateAccessToken (grant.Status.Redemptions += 1 on the
// pointer get returns), Grants.get, Grants.record
func exhaust(t *testing.T, h *Harness, rotate bool) {
	hubSet := map[string]any{}
	if rotate {
		hubSet["sync"] = map[string]any{"rotation": map[string]any{"enabled": true}}
	}
	linkedFleet(t, h, hubSet)
	used := h.Grant().Redemptions
	require.GreaterOrEqual(t, used, int64(2), "east and west redeemed")
	hubSet["grant"] = map[string]any{"redemptionsAllowed": used}
	h.joinSpoke(t, "north", hubSet)
	g := h.Grant()
	require.Equal(t, g.RedemptionsAllowed, g.Redemptions, "no redemption left")
}

// joinSpoke adds a spoke as a user would: a new cluster, its name added to
// catalog.spokes in Git (so the hub gets its Listeners on upgrade), and the
// spoke chart installed on it.
func (h *Harness) joinSpoke(t *testing.T, name string, hubSet map[string]any) Cluster {
	ctx := ctxFor(t)
	c, err := h.P.AddSpoke(ctx, name)
	require.NoError(t, err)
	cat := h.catalogWith(name)
	set := map[string]any{"catalog": cat}
	for k, v := range hubSet {
		set[k] = v
	}
	h.InstallHub(ctx, set)
	h.InstallSpoke(ctx, c, map[string]any{"catalog": cat})
	return c
}

// GrantExhausted: no redemption left and no rotation: north is blocked with a
// clear report, nothing that would fail is pushed, and the run fails.
func GrantExhausted(t *testing.T, h *Harness) {
	exhaust(t, h, false)
	r := h.Cron(ctxFor(t))
	require.Equal(t, 1, r.Code, "a blocked spoke is a real error under --fail-on=error")
	rec := h.Record(ctxFor(t))
	require.Equal(t, "blocked", string(rec.Spokes["north"].State))
	require.Contains(t, rec.Spokes["north"].Reason, "grant exhausted: 0 redemption(s) left")
	require.Contains(t, r.Stdout, "grant exhausted")
	require.Nil(t, h.Object(ctxFor(t), h.Spoke("north"), "accesstokens", TokenName), "no token that would fail")
	requireEvent(t, h, "GrantExhausted")
}

// GrantExhaustedRotated: with rotation the grant is re-created and north linked.
func GrantExhaustedRotated(t *testing.T, h *Harness) {
	exhaust(t, h, true)
	old := h.Grant().UID
	r := h.Cron(ctxFor(t))
	require.Equal(t, 0, r.Code)
	g := h.Grant()
	require.NotEqual(t, old, g.UID, "the grant was rotated")
	require.Equal(t, "pushed", h.States(ctxFor(t))["north"])
	h.WaitLinked(ctxFor(t), h.Spoke("north"))
	require.Equal(t, map[string]string{"east": "linked", "west": "linked", "north": "pushed"}, h.States(ctxFor(t)),
		"spokes linked with the old grant are untouched")
	requireEvent(t, h, "GrantRotated")
}

// StaleLeftovers: west carries a failed token, a broken Link and a Secret
// named hub-link; the pass removes them first, so one redemption links it.
func StaleLeftovers(t *testing.T, h *Harness) {
	g := setup(t, h, nil, nil)
	ctx := ctxFor(t)
	west := h.Spoke("west")
	d := dyn(west)
	_, err := kube(west).CoreV1().Secrets(Namespace).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: TokenName},
		Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("old"), "tls.key": []byte("old")}}, metav1.CreateOptions{})
	require.NoError(t, err)
	link, err := d.Resource(skupper.LinksGVR).Namespace(Namespace).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "skupper.io/v2alpha1", "kind": "Link", "metadata": map[string]any{"name": TokenName},
		"spec": map[string]any{"endpoints": []any{map[string]any{"name": "inter-router", "host": "10.0.0.1", "port": "55671"}}, "tlsCredentials": TokenName}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	link.Object["status"] = map[string]any{"status": "Error", "message": "connection refused"}
	_, err = d.Resource(skupper.LinksGVR).Namespace(Namespace).UpdateStatus(ctx, link, metav1.UpdateOptions{})
	require.NoError(t, err)
	url := g.URL[:strings.LastIndex(g.URL, "/")] + "/an-old-grant"
	_, err = d.Resource(skupper.AccessTokensGVR).Namespace(Namespace).Create(ctx, &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "skupper.io/v2alpha1", "kind": "AccessToken", "metadata": map[string]any{"name": TokenName},
		"spec": map[string]any{"url": url, "code": "old-code", "ca": g.CA}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	// The spoke controller tries the stale token: 404 from the hub.
	require.Eventually(t, func() bool {
		tok := h.Object(ctx, west, "accesstokens", TokenName)
		s, _, _ := unstructured.NestedString(tok.Object, "status", "status")
		return s == "Error"
	}, h.Timeout, 100*time.Millisecond)
	time.Sleep(time.Second)

	r := h.Hook(ctx)
	require.Equal(t, 0, r.Code)
	require.Equal(t, "pushed", h.States(ctx)["west"])
	h.WaitLinked(ctx, h.P.Spokes()...)
	h.RequireRedemptions(2, "exactly one redemption per spoke: the leftovers burnt none")
	tok := h.Object(ctx, west, "accesstokens", TokenName)
	require.Equal(t, string(g.UID), tok.GetAnnotations()[skupper.GrantUIDAnnotation])
}

// AgentPaused: west becomes unreachable (its agent stops answering, or its
// API server stops for the direct transport): west is reported, within its
// deadline, as not observed; east links; the exit code follows --fail-on.
func AgentPaused(t *testing.T, h *Harness) {
	setup(t, h, syncSet(map[string]any{"spokeTimeout": "3s"}), nil)
	ctx := ctxFor(t)
	h.P.PauseAgent("west")
	r := h.Hook(ctx)
	require.Equal(t, 0, r.Code, "an unreachable spoke is not an error under --fail-on=error")
	rec := h.Record(ctx)
	require.Equal(t, "pushed", string(rec.Spokes["east"].State))
	require.Equal(t, "pending", string(rec.Spokes["west"].State))
	require.Contains(t, rec.Spokes["west"].Reason, "not observed")
	h.WaitLinked(ctx, h.Spoke("east"))

	r = h.Vanlink(ctx, append(h.jobArgs(false), "--fail-on", "pending")...)
	require.Equal(t, 1, r.Code, "with --fail-on=pending an unreachable spoke fails the run")

	h.P.ResumeAgent("west")
	time.Sleep(time.Second)
	require.Equal(t, 0, h.Cron(ctx).Code)
	h.WaitLinked(ctx, h.Spoke("west"))
}

// HubRestartMidPass: the hub API server goes away while a pass is pushing;
// no spoke ends up with a duplicate token and the next pass converges.
func HubRestartMidPass(t *testing.T, h *Harness) {
	setup(t, h, syncSet(map[string]any{"spokeTimeout": "10s"}), nil)
	ctx := ctxFor(t)
	hubDyn := dyn(h.P.Hub())
	wait := h.Start(ctx, h.jobArgs(true)...)
	// Stop the hub as soon as the pass pushes: an action on the hub (ACM) or a
	// token on a spoke (direct).
	require.Eventually(t, func() bool {
		if l, err := hubDyn.Resource(acm.ActionsGVR).List(ctx, metav1.ListOptions{}); err == nil && len(l.Items) > 0 {
			return true
		}
		for _, s := range h.P.Spokes() {
			if h.Object(ctx, s, "accesstokens", TokenName) != nil {
				return true
			}
		}
		return false
	}, h.Timeout, 5*time.Millisecond, "the pass must start pushing")
	require.NoError(t, h.P.StopHub(ctx))
	time.Sleep(2 * time.Second)
	require.NoError(t, h.P.StartHub(ctx))
	r := wait()
	t.Logf("the interrupted pass exited %d", r.Code)

	time.Sleep(time.Second)
	next := h.Cron(ctx)
	require.Equal(t, 0, next.Code, "the next pass runs cleanly")
	h.WaitLinked(ctx, h.P.Spokes()...)
	for _, s := range h.P.Spokes() {
		list, err := dyn(s).Resource(skupper.AccessTokensGVR).Namespace(Namespace).List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		require.Len(t, list.Items, 1, "%s holds exactly one token", s.Name)
	}
	// The grant's count may exceed the pushes: while the hub API server is
	// down the grant server increments its cached copy of the grant before
	// each write and keeps the increment when the write fails, so a spoke
	// retrying then inflates it (upstream: skupperproject/skupper
	// internal/kube/grants/grants.go, Grants.checkAndUpdateAccessToken).
	// What vanlink controls is its pushes: at most one per spoke and pass
	// (a token the grant server failed while the hub was down may be
	// replaced by the next pass: that spends no redemption of its own).
	attempted := regexp.MustCompile(`(?m)^\S+\s+push\s+(pushed|failed)\s`)
	require.LessOrEqual(t, len(attempted.FindAllString(r.Stdout, -1)), len(h.P.Spokes()), "the interrupted pass pushed each spoke at most once")
	require.LessOrEqual(t, len(attempted.FindAllString(next.Stdout, -1)), len(h.P.Spokes()), "the next pass pushed each spoke at most once")
	h.WaitObserved(ctx, nil)
	require.Equal(t, 0, h.Cron(ctx).Code)
	require.Equal(t, map[string]string{"east": "linked", "west": "linked"}, h.States(ctx), "the fleet converged")
}

// HookAndCronTogether: the hook and a CronJob run start at once; the lease
// makes one push and the other wait (or exit cleanly): one token each.
func HookAndCronTogether(t *testing.T, h *Harness) {
	setup(t, h, nil, nil)
	ctx := ctxFor(t)
	hook := h.Start(ctx, h.jobArgs(true)...)
	cron := h.Start(ctx, h.jobArgs(false)...)
	rh, rc := hook(), cron()
	require.Equal(t, 0, rh.Code)
	require.Equal(t, 0, rc.Code)
	pushed := len(pushedRow.FindAllString(rh.Stdout, -1)) + len(pushedRow.FindAllString(rc.Stdout, -1))
	require.Equal(t, 2, pushed, "two pushes in all, one per spoke")
	h.WaitLinked(ctx, h.P.Spokes()...)
	h.RequireRedemptions(2)
}

// InvalidGrant: a grant with an http url or a garbage CA is refused, nothing
// is pushed, and the error names the field.
func InvalidGrant(t *testing.T, h *Harness) {
	setup(t, h, syncSet(map[string]any{"hook": map[string]any{"grantTimeout": "2s"}}), nil)
	ctx := ctxFor(t)
	// The controller rewrites url and ca on its next look at the grant
	// (upstream: skupperproject/skupper internal/kube/grants/grants.go,
	// Grants.checkGrant): a broken status lasts only while it is down.
	pauser, ok := h.P.(HubControllerPauser)
	if !ok {
		t.Skip("the provider cannot stop the hub's Skupper controller")
	}
	pauser.PauseHubController(true)
	defer pauser.PauseHubController(false)
	grants := dyn(h.P.Hub()).Resource(skupper.AccessGrantsGVR).Namespace(Namespace)
	for field, bad := range map[string]any{"status.url": "http://127.0.0.1:9090/x", "status.ca": "not a certificate"} {
		g, err := grants.Get(ctx, GrantName, metav1.GetOptions{})
		require.NoError(t, err)
		good, _, _ := unstructured.NestedString(g.Object, strings.Split(field, ".")...)
		require.NoError(t, unstructured.SetNestedField(g.Object, bad, strings.Split(field, ".")...))
		_, err = grants.UpdateStatus(ctx, g, metav1.UpdateOptions{})
		require.NoError(t, err)
		r := h.Hook(ctx)
		require.Equal(t, 1, r.Code, "an unusable grant fails the hook")
		require.Contains(t, r.Stderr, field, "the error names the field")
		for _, s := range h.P.Spokes() {
			require.Nil(t, h.Object(ctx, s, "accesstokens", TokenName), "nothing pushed to %s", s.Name)
		}
		g, err = grants.Get(ctx, GrantName, metav1.GetOptions{})
		require.NoError(t, err)
		require.NoError(t, unstructured.SetNestedField(g.Object, good, strings.Split(field, ".")...))
		_, err = grants.UpdateStatus(ctx, g, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	h.grant(ctx)
}

// pushedRow matches a spoke row of the sync table whose outcome is pushed.
var pushedRow = regexp.MustCompile(`(?m)^\S+\s+push\s+pushed\s`)

func assertNoActions(t *testing.T, h *Harness) {
	l, err := dyn(h.P.Hub()).Resource(acm.ActionsGVR).List(ctxFor(t), metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return // a hub without ACM (kind) has no actions at all
	}
	require.NoError(t, err)
	require.Empty(t, l.Items, "no ManagedClusterAction (they carry the code) is left on the hub")
}

func requireEvent(t *testing.T, h *Harness, reason string) {
	evs, err := kube(h.P.Hub()).CoreV1().Events(Namespace).List(ctxFor(t), metav1.ListOptions{})
	require.NoError(t, err)
	var seen []string
	for _, e := range evs.Items {
		if e.Reason == reason && e.InvolvedObject.Kind == "AccessGrant" {
			return
		}
		seen = append(seen, e.Reason)
	}
	t.Fatalf("no %s event on the AccessGrant; events: %s", reason, fmt.Sprint(seen))
}

func toAny(m map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
