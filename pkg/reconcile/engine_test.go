package reconcile

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

const code = "grant-c0de-must-never-leak"

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// spoke is the in-memory state of one fake spoke.
type spoke struct {
	site   bool
	token  *skupper.Token
	code   string
	link   *skupper.Link
	secret bool
	// failures
	pushErr   error
	observeNA bool
	// links are more Links of the token (an HA hub makes one per router group).
	links []skupper.Link
	// siteReady marks the Site Ready (default: Ready when present).
	siteNotReady bool
}

// linkSet observes the spoke's Links.
func (s *spoke) linkSet() transport.Observed[skupper.LinkSet] {
	var all []skupper.Link
	if s.link != nil {
		all = append(all, *s.link)
	}
	all = append(all, s.links...)
	if len(all) == 0 {
		return transport.Observed[skupper.LinkSet]{State: transport.Absent}
	}
	set := skupper.NewLinkSet(all...)
	return transport.Observed[skupper.LinkSet]{State: transport.Present, Object: &set}
}

func (s *spoke) observe(n string, withToken bool) *transport.Observation {
	o := &transport.Observation{Cluster: n, Fresh: true, Credentials: transport.Absent}
	if s.secret {
		o.Credentials = transport.Present
	}
	o.Site.State = transport.Absent
	if s.site {
		status := skupper.StatusReady
		if s.siteNotReady {
			status = skupper.StatusPending
		}
		o.Site = transport.Observed[skupper.Site]{State: transport.Present, Object: &skupper.Site{Name: n, Status: status}}
	}
	o.Links = s.linkSet()
	if withToken {
		tok := observedCopy(s.token)
		o.Token = &tok
	}
	return o
}

// fakeTransport is a stateful transport over in-memory spokes.
type fakeTransport struct {
	mu     sync.Mutex
	spokes map[string]*spoke
	known  []string
	writes atomic.Int64
	active atomic.Int64
	// opened records the options of every session opened.
	opened  []transport.SessionOptions
	maxSeen atomic.Int64
	delay   time.Duration
	// holdPush, when set, runs at the start of each push.
	holdPush func()
	// pushHangs names a spoke whose push waits for its context to end.
	pushHangs string
	// holdObserve, when set, runs before each spoke is observed.
	holdObserve func(ctx context.Context, cluster string) error
	// queries are the queries observed, in order.
	queries []transport.Query
}

var (
	_ transport.Transport = (*fakeTransport)(nil)
	_ transport.Session   = (*fakeTransport)(nil)
	_ transport.Pruner    = (*fakeTransport)(nil)
)

func newFake(spokes map[string]*spoke) *fakeTransport {
	f := &fakeTransport{spokes: spokes}
	for n := range spokes {
		f.known = append(f.known, n)
	}
	sort.Strings(f.known)
	return f
}

func (f *fakeTransport) Prepare(context.Context) error { return nil }

func (f *fakeTransport) Finish(context.Context) error { return nil }

func (f *fakeTransport) Open(_ context.Context, o transport.SessionOptions) (transport.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened = append(f.opened, o)
	return f, nil
}

// Observe emits decision-ready observations, as a session must: fresh,
// with the token when the Links are not Ready.
func (f *fakeTransport) Observe(ctx context.Context, q transport.Query, emit func(*transport.Observation)) error {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	for _, n := range q.Spokes {
		if f.holdObserve != nil {
			if err := f.holdObserve(ctx, n); err != nil {
				return err
			}
		}
		f.mu.Lock()
		s := f.spokes[n]
		var o *transport.Observation
		switch {
		case s == nil || s.observeNA:
			o = &transport.Observation{Cluster: n, Credentials: transport.Unknown,
				Site:  transport.Observed[skupper.Site]{State: transport.Unknown, Reason: "agent never answered"},
				Links: transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: "agent never answered"}}
		default:
			links := s.linkSet()
			o = s.observe(n, s.site && !(links.State == transport.Present && links.Object.Ready()))
		}
		f.mu.Unlock()
		emit(o)
	}
	return nil
}

