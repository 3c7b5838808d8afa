package controller

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// fakeSpoke is the in-memory state of one spoke.
type fakeSpoke struct {
	site   bool
	token  *skupper.Token
	linked bool
}

// fakeTransport is a stateful transport over in-memory spokes, in the style
// of the engine test's: one session at a time, counting opens, writes and
// pushes, and remembering the spokes it pushed to (Known).
type fakeTransport struct {
	mu      sync.Mutex
	spokes  map[string]*fakeSpoke
	known   map[string]bool
	opens   int
	closes  int
	writes  int
	pushes  map[string]int
	watcher func(string)
}

func newFakeTransport(names ...string) *fakeTransport {
	f := &fakeTransport{spokes: map[string]*fakeSpoke{}, known: map[string]bool{}, pushes: map[string]int{}}
	for _, n := range names {
		f.spokes[n] = &fakeSpoke{site: true}
	}
	return f
}

func (f *fakeTransport) Open(context.Context, transport.SessionOptions) (transport.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	return &fakeSession{f}, nil
}

type fakeSession struct{ f *fakeTransport }

var (
	_ transport.Session = (*fakeSession)(nil)
	_ transport.Pruner  = (*fakeSession)(nil)
	_ transport.Watcher = (*fakeSession)(nil)
)

func (s *fakeSession) Observe(_ context.Context, q transport.Query, emit func(*transport.Observation)) error {
	for _, n := range q.Spokes {
		s.f.mu.Lock()
		sp := s.f.spokes[n]
		o := &transport.Observation{Cluster: n, Fresh: true, Credentials: transport.Present,
			Site: transport.Observed[skupper.Site]{State: transport.Absent}, Links: transport.Observed[skupper.LinkSet]{State: transport.Absent}}
		if sp != nil && sp.site {
			o.Site = transport.Observed[skupper.Site]{State: transport.Present, Object: &skupper.Site{Name: n, Status: skupper.StatusReady}}
		}
		if sp != nil && sp.linked {
			set := skupper.NewLinkSet(skupper.Link{Name: "hub-link", Status: "Ready"})
			o.Links = transport.Observed[skupper.LinkSet]{State: transport.Present, Object: &set}
		} else if sp != nil && sp.site {
			tok := transport.Observed[skupper.Token]{State: transport.Absent}
			if sp.token != nil {
				c := *sp.token
				tok = transport.Observed[skupper.Token]{State: transport.Present, Object: &c}
			}
			o.Token = &tok
		}
		s.f.mu.Unlock()
		emit(o)
	}
	return nil
}

func (s *fakeSession) Apply(_ context.Context, n string, op transport.Op) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	sp := s.f.spokes[n]
	if sp == nil {
		return nil
	}
	if op.Remove.Token && sp.token != nil {
		sp.token, s.f.writes = nil, s.f.writes+1
	}
	if op.Remove.Link && sp.linked {
		sp.linked, s.f.writes = false, s.f.writes+1
	}
	if op.Push != nil {
		if sp.token != nil {
			return transport.ErrAlreadyExists
		}
		t, err := skupper.ParseToken(op.Push.Reveal())
		if err != nil {
			return err
		}
		sp.token = t
		s.f.writes++
		s.f.pushes[n]++
		s.f.known[n] = true
	}
	return nil
}

func (s *fakeSession) Close(context.Context) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.closes++
	return nil
}

func (s *fakeSession) Known(context.Context) ([]string, error) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	var out []string
	for n := range s.f.known {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

func (s *fakeSession) Forget(_ context.Context, n string) error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	delete(s.f.known, n)
	return nil
}

func (s *fakeSession) OnChange(fn func(string)) {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.watcher = fn
}

// redeem plays the spoke's Skupper controller, and the session's watch.
func (f *fakeTransport) redeem(n string) {
	f.mu.Lock()
	sp := f.spokes[n]
	sp.token.Redeemed, sp.linked = true, true
	w := f.watcher
	f.mu.Unlock()
	if w != nil {
		w(n)
	}
}

