package controller

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/skupper"
)

const wait, tick = 5 * time.Second, 10 * time.Millisecond

func TestALateSpokeIsLinkedWithinAPassAndASteadyFleetWritesNothing(t *testing.T) {
	h := newHarness(t, 10, nil, "east")
	stop := h.lead(t)
	require.Eventually(t, func() bool { return h.outcome("east") == reconcile.OutcomePushed }, wait, tick, "the first term pushes the fleet")
	h.tr.redeem("east")
	require.Eventually(t, func() bool { return h.outcome("east") == reconcile.OutcomeLinked }, wait, tick, "the session's watch has the spoke observed again")

	h.tr.state(func() { h.tr.spokes["west"] = &fakeSpoke{site: true} })
	h.fleet.set("east", "west")
	h.c.MembershipChanged()
	require.Eventually(t, func() bool { return h.outcome("west") == reconcile.OutcomePushed }, wait, tick, "a spoke that joins is pushed at once")
	h.tr.redeem("west")
	require.Eventually(t, func() bool { return h.outcome("west") == reconcile.OutcomeLinked }, wait, tick)
	require.Eventually(t, func() bool {
		r := h.status.last()
		return r != nil && len(r.Changes) == 2 && r.Counts()[reconcile.OutcomeLinked] == 2
	}, wait, tick, "the status record holds the whole fleet, as a pass's does")

	writes, reports, events := h.tr.writes, h.status.count(), h.events.count()
	h.c.EnqueueAll(t.Context())
	h.c.GrantChanged()
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, writes, h.tr.writes, "a steady fleet gets no spoke write")
	require.Equal(t, reports, h.status.count(), "nor a status record write")
	require.Equal(t, events, h.events.count(), "nor an event")
	stop()
	require.Equal(t, 1, h.tr.opens, "one session per term")
	require.Equal(t, 1, h.tr.closes, "closed when the term ends")
	require.Equal(t, map[string]int{"east": 1, "west": 1}, h.tr.pushes, "one push per spoke")
}

func TestAGrantChangeRelinksOnlyTheSpokesThatAreNotLinked(t *testing.T) {
	h := newHarness(t, 10, nil, "east", "west")
	h.lead(t)
	h.waitOutcome(t, reconcile.OutcomePushed, "east", "west")
	h.tr.redeem("east")
	require.Eventually(t, func() bool { return h.outcome("east") == reconcile.OutcomeLinked }, wait, tick)

	// The grant is re-created: west's token, never redeemed, is stale.
	gr := h.dyn.Resource(skupper.AccessGrantsGVR).Namespace("service-interconnect")
	require.NoError(t, gr.Delete(t.Context(), "spoke-link", metav1.DeleteOptions{}))
	_, err := gr.Create(t.Context(), grantObject(t, "grant-2", 10, 0), metav1.CreateOptions{})
	require.NoError(t, err)
	h.c.GrantChanged()
	require.Eventually(t, func() bool {
		h.tr.mu.Lock()
		defer h.tr.mu.Unlock()
		return h.tr.pushes["west"] == 2
	}, wait, tick, "the spoke with a token of the old grant is pushed again")
	h.tr.state(func() {
		require.EqualValues(t, "grant-2", h.tr.spokes["west"].token.GrantUID)
		require.Equal(t, 1, h.tr.pushes["east"], "a linked spoke is left alone")
	})
}

func TestASpokeThatLeavesTheSelectionIsPrunedWhenPruningIsOn(t *testing.T) {
	for name, prune := range map[string]bool{"pruning on: pruned": true, "pruning off: left alone": false} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, 10, func(o *reconcile.Options) { o.Prune = prune }, "east", "west")
			h.lead(t)
			require.Eventually(t, func() bool { return h.outcome("west") == reconcile.OutcomePushed }, wait, tick)
			h.fleet.set("east")
			h.c.MembershipChanged()
			want := reconcile.OutcomeSkipped
			if prune {
				want = reconcile.OutcomePruned
			}
			require.Eventually(t, func() bool { return h.outcome("west") == want }, wait, tick)
			h.tr.state(func() { require.Equal(t, !prune, h.tr.spokes["west"].token != nil) })
		})
	}
}

func TestAPrunedSpokeLeavesTheStatusRecordAtTheResyncAfterItsPrune(t *testing.T) {
	h := newHarness(t, 10, func(o *reconcile.Options) { o.Prune = true }, "east", "west")
	h.c.Opts.Resync = 300 * time.Millisecond
	h.lead(t)
	require.Eventually(t, func() bool { return h.outcome("west") == reconcile.OutcomePushed }, wait, tick)
	h.fleet.set("east")
	h.c.MembershipChanged()
	recorded := func(n string) reconcile.Outcome {
		if r := h.status.last(); r != nil {
			for _, ch := range r.Changes {
				if ch.Cluster == n {
					return ch.Outcome
				}
			}
		}
		return ""
	}
	require.Eventually(t, func() bool { return recorded("west") == reconcile.OutcomePruned }, wait, tick, "the prune is recorded, as a pass records it")
	require.Eventually(t, func() bool {
		r := h.status.last()
		return recorded("west") == "" && r != nil && len(r.Changes) == 1 && r.Changes[0].Cluster == "east"
	}, wait, tick, "then the status record holds only the selected spoke")
	require.Equal(t, reconcile.Outcome(""), h.outcome("west"), "and the controller forgot west")
	// The record that first showed the prune, and the first without west.
	var pruned, dropped time.Time
	h.status.mu.Lock()
	for _, r := range h.status.results {
		for _, ch := range r.Changes {
			if ch.Cluster == "west" && ch.Outcome == reconcile.OutcomePruned && pruned.IsZero() {
				pruned = r.Started
			}
		}
		if !pruned.IsZero() && dropped.IsZero() && len(r.Changes) == 1 {
			dropped = r.Started
		}
	}
	h.status.mu.Unlock()
	require.GreaterOrEqual(t, dropped.Sub(pruned), 250*time.Millisecond, "the prune stayed recorded until a resync one period (300ms) later")
}