func (f *fakeTransport) Apply(ctx context.Context, n string, op transport.Op) error {
	if err := f.remove(n, op.Remove); err != nil {
		return err
	}
	if op.Push == nil {
		return nil
	}
	return f.push(ctx, n, op.Push.Reveal())
}

func (f *fakeTransport) Close(context.Context) error { return nil }

// observedCopy observes a copy of v, or an absent object when v is nil.
func observedCopy[T any](v *T) transport.Observed[T] {
	if v == nil {
		return transport.Observed[T]{State: transport.Absent}
	}
	c := *v
	return transport.Observed[T]{State: transport.Present, Object: &c}
}

func (f *fakeTransport) push(ctx context.Context, n string, tok *unstructured.Unstructured) error {
	if f.holdPush != nil {
		f.holdPush()
	}
	if f.pushHangs == n {
		<-ctx.Done()
		return ctx.Err()
	}
	cur := f.active.Add(1)
	defer f.active.Add(-1)
	for {
		m := f.maxSeen.Load()
		if cur <= m || f.maxSeen.CompareAndSwap(m, cur) {
			break
		}
	}
	if f.delay > 0 {
		time.Sleep(f.delay)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.spokes[n]
	if s.pushErr != nil {
		return s.pushErr
	}
	if s.token != nil {
		return transport.ErrAlreadyExists
	}
	f.writes.Add(1)
	t, err := skupper.ParseToken(tok)
	if err != nil {
		return err
	}
	s.token = t
	s.code, _, _ = unstructured.NestedString(tok.Object, "spec", "code")
	return nil
}

func (f *fakeTransport) remove(n string, what transport.RemoveOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.spokes[n]
	if what.Token && s.token != nil {
		s.token = nil
		f.writes.Add(1)
	}
	if what.Link && (s.link != nil || len(s.links) > 0) {
		s.link, s.links = nil, nil
		f.writes.Add(1)
	}
	if what.Secret && s.secret {
		s.secret = false
		f.writes.Add(1)
	}
	return nil
}

func (f *fakeTransport) Known(context.Context) ([]string, error) { return f.known, nil }
func (f *fakeTransport) Forget(_ context.Context, n string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, k := range f.known {
		if k == n {
			f.known = append(f.known[:i], f.known[i+1:]...)
		}
	}
	return nil
}

// redeem plays the spoke's Skupper controller: the token becomes a Ready Link.
func (f *fakeTransport) redeem(n string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.spokes[n]
	s.token.Redeemed = true
	s.link = &skupper.Link{Name: "hub-link", Status: "Ready"}
	s.secret = true
}

type staticFleet fleet.Selection

func (s staticFleet) Select(context.Context) (fleet.Selection, error) { return fleet.Selection(s), nil }

func selection(names ...string) staticFleet {
	var sel fleet.Selection
	for _, n := range names {
		sel.Clusters = append(sel.Clusters, fleet.Cluster{Name: n})
	}
	return staticFleet(sel)
}

func caPEM(t testing.TB) string {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// grantHub is a fake hub holding the AccessGrant; a create plays the Skupper
// controller and fills the status with a new uid and code.
type grantHub struct {
	client *dynamicfake.FakeDynamicClient
	gen    atomic.Int64
}

func newGrantHub(t *testing.T, allowed, used int64, expires time.Time, mods ...func(status map[string]any)) *grantHub {
	ca := caPEM(t)
	h := &grantHub{}
	status := func(uid string) map[string]any {
		return map[string]any{"status": "Ready", "message": "OK", "url": "https://grants.hub:9090/" + uid, "code": code,
			"ca": ca, "redemptions": used, "expirationTime": expires.Format(time.RFC3339)}
	}
	g := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "skupper.io/v2alpha1", "kind": "AccessGrant",
		"metadata": map[string]any{"name": "spoke-link", "namespace": "service-interconnect", "uid": "grant-1",
			"labels": map[string]any{"app.kubernetes.io/managed-by": "Helm"}},
		"spec":   map[string]any{"redemptionsAllowed": allowed, "expirationWindow": "720h"},
		"status": status("grant-1"),
	}}
	for _, m := range mods {
		m(g.Object["status"].(map[string]any))
	}
	h.client = dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), g)
	h.client.PrependReactor("create", "accessgrants", func(a clienttesting.Action) (bool, runtime.Object, error) {
		u := a.(clienttesting.CreateAction).GetObject().(*unstructured.Unstructured)
		uid := fmt.Sprintf("grant-%d", h.gen.Add(1)+1)
		u.SetUID(types.UID(uid))
		st := status(uid)
		st["redemptions"] = int64(0)
		st["expirationTime"] = now.Add(720 * time.Hour).Format(time.RFC3339)
		u.Object["status"] = st
		return false, nil, nil
	})
	return h
}