func (f *fakeTransport) state(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// fakeFleet is a fleet that a test changes.
type fakeFleet struct {
	mu  sync.Mutex
	sel fleet.Selection
}

func (f *fakeFleet) Select(context.Context) (fleet.Selection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := fleet.Selection{Clusters: append([]fleet.Cluster(nil), f.sel.Clusters...), Skipped: append([]fleet.Skipped(nil), f.sel.Skipped...)}
	return out, nil
}

func (f *fakeFleet) set(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sel = fleet.Selection{}
	for _, n := range names {
		f.sel.Clusters = append(f.sel.Clusters, fleet.Cluster{Name: n})
	}
}

// recorder is a Reporter that keeps what it was given.
type recorder struct {
	mu      sync.Mutex
	results []*reconcile.Result
	// fail: the next fail reports fail (a conflict), recording nothing.
	fail int
}

func (r *recorder) Report(_ context.Context, res *reconcile.Result) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("the status ConfigMap was modified (a conflict)")
	}
	r.results = append(r.results, res)
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.results)
}

func (r *recorder) last() *reconcile.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.results) == 0 {
		return nil
	}
	return r.results[len(r.results)-1]
}

func caPEM(t testing.TB) string {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func grantObject(t testing.TB, uid string, allowed, used int64) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "skupper.io/v2alpha1", "kind": "AccessGrant",
		"metadata": map[string]any{"name": "spoke-link", "namespace": "service-interconnect", "uid": uid},
		"spec":     map[string]any{"redemptionsAllowed": allowed, "expirationWindow": "720h"},
		"status": map[string]any{"status": "Ready", "message": "OK", "url": "https://grants.hub:9090/" + uid, "code": "c0de",
			"ca": caPEM(t), "redemptions": used, "expirationTime": time.Now().Add(720 * time.Hour).Format(time.RFC3339)},
	}}
}

type harness struct {
	c      *Controller
	tr     *fakeTransport
	fleet  *fakeFleet
	dyn    *dynamicfake.FakeDynamicClient
	status *recorder
	events *recorder
}

func newHarness(t *testing.T, allowed int64, mod func(*reconcile.Options), spokes ...string) *harness {
	h := &harness{tr: newFakeTransport(spokes...), fleet: &fakeFleet{}, status: &recorder{}, events: &recorder{}}
	h.fleet.set(spokes...)
	h.dyn = dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), grantObject(t, "grant-1", allowed, 0))
	opts := reconcile.Options{GrantNamespace: "service-interconnect", GrantName: "spoke-link", TokenName: "hub-link",
		SpokeNamespace: "service-interconnect", Concurrency: 4, SpokeTimeout: 5 * time.Second}
	if mod != nil {
		mod(&opts)
	}
	h.c = &Controller{
		Engine: &reconcile.Engine{Grants: h.dyn.Resource(skupper.AccessGrantsGVR).Namespace("service-interconnect"),
			Fleet: h.fleet, Transport: h.tr, Opts: opts},
		Status: h.status, Events: h.events, Metrics: NewMetrics(),
		Opts: Options{Resync: time.Hour, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond},
	}
	return h
}

// lead runs a term until the test ends, and returns a function that ends it
// and waits for it.
func (h *harness) lead(t *testing.T) func() {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- h.c.Lead(ctx) }()
	stop := func() {
		cancel()
		require.NoError(t, <-done)
	}
	t.Cleanup(func() {
		if ctx.Err() == nil {
			stop()
		}
	})
	return stop
}

// waitOutcome waits until every spoke named is recorded with outcome o.
func (h *harness) waitOutcome(t *testing.T, o reconcile.Outcome, spokes ...string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, n := range spokes {
			if h.outcome(n) != o {
				return false
			}
		}
		return true
	}, wait, tick)
}

func (h *harness) outcome(n string) reconcile.Outcome {
	h.c.init()
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return h.c.spokes[n].Outcome
}