func TestTheBudgetCountsTokensInFlightAcrossBatches(t *testing.T) {
	h := newHarness(t, 1, nil, "east")
	h.lead(t)
	require.Eventually(t, func() bool { return h.outcome("east") == reconcile.OutcomePushed }, wait, tick)
	h.tr.state(func() { h.tr.spokes["west"] = &fakeSpoke{site: true} })
	h.fleet.set("east", "west")
	h.c.MembershipChanged()
	require.Eventually(t, func() bool { return h.outcome("west") == reconcile.OutcomeBlocked }, wait, tick,
		"the one redemption is promised to east's token in flight: west's push is blocked, not spent")
}

func TestMetricsHealthAndReadiness(t *testing.T) {
	h := newHarness(t, 10, nil, "east")
	h.lead(t)
	require.Eventually(t, func() bool { return h.outcome("east") == reconcile.OutcomePushed }, wait, tick)
	ready := false
	srv := httptest.NewServer(Handler(h.c.Metrics, func() error {
		if !ready {
			return context.DeadlineExceeded
		}
		return nil
	}))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := srv.Client().Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ := get("/healthz")
	require.Equal(t, 200, code)
	code, _ = get("/readyz")
	require.Equal(t, 503, code, "not ready before the caches are filled")
	ready = true
	code, _ = get("/readyz")
	require.Equal(t, 200, code)
	code, body := get("/metrics")
	require.Equal(t, 200, code)
	require.Regexp(t, `vanlink_spokes\{state="(pushed|pending)"\} 1`, body, "the spoke, pushed then pending while its token is redeemed")
	for _, want := range []string{"vanlink_pushes_total 1", "vanlink_grant_redemptions_left 10",
		"vanlink_grant_expiry_seconds", "vanlink_reconcile_duration_seconds_bucket", "vanlink_queue_depth", "vanlink_leader 1"} {
		require.Contains(t, body, want)
	}
	require.False(t, strings.Contains(body, "c0de"), "no metric carries the code")
}

func TestASpokeWhoseTokenKeepsFailingIsNotPushedInALoop(t *testing.T) {
	h := newHarness(t, 10, nil, "east")
	h.c.Opts.PushBackoff, h.c.Opts.MaxBackoff = 300*time.Millisecond, 5*time.Second
	h.lead(t)
	require.Eventually(t, func() bool { return h.outcome("east") == reconcile.OutcomePushed }, wait, tick)
	// The grant server fails every redemption: the token fails at once.
	fail := func() {
		h.tr.state(func() {
			if tok := h.tr.spokes["east"].token; tok != nil && tok.Status != "Error" {
				tok.Status, tok.Message = "Error", "503 (Service Unavailable)"
			}
		})
	}
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		fail()
		time.Sleep(5 * time.Millisecond)
	}
	h.tr.state(func() {
		require.LessOrEqual(t, h.tr.pushes["east"], 3, "pushes back off: 0, +300ms, +600ms within a second, not one per retry")
		require.GreaterOrEqual(t, h.tr.pushes["east"], 2, "a failed token is pushed again")
	})
}

func TestAStatusRecordThatFailedToBeWrittenIsWrittenAtTheNextBatch(t *testing.T) {
	h := newHarness(t, 10, nil, "east", "west")
	h.lead(t)
	h.waitOutcome(t, reconcile.OutcomePushed, "east", "west")
	h.tr.redeem("east")
	h.tr.redeem("west")
	require.Eventually(t, func() bool {
		r := h.status.last()
		return r != nil && r.Counts()[reconcile.OutcomeLinked] == 2
	}, wait, tick, "the fleet is recorded linked")
	// The batches in flight are done: no write for a while.
	written := h.status.count()
	require.Eventually(t, func() bool {
		time.Sleep(200 * time.Millisecond)
		n := h.status.count()
		defer func() { written = n }()
		return n == written
	}, wait, tick, "the fleet is steady")

	h.status.mu.Lock()
	h.status.fail = 1
	h.status.mu.Unlock()
	h.fleet.set("east")
	h.c.MembershipChanged()
	require.Eventually(t, func() bool { return h.outcome("west") == reconcile.OutcomeSkipped }, wait, tick, "west left the selection")
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, written, h.status.count(), "the write of west's new entry failed")

	h.c.EnqueueAll(t.Context())
	require.Eventually(t, func() bool {
		r := h.status.last()
		return h.status.count() == written+1 && r.Counts()[reconcile.OutcomeSkipped] == 1 && r.Counts()[reconcile.OutcomeLinked] == 1
	}, wait, tick, "the next batch, which changes nothing, writes what the failed write did not")
	h.c.EnqueueAll(t.Context())
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, written+1, h.status.count(), "once written, a batch that changes nothing writes nothing")
}