func (h *grantHub) grants() GrantClient {
	return h.client.Resource(skupper.AccessGrantsGVR).Namespace("service-interconnect")
}

type harness struct {
	engine *Engine
	tr     *fakeTransport
	logs   *bytes.Buffer
}

func newHarness(t *testing.T, h *grantHub, tr *fakeTransport, sel fleet.Source, mod func(*Options)) *harness {
	logs := &bytes.Buffer{}
	opts := Options{GrantNamespace: "service-interconnect", GrantName: "spoke-link", TokenName: "hub-link", SpokeNamespace: "service-interconnect",
		Concurrency: 4, SpokeTimeout: 5 * time.Second, ExpiryMargin: 72 * time.Hour, RotationTimeout: 5 * time.Second}
	if mod != nil {
		mod(&opts)
	}
	return &harness{tr: tr, logs: logs, engine: &Engine{Grants: h.grants(), Fleet: sel, Transport: tr,
		Clock: clocktesting.NewFakePassiveClock(now), Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Opts: opts}}
}

func (h *harness) run(t *testing.T) *Result {
	t.Helper()
	res, err := h.engine.Run(t.Context())
	require.NoError(t, err)
	data, _ := json.Marshal(res)
	require.NotContains(t, string(data), code, "the result never carries the code")
	require.NotContains(t, h.logs.String(), code, "the logs never carry the code")
	return res
}

func outcomes(r *Result) map[string]Outcome {
	m := map[string]Outcome{}
	for _, c := range r.Changes {
		m[c.Cluster] = c.Outcome
	}
	return m
}

func TestColdStartThenSteadyState(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": {site: true, secret: true}, "west": {site: true}})
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("east", "west"), nil)

	res := h.run(t)
	require.Equal(t, map[string]Outcome{"east": OutcomePushed, "west": OutcomePushed}, outcomes(res))
	require.Equal(t, code, tr.spokes["east"].code, "the pushed token carries the grant code")
	require.EqualValues(t, "grant-1", tr.spokes["east"].token.GrantUID)
	require.False(t, tr.spokes["east"].secret, "a leftover Secret is removed before the push")

	res = h.run(t)
	require.Equal(t, map[string]Outcome{"east": OutcomePending, "west": OutcomePending}, outcomes(res), "tokens being redeemed are pending")

	tr.redeem("east")
	tr.redeem("west")
	before := tr.writes.Load()
	res = h.run(t)
	require.Equal(t, map[string]Outcome{"east": OutcomeLinked, "west": OutcomeLinked}, outcomes(res))
	require.True(t, res.AllLinked())
	require.Equal(t, before, tr.writes.Load(), "a pass with nothing changed writes nothing to any spoke")
}

