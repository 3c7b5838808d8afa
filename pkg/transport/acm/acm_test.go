package acm_test

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
	"github.com/vanlink/vanlink/pkg/transport/acm"
	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
)

const ns = "service-interconnect"

// hub is a fake hub API with the ACM agent double serving in-memory spokes.
type hub struct {
	client *dynamicfake.FakeDynamicClient
	agent  *acmtest.Agent
	spokes map[string]*acmtest.MemorySpoke
	tr     *acm.Transport
	s      transport.Session
	writes atomic.Int64
}

func newHub(t *testing.T, agentOpts acmtest.Options, clusters ...string) *hub {
	t.Helper()
	client := acmtest.NewFakeHub()
	h := &hub{client: client, spokes: map[string]*acmtest.MemorySpoke{}}
	for _, verb := range []string{"create", "update", "patch", "delete"} {
		client.PrependReactor(verb, "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
			if a.GetSubresource() == "" {
				h.writes.Add(1)
			}
			return false, nil, nil
		})
	}
	if agentOpts.Tick == 0 {
		agentOpts.Tick = 5 * time.Millisecond
	}
	h.agent = acmtest.New(client, agentOpts)
	for _, c := range clusters {
		s := acmtest.NewMemorySpoke(c)
		h.spokes[c] = s
		h.agent.AddSpoke(c, s)
	}
	h.tr = acm.New(client, acm.Options{TokenName: "hub-link", SpokeNamespace: ns, ResyncCheck: 50 * time.Millisecond})
	return h
}

// start runs the agent and opens a session; reactors must be added before.
func (h *hub) start(t *testing.T) *hub {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = h.agent.Run(ctx) }()
	h.open(t, transport.SessionOptions{})
	return h
}

// open opens a session of the hub's transport, closed when the test ends.
func (h *hub) open(t *testing.T, o transport.SessionOptions) transport.Session {
	t.Helper()
	s, err := h.tr.Open(t.Context(), o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	h.s = s
	return s
}

// finish closes the session (waiting for its deletions) and opens another.
func (h *hub) finish(t *testing.T) {
	t.Helper()
	require.NoError(t, h.s.Close(t.Context()))
	h.open(t, transport.SessionOptions{})
}

func (h *hub) push(ctx context.Context, spoke string, tok *skupper.TokenRequest) error {
	return h.s.Apply(ctx, spoke, transport.Op{Name: tok.Name, Push: tok})
}

func (h *hub) remove(ctx context.Context, spoke, name string, what transport.RemoveOptions) error {
	return h.s.Apply(ctx, spoke, transport.Op{Name: name, Remove: what})
}

func (h *hub) count(t *testing.T, gvr schema.GroupVersionResource, cluster string) int {
	t.Helper()
	l, err := h.client.Resource(gvr).Namespace(cluster).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	return len(l.Items)
}

// token requests the AccessToken name, from a grant whose code is c0de.
func token(name string) *skupper.TokenRequest {
	g := &skupper.Grant{Name: "link-fleet", Namespace: "hub", UID: "uid", URL: "https://h:9090/uid", CA: "pem", Code: "c0de"}
	return skupper.NewTokenRequest(g, skupper.TokenOptions{Name: name, Namespace: ns})
}

func put(t *testing.T, s *acmtest.MemorySpoke, resource, name string, status map[string]any) {
	t.Helper()
	kinds := map[string]string{"sites": "Site", "links": "Link", "accesstokens": "AccessToken", "secrets": "Secret"}
	gvr := schema.GroupVersionResource{Group: "skupper.io", Version: "v2alpha1", Resource: resource}
	apiVersion := "skupper.io/v2alpha1"
	if resource == "secrets" {
		gvr, apiVersion = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, "v1"
	}
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kinds[resource], "metadata": map[string]any{"name": name}}}
	if status != nil {
		o.Object["status"] = status
	}
	_, err := s.Create(context.Background(), gvr, ns, o)
	require.NoError(t, err)
}