func TestOneSpokeFailureNeverBlocksAnother(t *testing.T) {
	tr := newFake(map[string]*spoke{
		"east":  {site: true, pushErr: fmt.Errorf("cluster east: create AccessToken hub-link: %w", transport.ErrAgentTimeout)},
		"west":  {site: true},
		"north": {observeNA: true},
	})
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("east", "west", "north"), nil)
	res := h.run(t)
	require.Equal(t, map[string]Outcome{"east": OutcomeFailed, "west": OutcomePushed, "north": OutcomePending}, outcomes(res))
	for _, c := range res.Changes {
		if c.Cluster == "east" {
			require.Contains(t, c.Error, "did not answer")
		}
	}
	require.True(t, FailOnError.Failed(res), "a failed push is a real error")
	require.False(t, FailOnNever.Failed(res))

	tr.spokes["east"].pushErr = nil
	res = h.run(t)
	require.False(t, FailOnError.Failed(res), "pending spokes are not errors")
	require.True(t, FailOnPending.Failed(res))
}

func TestGrantBudget(t *testing.T) {
	many := map[string]*spoke{}
	var names []string
	for i := range 5 {
		n := fmt.Sprintf("spoke-%d", i)
		many[n], names = &spoke{site: true}, append(names, n)
	}
	tests := map[string]struct {
		allowed, used int64
		expires       time.Time
		rotate        bool
		wantPushed    int
		wantBlocked   int
		wantRotated   bool
		wantWarning   string
	}{
		"enough redemptions: every spoke is pushed": {allowed: 10, used: 0, expires: now.Add(720 * time.Hour), wantPushed: 5},
		"exhausted without rotation: the first spokes are served, the rest blocked with the reason": {
			allowed: 10, used: 8, expires: now.Add(720 * time.Hour), wantPushed: 2, wantBlocked: 3, wantWarning: "grant exhausted"},
		"exhausted with rotation: the grant is re-created and every spoke pushed": {
			allowed: 10, used: 8, expires: now.Add(720 * time.Hour), rotate: true, wantPushed: 5, wantRotated: true},
		"expired without rotation: nothing is pushed":            {allowed: 10, used: 0, expires: now.Add(-time.Hour), wantBlocked: 5, wantWarning: "grant expired"},
		"expiring soon without rotation: pushed, with a warning": {allowed: 10, used: 0, expires: now.Add(time.Hour), wantPushed: 5, wantWarning: "grant expiring"},
		"expiring soon with rotation: rotated first":             {allowed: 10, used: 0, expires: now.Add(time.Hour), rotate: true, wantPushed: 5, wantRotated: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spokes := map[string]*spoke{}
			for n := range many {
				spokes[n] = &spoke{site: true}
			}
			tr := newFake(spokes)
			gh := newGrantHub(t, tc.allowed, tc.used, tc.expires)
			h := newHarness(t, gh, tr, selection(names...), func(o *Options) { o.Rotate = tc.rotate })
			res := h.run(t)
			c := res.Counts()
			require.Equal(t, tc.wantPushed, c[OutcomePushed])
			require.Equal(t, tc.wantBlocked, c[OutcomeBlocked])
			require.Equal(t, tc.wantRotated, res.Grant.Rotated)
			if tc.wantRotated {
				require.NotEqual(t, res.Grant.PreviousUID, res.Grant.UID)
				require.EqualValues(t, res.Grant.UID, tr.spokes["spoke-0"].token.GrantUID, "pushed with the new grant")
				g, err := gh.grants().Get(t.Context(), "spoke-link", metav1.GetOptions{})
				require.NoError(t, err)
				require.Equal(t, "Helm", g.GetLabels()["app.kubernetes.io/managed-by"], "the re-created grant keeps its owner's labels")
			}
			if tc.wantWarning != "" {
				require.Contains(t, fmt.Sprint(res.Warnings), tc.wantWarning)
			}
			for _, ch := range res.Changes {
				if ch.Outcome == OutcomeBlocked {
					require.Contains(t, ch.Reason, "grant ")
				}
			}
			if tc.wantBlocked > 0 {
				require.True(t, FailOnError.Failed(res), "blocked spokes need attention")
			}
		})
	}
	t.Run("tokens still being redeemed count against the budget", func(t *testing.T) {
		tr := newFake(map[string]*spoke{"east": {site: true, token: &skupper.Token{Name: "hub-link", GrantUID: "grant-1"}}, "west": {site: true}})
		h := newHarness(t, newGrantHub(t, 2, 1, now.Add(720*time.Hour)), tr, selection("east", "west"), nil)
		res := h.run(t)
		require.Equal(t, map[string]Outcome{"east": OutcomePending, "west": OutcomeBlocked}, outcomes(res))
		require.Equal(t, 1, res.Budget.InFlight)
	})
}

func TestInvalidGrantPushesNothing(t *testing.T) {
	tests := map[string]struct {
		mod       func(map[string]any)
		wantField string
	}{
		"an http url":          {func(s map[string]any) { s["url"] = "http://grants.hub:9090/grant-1" }, "status.url"},
		"a garbage CA":         {func(s map[string]any) { s["ca"] = "-----BEGIN CERTIFICATE-----\nnope\n" }, "status.ca"},
		"a grant not Ready":    {func(s map[string]any) { s["status"] = "Pending" }, "status.status"},
		"a grant without code": {func(s map[string]any) { s["code"] = "" }, "status.code"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tr := newFake(map[string]*spoke{"east": {site: true}})
			h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour), tc.mod), tr, selection("east"), nil)
			res, err := h.engine.Run(t.Context())
			var inv *skupper.InvalidGrantError
			require.ErrorAs(t, err, &inv)
			require.Equal(t, tc.wantField, inv.Err.Field)
			require.Equal(t, err.Error(), res.Error)
			require.Zero(t, tr.writes.Load(), "nothing pushed with an invalid grant")
			require.NotContains(t, err.Error(), code)
		})
	}
	t.Run("a missing grant", func(t *testing.T) {
		gh := newGrantHub(t, 10, 0, now)
		require.NoError(t, gh.grants().Delete(t.Context(), "spoke-link", metav1.DeleteOptions{}))
		_, err := newHarness(t, gh, newFake(nil), selection(), nil).engine.Run(t.Context())
		require.ErrorIs(t, err, ErrGrantNotFound)
	})
}

func TestDryRunWritesNothing(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": {site: true}, "west": {site: true, link: &skupper.Link{Status: "Ready"}}})
	h := newHarness(t, newGrantHub(t, 10, 10, now.Add(720*time.Hour)), tr, selection("east", "west"), func(o *Options) { o.DryRun, o.Rotate = true, true })
	res := h.run(t)
	require.Equal(t, map[string]Outcome{"east": OutcomePlanned, "west": OutcomeLinked}, outcomes(res))
	require.Zero(t, tr.writes.Load())
	require.Contains(t, fmt.Sprint(res.Warnings), "would be rotated")
}

func TestPrune(t *testing.T) {
	for _, prune := range []bool{false, true} {
		t.Run(fmt.Sprintf("prune=%v", prune), func(t *testing.T) {
			tr := newFake(map[string]*spoke{"east": {site: true, link: &skupper.Link{Status: "Ready"}}, "gone": {site: true, token: &skupper.Token{}, link: &skupper.Link{Status: "Ready"}}})
			h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("east"), func(o *Options) { o.Prune = prune })
			res := h.run(t)
			if prune {
				require.Equal(t, OutcomePruned, outcomes(res)["gone"])
				require.Nil(t, tr.spokes["gone"].token)
				require.NotContains(t, tr.known, "gone")
			} else {
				require.Equal(t, OutcomeSkipped, outcomes(res)["gone"])
				require.NotNil(t, tr.spokes["gone"].token, "nothing removed without --prune")
			}
		})
	}
}