func TestPushOutcomes(t *testing.T) {
	tests := map[string]struct {
		setup   func(t *testing.T, h *hub)
		timeout time.Duration
		wantErr error
		wantSE  string
	}{
		"the agent creates the token": {},
		"a token already on the spoke gives ErrAlreadyExists": {
			setup:   func(t *testing.T, h *hub) { put(t, h.spokes["east"], "accesstokens", "hub-link", nil) },
			wantErr: transport.ErrAlreadyExists,
		},
		"an agent that never answers hits the deadline": {
			setup:   func(t *testing.T, h *hub) { h.agent.Pause("east") },
			timeout: 300 * time.Millisecond,
			wantErr: transport.ErrAgentTimeout,
		},
		"an action collected before it was read has an unknown outcome": {
			setup: func(t *testing.T, h *hub) {
				h.client.PrependReactor("update", "managedclusteractions", func(a clienttesting.Action) (bool, runtime.Object, error) {
					if a.GetSubresource() != "status" {
						return false, nil, nil
					}
					u := a.(clienttesting.UpdateAction).GetObject().(*unstructured.Unstructured)
					// The hub's GC wins the race: the action is gone when read.
					_ = h.client.Tracker().Delete(acm.ActionsGVR, u.GetNamespace(), u.GetName())
					return true, nil, apierrors.NewNotFound(acm.ActionsGVR.GroupResource(), u.GetName())
				})
			},
			wantErr: transport.ErrOutcomeUnknown,
		},
		"a create refused by the spoke is a SpokeError with the agent's reason": {
			setup: func(t *testing.T, h *hub) {
				h.spokes["east"].AfterWrite = nil
				// An invalid template: the agent reports CreateResourceFailed.
				h.client.PrependReactor("create", "managedclusteractions", func(a clienttesting.Action) (bool, runtime.Object, error) {
					u := a.(clienttesting.CreateAction).GetObject().(*unstructured.Unstructured)
					_ = unstructured.SetNestedMap(u.Object, map[string]any{"metadata": map[string]any{"name": "hub-link"}}, "spec", "kube", "template")
					return false, nil, nil
				})
			},
			wantSE: "CreateResourceFailed",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHub(t, acmtest.Options{}, "east")
			if tc.setup != nil {
				tc.setup(t, h)
			}
			h.start(t)
			tok := token("hub-link")
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			err := h.push(ctx, "east", tok)
			switch {
			case tc.wantErr != nil:
				require.ErrorIs(t, err, tc.wantErr)
			case tc.wantSE != "":
				var se *transport.SpokeError
				require.ErrorAs(t, err, &se)
				require.Equal(t, tc.wantSE, se.Reason)
			default:
				require.NoError(t, err)
				_, gerr := h.spokes["east"].Get(ctx, skupper.AccessTokensGVR, ns, "hub-link")
				require.NoError(t, gerr, "the token must be on the spoke")
			}
			require.NotContains(t, fmt.Sprint(err), "c0de", "errors never carry the code")
			h.finish(t)
			require.Zero(t, h.count(t, acm.ActionsGVR, "east"), "every action carries the code and must be deleted once read")
		})
	}
}

func TestRemove(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east").start(t)
	put(t, h.spokes["east"], "accesstokens", "hub-link", nil)
	put(t, h.spokes["east"], "secrets", "hub-link", nil)
	// No Link: a missing object counts as removed.
	require.NoError(t, h.remove(t.Context(), "east", "hub-link", transport.All))
	require.Empty(t, h.spokes["east"].Keys(), "token and Secret removed")
	h.finish(t)
	require.Zero(t, h.count(t, acm.ActionsGVR, "east"), "the actions are deleted once read")
}

func TestObserve(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east", "west", "north").start(t)
	put(t, h.spokes["east"], "sites", "east", map[string]any{"status": "Ready"})
	put(t, h.spokes["east"], "links", "hub-link", map[string]any{"status": "Ready"})
	put(t, h.spokes["west"], "sites", "west", nil)
	put(t, h.spokes["west"], "links", "hub-link", map[string]any{"status": "Pending", "message": "Not Operational"})

	obs, err := transport.ObserveAll(t.Context(), h.s, transport.Query{Spokes: []string{"east", "west", "north"}})
	require.NoError(t, err)
	require.Equal(t, transport.Present, obs["east"].Site.State)
	require.True(t, obs["east"].Links.Object.Ready())
	require.Equal(t, transport.Present, obs["west"].Links.State)
	require.False(t, obs["west"].Links.Object.Ready())
	require.Equal(t, transport.Absent, obs["north"].Site.State, "a view of a missing object means absent")
	require.Equal(t, transport.Absent, obs["north"].Links.State)

	known, err := h.s.(transport.Pruner).Known(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"east", "north", "west"}, known)

	h.finish(t) // the token views read along the first views are deleted
	before := h.writes.Load()
	obs, err = transport.ObserveAll(t.Context(), h.s, transport.Query{Spokes: []string{"east"}})
	require.NoError(t, err)
	require.Equal(t, before, h.writes.Load(), "a linked spoke is observed from its views: nothing is written")
	require.False(t, obs["east"].Fresh)
	obs, err = transport.ObserveAll(t.Context(), h.s, transport.Query{Spokes: []string{"west", "north"}})
	require.NoError(t, err)
	require.True(t, obs["west"].Fresh && obs["north"].Fresh, "a spoke not linked is read again as it is now, with its token")
	require.NotNil(t, obs["west"].Token)

	require.NoError(t, h.s.(transport.Pruner).Forget(t.Context(), "north"))
	h.finish(t) // and the transient views of the last read
	require.Zero(t, h.count(t, acm.ViewsGVR, "north"))
}