func TestConcurrencyIsBounded(t *testing.T) {
	spokes := map[string]*spoke{}
	var names []string
	for i := range 20 {
		n := fmt.Sprintf("s%02d", i)
		spokes[n], names = &spoke{site: true}, append(names, n)
	}
	tr := newFake(spokes)
	tr.delay = 20 * time.Millisecond
	h := newHarness(t, newGrantHub(t, 100, 0, now.Add(720*time.Hour)), tr, selection(names...), func(o *Options) { o.Concurrency = 3 })
	res := h.run(t)
	require.Equal(t, 20, res.Counts()[OutcomePushed])
	require.LessOrEqual(t, tr.maxSeen.Load(), int64(3), "at most Concurrency spokes at once")
	require.Equal(t, int64(3), tr.maxSeen.Load(), "and the bound is used")
}

type failingLock struct{}

func (failingLock) Acquire(context.Context) (func(), error) {
	return nil, errors.New(`another pass holds Lease service-interconnect/vanlink-sync (holder "hook-abc")`)
}

func TestAPassThatCannotTakeTheLeaseDoesNothing(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": {site: true}})
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("east"), nil)
	h.engine.Lock = failingLock{}
	_, err := h.engine.Run(t.Context())
	require.ErrorContains(t, err, "another pass holds")
	require.Zero(t, tr.writes.Load())
}

func TestPushesBeginWhileTheFleetIsStillObserved(t *testing.T) {
	tr := newFake(map[string]*spoke{"a": {site: true}, "b": {site: true}, "c": {site: true}})
	// "c" is observed only once "a" holds its token: a pass that waited for
	// the whole fleet before pushing would never get there.
	tr.holdObserve = holdUntilPushed(tr, "c", "a", nil)
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("a", "b", "c"), nil)
	res := h.run(t)
	require.Equal(t, map[string]Outcome{"a": OutcomePushed, "b": OutcomePushed, "c": OutcomePushed}, outcomes(res))
	require.Equal(t, 3, res.Budget.Pushes, "the budget reports the pushes of a streamed pass")
}

func TestAGrantThatCannotCoverTheFleetIsCheckedBeforeAnyPush(t *testing.T) {
	spokes := map[string]*spoke{}
	var names []string
	for i := range 5 {
		n := fmt.Sprintf("spoke-%d", i)
		spokes[n], names = &spoke{site: true}, append(names, n)
	}
	tr := newFake(spokes)
	var writesWhileObserving atomic.Int64
	tr.holdObserve = func(context.Context, string) error {
		writesWhileObserving.Add(tr.writes.Load())
		return nil
	}
	// 3 redemptions left for 5 spokes: which spokes get one is decided on the
	// whole fleet's plan, so nothing is pushed while it is observed.
	h := newHarness(t, newGrantHub(t, 10, 7, now.Add(720*time.Hour)), tr, selection(names...), nil)
	res := h.run(t)
	require.Zero(t, writesWhileObserving.Load())
	c := res.Counts()
	require.Equal(t, 3, c[OutcomePushed])
	require.Equal(t, 2, c[OutcomeBlocked])
	require.Equal(t, map[string]Outcome{"spoke-0": OutcomePushed, "spoke-1": OutcomePushed, "spoke-2": OutcomePushed,
		"spoke-3": OutcomeBlocked, "spoke-4": OutcomeBlocked}, outcomes(res), "the same spokes are served first on every pass")
}

// hubSites is a fake hub Site list.
type hubSites struct {
	mu    sync.Mutex
	sites []map[string]any
}

func (h *hubSites) List(context.Context, metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := &unstructured.UnstructuredList{}
	for _, s := range h.sites {
		l.Items = append(l.Items, unstructured.Unstructured{Object: runtime.DeepCopyJSON(s)})
	}
	return l, nil
}

func hubSite(linkAccess, status string, groups ...string) map[string]any {
	st := map[string]any{"status": status}
	var eps []any
	for _, g := range groups {
		eps = append(eps, map[string]any{"name": "inter-router", "host": "10.0.0.1", "port": "55671", "group": g},
			map[string]any{"name": "edge", "host": "10.0.0.1", "port": "45671", "group": g})
	}
	if eps != nil {
		st["endpoints"] = eps
	}
	return map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": "Site",
		"metadata": map[string]any{"name": "hub", "namespace": "service-interconnect"},
		"spec":     map[string]any{"linkAccess": linkAccess}, "status": st}
}

// haLinkedSpoke is a spoke linked to an HA hub: its redeemed token's two
// Ready Links hub-link-1 and -2 use the token's credentials.
func haLinkedSpoke() *spoke {
	ready := func(n string) skupper.Link {
		return skupper.Link{Name: "hub-link-" + n, TLSCredentials: "hub-link", Status: "Ready"}
	}
	return &spoke{site: true, secret: true, token: &skupper.Token{Name: "hub-link", Redeemed: true, GrantUID: "grant-1"},
		links: []skupper.Link{ready("1"), ready("2")}}
}

func TestAnHAHubsTwoLinksAreALinkedSpokeNotAPush(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": haLinkedSpoke()})
	h := newHarness(t, newGrantHub(t, 10, 1, now.Add(720*time.Hour)), tr, selection("east"), nil)
	h.engine.Sites = &hubSites{sites: []map[string]any{hubSite("loadbalancer", "Ready", "skupper-router", "skupper-router-2")}}
	res := h.run(t)
	require.Equal(t, map[string]Outcome{"east": OutcomeLinked}, outcomes(res))
	require.Zero(t, tr.writes.Load(), "the token, its Links and the Secret they share are left alone")
}

func TestAHubSiteWithoutEndpointsGetsNoPushUntilItHasThem(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": {site: true}, "west": {site: true}})
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("east", "west"), nil)
	sites := &hubSites{sites: []map[string]any{hubSite("loadbalancer", "Pending")}}
	h.engine.Sites = sites
	res := h.run(t)
	require.Equal(t, map[string]Outcome{"east": OutcomePending, "west": OutcomePending}, outcomes(res))
	for _, c := range res.Changes {
		require.Contains(t, c.Reason, "cannot issue links", "each spoke says why it waits")
	}
	require.Zero(t, tr.writes.Load(), "a redemption against a hub without endpoints would be spent and fail")
	require.NotEmpty(t, res.Warnings)
	err := h.engine.CheckHub(t.Context())
	require.ErrorIs(t, err, ErrHubNotReady)
	require.ErrorContains(t, err, "service-interconnect/hub")

	sites.mu.Lock()
	sites.sites = []map[string]any{hubSite("loadbalancer", "Ready", "skupper-router")}
	sites.mu.Unlock()
	require.NoError(t, h.engine.CheckHub(t.Context()))
	res = h.run(t)
	require.Equal(t, map[string]Outcome{"east": OutcomePushed, "west": OutcomePushed}, outcomes(res), "the same hub, once Ready, is used")
}

func TestNoHubSiteAtAllHoldsThePushes(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": {site: true}})
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("east"), nil)
	h.engine.Sites = &hubSites{}
	res := h.run(t)
	require.Equal(t, map[string]Outcome{"east": OutcomePending}, outcomes(res))
	require.Contains(t, res.Changes[0].Reason, "no Site in namespace service-interconnect")
}