func TestObserveNeverTrustsAStaleViewResult(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east").start(t)
	h.agent.Pause("east")
	stale := map[string]any{
		"result": map[string]any{"apiVersion": "skupper.io/v2alpha1", "kind": "Link", "metadata": map[string]any{"name": "hub-link"}, "status": map[string]any{"status": "Ready"}},
		"conditions": []any{map[string]any{"type": "Processing", "status": "False", "reason": "GetResourceFailed",
			"message": "the server is currently unable to handle the request", "lastTransitionTime": "2026-11-21T00:00:00Z"}},
	}
	// Views exactly as the transport wants them, so it keeps them.
	view := func(object, kind, name string, status map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "view.open-cluster-management.io/v1beta1", "kind": "ManagedClusterView",
			"metadata": map[string]any{"name": "vanlink-hub-link-" + object, "namespace": "east",
				"labels": map[string]any{acm.ManagedByLabel: acm.ManagedByValue, acm.PurposeLabel: "observe", acm.TokenNameLabel: "hub-link", acm.ObjectLabel: object}},
			"spec": map[string]any{"scope": map[string]any{"apiGroup": "skupper.io", "version": "v2alpha1", "kind": kind,
				"name": name, "namespace": ns, "updateIntervalSeconds": int64(300)}},
			"status": status,
		}}
	}
	missing := map[string]any{"conditions": []any{map[string]any{"type": "Processing", "status": "False", "reason": "GetResourceFailed", "message": `sites.skupper.io "east" not found`}}}
	for _, v := range []*unstructured.Unstructured{view("link", "Link", "hub-link", stale), view("site", "Site", "east", missing)} {
		created, err := h.client.Resource(acm.ViewsGVR).Namespace("east").Create(t.Context(), v, metav1.CreateOptions{})
		require.NoError(t, err)
		created.Object["status"] = v.Object["status"]
		_, err = h.client.Resource(acm.ViewsGVR).Namespace("east").UpdateStatus(t.Context(), created, metav1.UpdateOptions{})
		require.NoError(t, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	obs, err := transport.ObserveAll(ctx, h.s, transport.Query{Spokes: []string{"east"}})
	require.NoError(t, err)
	require.Equal(t, transport.Unknown, obs["east"].Links.State, "an old result behind a failed GET must not be trusted")
	require.Contains(t, obs["east"].Links.Reason, "unable to handle the request")
	require.Equal(t, transport.Absent, obs["east"].Site.State, "a view of a missing object reads as absent")
	require.False(t, obs["east"].Fresh, "views the pass did not make may be a refresh interval old, and a Site read by name may have another name")
}

// transient counts the views and actions made for one read or write.
func (h *hub) transient(t *testing.T, cluster string) int {
	t.Helper()
	n := 0
	for _, gvr := range []schema.GroupVersionResource{acm.ViewsGVR, acm.ActionsGVR} {
		l, err := h.client.Resource(gvr).Namespace(cluster).List(context.Background(), metav1.ListOptions{LabelSelector: acm.PurposeLabel + "=transient"})
		require.NoError(t, err)
		n += len(l.Items)
	}
	return n
}

func TestASpokeNotLinkedIsObservedWithItsTokenReadThroughAViewDeletedAfterTheRead(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east").start(t)
	put(t, h.spokes["east"], "sites", "east", map[string]any{"status": "Ready"})
	put(t, h.spokes["east"], "accesstokens", "hub-link", map[string]any{"status": "Error", "message": "Controller got failed response: 404 (Not Found) No such claim"})
	q := transport.Query{Spokes: []string{"east"}, LinkNames: []string{"hub-link"}}
	obs, err := transport.ObserveAll(t.Context(), h.s, q)
	require.NoError(t, err)
	got := obs["east"]
	require.True(t, got.Fresh)
	require.Equal(t, transport.Present, got.Token.State)
	require.True(t, got.Token.Object.Failed())
	require.Equal(t, transport.Unknown, got.Credentials, "the agent refuses views of Secrets")
	h.finish(t)
	require.Zero(t, h.transient(t, "east"), "the token view holds the code and must be deleted after the read")

	require.NoError(t, h.spokes["east"].Delete(t.Context(), skupper.AccessTokensGVR, ns, "hub-link"))
	obs, err = transport.ObserveAll(t.Context(), h.s, q)
	require.NoError(t, err)
	require.True(t, obs["east"].Fresh, "with views in place, a spoke not linked is read again as it is now")
	require.Equal(t, transport.Absent, obs["east"].Token.State)

	put(t, h.spokes["east"], "links", "hub-link", map[string]any{"status": "Ready"})
	require.Eventually(t, func() bool {
		obs, err = transport.ObserveAll(t.Context(), h.s, q)
		return err == nil && obs["east"].Links.State == transport.Present
	}, 5*time.Second, 50*time.Millisecond)
	require.True(t, obs["east"].Links.Object.Ready())
	h.finish(t)
	require.Zero(t, h.transient(t, "east"))
}

func TestPrepareRemovesLeftoversOfACrashedPass(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east").start(t)
	h.agent.Pause("east")
	leftover := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "action.open-cluster-management.io/v1beta1", "kind": "ManagedClusterAction",
		"metadata": map[string]any{"name": "vanlink-create-token-abcde", "namespace": "east",
			"labels": map[string]any{acm.ManagedByLabel: acm.ManagedByValue, acm.PurposeLabel: "transient"}},
		"spec": map[string]any{"actionType": "Create", "kube": map[string]any{"template": token("hub-link").Reveal().Object}},
	}}
	_, err := h.client.Resource(acm.ActionsGVR).Namespace("east").Create(t.Context(), leftover, metav1.CreateOptions{})
	require.NoError(t, err)
	next := acm.New(h.client, acm.Options{TokenName: "hub-link", SpokeNamespace: ns})
	require.Eventually(t, func() bool {
		s, err := next.Open(t.Context(), transport.SessionOptions{})
		require.NoError(t, err)
		require.NoError(t, s.Close(t.Context()))
		return h.count(t, acm.ActionsGVR, "east") == 0
	}, 5*time.Second, 50*time.Millisecond, "the next session removes an action a crashed one left (it carries the code)")
}

func TestObserveEmitsEachSpokeWhenItsViewsAreProcessed(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east", "west").start(t)
	put(t, h.spokes["east"], "sites", "east", nil)
	h.agent.Pause("west")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	emitted := map[string]time.Duration{}
	var got []*transport.Observation
	var mu sync.Mutex
	require.NoError(t, h.s.Observe(ctx, transport.Query{Spokes: []string{"east", "west"}}, func(o *transport.Observation) {
		mu.Lock()
		defer mu.Unlock()
		emitted[o.Cluster] = time.Since(start)
		got = append(got, o)
	}))
	require.Len(t, got, 2, "every spoke is emitted exactly once")
	require.Equal(t, "east", got[0].Cluster)
	require.Less(t, emitted["east"], time.Second, "a spoke is emitted once its own views are processed, not when the slowest spoke's are")
	require.Equal(t, transport.Present, got[0].Site.State)
	require.Equal(t, transport.Absent, got[0].Links.State)
	require.Equal(t, transport.Unknown, got[1].Site.State, "a spoke whose agent never answered is emitted as unknown at the deadline")
	require.Contains(t, got[1].Site.Reason, "has not processed")
}

func TestObserveReadsDirectlyWhenTheWatchStalls(t *testing.T) {
	for name, tc := range map[string]struct {
		concurrency int
		wantVerb    string
	}{
		"few views late: one GET each":                                          {concurrency: 16, wantVerb: "get"},
		"more views late than Concurrency: still GETs, a bounded number a tick": {concurrency: 1, wantVerb: "get"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHub(t, acmtest.Options{}, "east")
			put(t, h.spokes["east"], "sites", "east", nil)
			put(t, h.spokes["east"], "links", "hub-link", map[string]any{"status": "Ready"})
			// vanlink's watch (the one with a label selector) delivers nothing;
			// the agent's watch works.
			h.client.PrependWatchReactor("managedclusterviews", func(a clienttesting.Action) (bool, watch.Interface, error) {
				if a.(clienttesting.WatchAction).GetWatchRestrictions().Labels.Empty() {
					return false, nil, nil
				}
				return true, watch.NewFake(), nil
			})
			var reads atomic.Int64
			var lists atomic.Int64
			h.client.PrependReactor(tc.wantVerb, "managedclusterviews", func(clienttesting.Action) (bool, runtime.Object, error) {
				reads.Add(1)
				return false, nil, nil
			})
			h.client.PrependReactor("list", "managedclusterviews", func(clienttesting.Action) (bool, runtime.Object, error) {
				lists.Add(1)
				return false, nil, nil
			})
			h.tr = acm.New(h.client, acm.Options{TokenName: "hub-link", SpokeNamespace: ns, ResyncCheck: 50 * time.Millisecond, Concurrency: tc.concurrency})
			h.start(t)
			reads.Store(0) // not the informer's first list
			lists.Store(0)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			obs, err := transport.ObserveAll(ctx, h.s, transport.Query{Spokes: []string{"east"}})
			require.NoError(t, err)
			require.Equal(t, transport.Present, obs["east"].Site.State)
			require.True(t, obs["east"].Links.Object.Ready())
			require.NotZero(t, reads.Load(), "the views were read with %s", tc.wantVerb)
			require.Zero(t, lists.Load(), "no LIST of the whole fleet's views: its cost would grow with the fleet")
		})
	}
}