func TestAShortLivedGrantIsNotRotatedOnEveryPass(t *testing.T) {
	gh := newGrantHub(t, 10, 0, now.Add(59*time.Minute))
	g, err := gh.grants().Get(t.Context(), "spoke-link", metav1.GetOptions{})
	require.NoError(t, err)
	require.NoError(t, unstructured.SetNestedField(g.Object, "1h", "spec", "expirationWindow"))
	_, err = gh.client.Resource(skupper.AccessGrantsGVR).Namespace("service-interconnect").Update(t.Context(), g, metav1.UpdateOptions{})
	require.NoError(t, err)
	tr := newFake(map[string]*spoke{"east": {site: true}})
	h := newHarness(t, gh, tr, selection("east"), func(o *Options) { o.Rotate = true })
	res := h.run(t)
	require.False(t, res.Grant.Rotated, "a 1h grant with 59m left is not expiring: the margin is at most half its window")
	require.Equal(t, map[string]Outcome{"east": OutcomePushed}, outcomes(res))

	tr = newFake(map[string]*spoke{"east": {site: true}})
	gh = newGrantHub(t, 10, 0, now.Add(29*time.Minute))
	g, _ = gh.grants().Get(t.Context(), "spoke-link", metav1.GetOptions{})
	_ = unstructured.SetNestedField(g.Object, "1h", "spec", "expirationWindow")
	_, err = gh.client.Resource(skupper.AccessGrantsGVR).Namespace("service-interconnect").Update(t.Context(), g, metav1.UpdateOptions{})
	require.NoError(t, err)
	h = newHarness(t, gh, tr, selection("east"), func(o *Options) { o.Rotate = true })
	res = h.run(t)
	require.True(t, res.Grant.Rotated, "with less than half its window left, it is")
}

func TestPushesAreRecordedWhenTheObservationFailsHalfWay(t *testing.T) {
	tr := newFake(map[string]*spoke{"a": {site: true}, "b": {site: true}})
	tr.holdObserve = holdUntilPushed(tr, "b", "a", errors.New("the hub's watch broke"))
	rec := &recorder{}
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("a", "b"), nil)
	h.engine.Reporter = rec
	res, err := h.engine.Run(t.Context())
	require.ErrorContains(t, err, "watch broke")
	require.Equal(t, map[string]Outcome{"a": OutcomePushed}, outcomes(res), "the push that spent a redemption is in the result")
	require.Len(t, rec.results, 1)
	require.Equal(t, OutcomePushed, rec.results[0].Changes[0].Outcome, "and in what was recorded")
	require.Equal(t, 1, rec.results[0].Budget.Pushes)
}

type recorder struct{ results []*Result }

func (r *recorder) Report(_ context.Context, res *Result) error {
	r.results = append(r.results, res)
	return nil
}

func TestAPushCutShortByAStoppedPassIsPendingNotFailed(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": {site: true}})
	ctx, cancel := context.WithCancel(t.Context())
	tr.spokes["east"].pushErr = errors.New("the request was cancelled")
	tr.holdPush = cancel // the signal arrives while the push is under way
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("east"), nil)
	res, _ := h.engine.Run(ctx)
	require.Equal(t, map[string]Outcome{"east": OutcomePending}, outcomes(res), "the push may have run: the next pass observes it")
	require.Contains(t, res.Changes[0].Reason, "stopped before the outcome was known")
}

func TestASessionIsOpenedAsThePassNeedsIt(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": {site: true}})
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("east"), func(o *Options) { o.Fresh, o.DryRun = true, true })
	h.run(t)
	require.Equal(t, []transport.SessionOptions{{ReadOnly: true, Fresh: true}}, tr.opened, "a dry run opens a read-only session; --fresh a fresh one")
}

// holdUntilPushed holds the observation of spoke held until spoke pushed
// holds its token, then lets it through (with then as its error).
func holdUntilPushed(tr *fakeTransport, held, pushed string, then error) func(ctx context.Context, cluster string) error {
	return func(ctx context.Context, cluster string) error {
		if cluster != held {
			return nil
		}
		for {
			tr.mu.Lock()
			done := tr.spokes[pushed].token != nil
			tr.mu.Unlock()
			if done {
				return then
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("spoke %s: %w", held, ctx.Err())
			case <-time.After(time.Millisecond):
			}
		}
	}
}