// TestDirectReadsOfLateViewsAreCappedEachTick: with the watch stalled and
// more views late than 4 x Concurrency (an HA hub: three views a spoke, and
// two spokes in the window at Concurrency 1), each tick reads at most
// 4 x Concurrency of them, the longest-waiting first, and every spoke is
// still observed.
func TestDirectReadsOfLateViewsAreCappedEachTick(t *testing.T) {
	const tick = 150 * time.Millisecond
	var clusters []string
	for i := range 6 {
		clusters = append(clusters, fmt.Sprintf("spoke-%d", i))
	}
	h := newHub(t, acmtest.Options{}, clusters...)
	for _, c := range clusters {
		put(t, h.spokes[c], "sites", c, nil)
		put(t, h.spokes[c], "links", "hub-link-1", map[string]any{"status": "Ready"})
		put(t, h.spokes[c], "links", "hub-link-2", map[string]any{"status": "Ready"})
	}
	h.client.PrependWatchReactor("managedclusterviews", func(a clienttesting.Action) (bool, watch.Interface, error) {
		if a.(clienttesting.WatchAction).GetWatchRestrictions().Labels.Empty() {
			return false, nil, nil // the agent's watch works
		}
		return true, watch.NewFake(), nil // vanlink's delivers nothing
	})
	var mu sync.Mutex
	var gets []time.Time
	persistent := map[string]bool{"vanlink-hub-link-site": true, "vanlink-hub-link-link-1": true, "vanlink-hub-link-link-2": true}
	h.client.PrependReactor("get", "managedclusterviews", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if persistent[a.(clienttesting.GetAction).GetName()] { // not a waiter's read of a transient view
			mu.Lock()
			gets = append(gets, time.Now())
			mu.Unlock()
		}
		return false, nil, nil
	})
	h.tr = acm.New(h.client, acm.Options{TokenName: "hub-link", SpokeNamespace: ns, ResyncCheck: tick, Concurrency: 1})
	h.start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	obs, err := transport.ObserveAll(ctx, h.s, transport.Query{Spokes: clusters, LinkNames: skupper.LinkNames("hub-link", 2)})
	require.NoError(t, err)
	for _, c := range clusters {
		require.True(t, obs[c].Links.State == transport.Present && obs[c].Links.Object.Ready(), "%s observed linked: %s", c, obs[c].Links.Reason)
	}
	// The direct reads of one tick come in a burst; ticks are 150ms apart.
	mu.Lock()
	defer mu.Unlock()
	require.Greater(t, len(gets), 4, "more views were read than one tick allows")
	burst, most := 1, 1
	for i := 1; i < len(gets); i++ {
		if gets[i].Sub(gets[i-1]) < tick/3 {
			burst++
		} else {
			burst = 1
		}
		most = max(most, burst)
	}
	require.LessOrEqual(t, most, 4, "at most 4 x Concurrency GETs a tick")
}

func TestObserveRunsOnlyALittleAheadOfItsCaller(t *testing.T) {
	var clusters []string
	for i := range 10 {
		clusters = append(clusters, fmt.Sprintf("spoke-%d", i))
	}
	h := newHub(t, acmtest.Options{}, clusters...)
	h.tr = acm.New(h.client, acm.Options{TokenName: "hub-link", SpokeNamespace: ns, ResyncCheck: 50 * time.Millisecond, Concurrency: 1})
	h.start(t)
	release := make(chan struct{})
	var emitted atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- h.s.Observe(t.Context(), transport.Query{Spokes: clusters}, func(*transport.Observation) {
			if emitted.Add(1) == 1 {
				<-release // the caller is busy with the first spoke
			}
		})
	}()
	require.Eventually(t, func() bool { return emitted.Load() == 1 }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(500 * time.Millisecond)
	observing := 0
	for _, c := range clusters {
		if h.count(t, acm.ViewsGVR, c) > 0 {
			observing++
		}
	}
	// Concurrency 1: two spokes in the making, the first one held by emit.
	require.LessOrEqual(t, observing, 3, "while the caller is busy, at most twice the concurrency spokes are being observed")
	close(release)
	require.NoError(t, <-done)
	require.EqualValues(t, 10, emitted.Load())
}

func TestObserveGivesUpOnASpokeAfterItsTimeout(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east", "west")
	h.tr = acm.New(h.client, acm.Options{TokenName: "hub-link", SpokeNamespace: ns, ResyncCheck: 50 * time.Millisecond, SpokeTimeout: 300 * time.Millisecond})
	h.start(t)
	put(t, h.spokes["east"], "sites", "east", nil)
	h.agent.Pause("west")
	// No deadline on the observation itself: the spoke's own timeout ends
	// the wait for the spoke whose agent never answers.
	obs, err := transport.ObserveAll(t.Context(), h.s, transport.Query{Spokes: []string{"east", "west"}})
	require.NoError(t, err)
	require.Equal(t, transport.Present, obs["east"].Site.State)
	require.Equal(t, transport.Unknown, obs["west"].Site.State)
	require.Contains(t, obs["west"].Links.Reason, "has not processed")
}

func TestAnHAHubsLinksAreReadByTheirNames(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east").start(t)
	put(t, h.spokes["east"], "sites", "east", map[string]any{"status": "Ready"})
	put(t, h.spokes["east"], "links", "hub-link-1", map[string]any{"status": "Ready"})
	put(t, h.spokes["east"], "links", "hub-link-2", map[string]any{"status": "Ready"})
	q := transport.Query{Spokes: []string{"east"}, LinkNames: skupper.LinkNames("hub-link", 2)}
	obs, err := transport.ObserveAll(t.Context(), h.s, q)
	require.NoError(t, err)
	require.Equal(t, transport.Present, obs["east"].Links.State)
	require.Equal(t, []string{"hub-link-1", "hub-link-2"}, obs["east"].Links.Object.Names())
	require.True(t, obs["east"].Links.Object.Ready())
	require.True(t, obs["east"].Fresh, "views made by this pass, Site found")

	fresh := h.open(t, transport.SessionOptions{Fresh: true})
	obs, err = transport.ObserveAll(t.Context(), fresh, q)
	require.NoError(t, err)
	require.True(t, obs["east"].Fresh, "a fresh session reads even a linked spoke as it is now")
	require.Equal(t, []string{"hub-link-1", "hub-link-2"}, obs["east"].Links.Object.Names())
}

func TestASiteOfAnyNameIsFoundThroughItsRouterConfigMap(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east").start(t)
	s := h.spokes["east"]
	put(t, s, "sites", "edge-1", map[string]any{"status": "Ready"})
	site, err := s.Get(t.Context(), skupper.SitesGVR, ns, "edge-1")
	require.NoError(t, err)
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "skupper-router", "ownerReferences": []any{map[string]any{
			"apiVersion": "skupper.io/v2alpha1", "kind": "Site", "name": "edge-1", "uid": string(site.GetUID())}}}}}
	_, err = s.Create(t.Context(), skupper.ConfigMapsGVR, ns, cm)
	require.NoError(t, err)
	q := transport.Query{Spokes: []string{"east"}}

	obs, err := transport.ObserveAll(t.Context(), h.s, q)
	require.NoError(t, err)
	require.Equal(t, transport.Present, obs["east"].Site.State, "the persistent view reads the Site by the cluster's name; then the router ConfigMap names the active Site")
	require.Equal(t, "edge-1", obs["east"].Site.Object.Name, "the active Site owns the router ConfigMap")
	require.True(t, obs["east"].Fresh)
	require.NotNil(t, obs["east"].Token, "a spoke not linked comes with its token")
	view, err := h.client.Resource(acm.ViewsGVR).Namespace("east").Get(t.Context(), "vanlink-hub-link-site", metav1.GetOptions{})
	require.NoError(t, err)
	name, _, _ := unstructured.NestedString(view.Object, "spec", "scope", "name")
	require.Equal(t, "edge-1", name, "the persistent view now reads that Site")

	// No router ConfigMap: no active Site, conclusively.
	require.NoError(t, s.Delete(t.Context(), skupper.ConfigMapsGVR, ns, "skupper-router"))
	require.NoError(t, s.Delete(t.Context(), skupper.SitesGVR, ns, "edge-1"))
	obs, err = transport.ObserveAll(t.Context(), h.s, q)
	require.NoError(t, err)
	require.Equal(t, transport.Absent, obs["east"].Site.State)
	require.True(t, obs["east"].Fresh, "the absence is read as the spoke is now")
	h.finish(t)
}

func TestAReadOnlySessionWritesNothing(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east", "west")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = h.agent.Run(ctx) }()
	put(t, h.spokes["east"], "sites", "east", nil)
	before := h.writes.Load()
	ro := h.open(t, transport.SessionOptions{ReadOnly: true})
	obs, err := transport.ObserveAll(t.Context(), ro, transport.Query{Spokes: []string{"east", "west"}})
	require.NoError(t, err)
	require.Equal(t, transport.Unknown, obs["east"].Site.State)
	require.Contains(t, obs["east"].Site.Reason, "dry run")
	require.Error(t, ro.Apply(t.Context(), "east", transport.Op{Name: "hub-link", Push: token("hub-link")}))
	require.Error(t, ro.Apply(t.Context(), "east", transport.Op{Name: "hub-link", Remove: transport.All}))
	require.NoError(t, ro.Close(t.Context()))
	require.Equal(t, before, h.writes.Load(), "a dry run creates no view or action on the hub")
}

func TestTheWatchesOutliveTheContextOfOpen(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = h.agent.Run(ctx) }()
	first, stop := context.WithCancel(t.Context())
	s, err := h.tr.Open(first, transport.SessionOptions{})
	require.NoError(t, err)
	defer func() { _ = s.Close(context.Background()) }()
	stop()
	// A view made after the caller of Open went away still reaches the cache.
	_, err = h.client.Resource(acm.ViewsGVR).Namespace("east").Create(t.Context(), &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "view.open-cluster-management.io/v1beta1", "kind": "ManagedClusterView",
		"metadata": map[string]any{"name": "vanlink-hub-link-link-9", "namespace": "east",
			"labels": map[string]any{acm.ManagedByLabel: acm.ManagedByValue, acm.PurposeLabel: "observe", acm.TokenNameLabel: "hub-link"}},
		"spec": map[string]any{"scope": map[string]any{"kind": "Link", "version": "v2alpha1", "apiGroup": "skupper.io", "name": "x", "namespace": ns}}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		known, err := s.(transport.Pruner).Known(t.Context())
		return err == nil && len(known) == 1
	}, 5*time.Second, 50*time.Millisecond, "the session's watch keeps filling its cache until Close")
}

func TestRemoveNamesEveryResourceExactly(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east")
	var mu sync.Mutex
	resources := map[string]bool{}
	h.client.PrependReactor("create", "managedclusteractions", func(a clienttesting.Action) (bool, runtime.Object, error) {
		u := a.(clienttesting.CreateAction).GetObject().(*unstructured.Unstructured)
		r, _, _ := unstructured.NestedString(u.Object, "spec", "kube", "resource")
		n, _, _ := unstructured.NestedString(u.Object, "spec", "kube", "name")
		mu.Lock()
		resources[r+" "+n] = true
		mu.Unlock()
		return false, nil, nil
	})
	h.start(t)
	require.NoError(t, h.remove(t.Context(), "east", "hub-link", transport.All))
	require.Equal(t, map[string]bool{
		"accesstokens.v2alpha1.skupper.io hub-link": true,
		"links.v2alpha1.skupper.io hub-link":        true, "links.v2alpha1.skupper.io hub-link-1": true, "links.v2alpha1.skupper.io hub-link-2": true,
		"secrets.v1. hub-link": true,
	}, resources, "a bare plural resolves to the first group discovery lists (Linkerd's links before Skupper's)")
}

func TestACreateCutShortBySignalIsSweptByClose(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east")
	ctx, cancel := context.WithCancel(t.Context())
	// The API server creates the action, but the answer never reaches the
	// caller: its context ends first (SIGTERM).
	h.client.PrependReactor("create", "managedclusteractions", func(a clienttesting.Action) (bool, runtime.Object, error) {
		u := a.(clienttesting.CreateAction).GetObject().(*unstructured.Unstructured)
		u.SetName(u.GetGenerateName() + "cut")
		require.NoError(t, h.client.Tracker().Create(acm.ActionsGVR, u, "east"))
		cancel()
		return true, nil, context.Canceled
	})
	h.agent.Pause("east")
	h.start(t)
	err := h.push(ctx, "east", token("hub-link"))
	require.Error(t, err)
	require.Equal(t, 1, h.count(t, acm.ActionsGVR, "east"), "the action the caller never heard of is there, with the code")
	h.finish(t)
	require.Zero(t, h.count(t, acm.ActionsGVR, "east"), "Close sweeps it")
}

func TestASessionLimitedToSomeHubNamespacesListsAndWatchesOnlyThere(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east", "west")
	var mu sync.Mutex
	clusterWide := 0
	// vanlink's own requests select its objects by label (the agent's do not).
	vanlinks := func(sel labels.Selector) bool { return strings.Contains(sel.String(), acm.ManagedByLabel) }
	h.client.PrependReactor("list", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.GetNamespace() == "" && vanlinks(a.(clienttesting.ListAction).GetListRestrictions().Labels) {
			mu.Lock()
			clusterWide++
			mu.Unlock()
		}
		return false, nil, nil
	})
	h.client.PrependWatchReactor("*", func(a clienttesting.Action) (bool, watch.Interface, error) {
		if a.GetNamespace() == "" && vanlinks(a.(clienttesting.WatchAction).GetWatchRestrictions().Labels) {
			mu.Lock()
			clusterWide++
			mu.Unlock()
		}
		return false, nil, nil
	})
	h.tr = acm.New(h.client, acm.Options{TokenName: "hub-link", SpokeNamespace: ns, ResyncCheck: 50 * time.Millisecond, Namespaces: []string{"east"}})
	h.start(t)
	put(t, h.spokes["east"], "sites", "east", map[string]any{"status": "Ready"})
	obs, err := transport.ObserveAll(t.Context(), h.s, transport.Query{Spokes: []string{"east"}})
	require.NoError(t, err)
	require.Equal(t, transport.Present, obs["east"].Site.State)
	known, err := h.s.(transport.Pruner).Known(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"east"}, known)
	h.finish(t)
	mu.Lock()
	defer mu.Unlock()
	require.Zero(t, clusterWide, "no list or watch outside the given hub namespaces (RoleBindings there suffice)")
}

// TestAnHAHubThatIsNotReadyKeepsItsSpokesLinked: a pass against a hub Site
// that cannot issue links (Pending, no endpoints) knows nothing of its
// router groups and asks for no Link names; the HA spoke's Link views stay
// and its two Ready Links are read, so it is linked, not pending "AccessToken
// redeemed but none of its Links is there".
func TestAnHAHubThatIsNotReadyKeepsItsSpokesLinked(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east").start(t)
	put(t, h.spokes["east"], "sites", "east", map[string]any{"status": "Ready"})
	put(t, h.spokes["east"], "accesstokens", "hub-link", map[string]any{"redeemed": true, "status": "Ready"})
	for _, n := range []string{"hub-link-1", "hub-link-2"} {
		put(t, h.spokes["east"], "links", n, map[string]any{"status": "Ready"})
	}
	_, err := transport.ObserveAll(t.Context(), h.s, transport.Query{Spokes: []string{"east"}, LinkNames: skupper.LinkNames("hub-link", 2)})
	require.NoError(t, err)
	h.finish(t) // the next pass, with the hub Site Pending
	obs, err := transport.ObserveAll(t.Context(), h.s, transport.Query{Spokes: []string{"east"}})
	require.NoError(t, err)
	e := obs["east"]
	require.Equal(t, transport.Present, e.Links.State, e.Links.Reason)
	require.Equal(t, []string{"hub-link-1", "hub-link-2"}, e.Links.Object.Names())
	require.True(t, e.Links.Object.Ready(), "the spoke is linked")
	list, err := h.client.Resource(acm.ViewsGVR).Namespace("east").List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	var views []string
	for _, v := range list.Items {
		if v.GetLabels()[acm.ObjectLabel] == "link" {
			views = append(views, v.GetName())
		}
	}
	sort.Strings(views)
	require.Equal(t, []string{"vanlink-hub-link-link-1", "vanlink-hub-link-link-2"}, views, "no Link view deleted, none of a guessed name made")
}

func TestLinkViewsOfNamesTheHubNoLongerGivesAreDeleted(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east").start(t)
	put(t, h.spokes["east"], "sites", "east", map[string]any{"status": "Ready"})
	linkViews := func() []string {
		list, err := h.client.Resource(acm.ViewsGVR).Namespace("east").List(t.Context(), metav1.ListOptions{})
		require.NoError(t, err)
		var out []string
		for _, v := range list.Items {
			if v.GetLabels()[acm.ObjectLabel] == "link" {
				out = append(out, v.GetName())
			}
		}
		sort.Strings(out)
		return out
	}
	observe := func(q transport.Query) {
		t.Helper()
		_, err := transport.ObserveAll(t.Context(), h.s, q)
		require.NoError(t, err)
	}
	one := transport.Query{Spokes: []string{"east"}, LinkNames: []string{"hub-link"}}
	ha := transport.Query{Spokes: []string{"east"}, LinkNames: skupper.LinkNames("hub-link", 2)}

	observe(one)
	require.Equal(t, []string{"vanlink-hub-link-link"}, linkViews())
	observe(ha)
	require.Eventually(t, func() bool {
		return reflect.DeepEqual([]string{"vanlink-hub-link-link-1", "vanlink-hub-link-link-2"}, linkViews())
	}, 5*time.Second, 20*time.Millisecond, "the hub became HA: the view of the single Link goes, got %v", linkViews())
	observe(transport.Query{Spokes: []string{"east"}})
	require.Equal(t, []string{"vanlink-hub-link-link-1", "vanlink-hub-link-link-2"}, linkViews(),
		"without names from the hub's Site nothing is deleted, and the views there are read")
	observe(one)
	require.Eventually(t, func() bool { return reflect.DeepEqual([]string{"vanlink-hub-link-link"}, linkViews()) },
		5*time.Second, 20*time.Millisecond, "back to one router group, got %v", linkViews())
}
