package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/transport"
)

func TestReconcileHandlesOnlyItsSpokesWithinTheCallersSession(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": {site: true}, "west": {site: true}, "gone": {site: true}, "down": {}})
	sel := fleet.Selection{Clusters: []fleet.Cluster{{Name: "east"}, {Name: "west"}}, Skipped: []fleet.Skipped{{Name: "down", Reason: "Available is False"}}}
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, staticFleet(sel), func(o *Options) { o.Prune = true })

	res, err := h.engine.Reconcile(t.Context(), tr, Scope{Selection: sel, Spokes: []string{"east", "down", "gone"}})
	require.NoError(t, err)
	require.Equal(t, map[string]Outcome{"east": OutcomePushed, "down": OutcomeSkipped, "gone": OutcomePruned}, outcomes(res),
		"only the spokes of the scope are handled: the selected pushed, the skipped reported, the departed pruned")
	require.Nil(t, tr.spokes["west"].token, "a spoke outside the scope is not touched")
	require.Empty(t, tr.opened, "Reconcile opens no session: it runs in the caller's")
	require.True(t, res.Changes[1].InFlight(), "a pushed token is in flight until redeemed (changes sorted: down, east, gone)")
	require.False(t, res.Changes[0].InFlight())

	res, err = h.engine.Reconcile(t.Context(), tr, Scope{Selection: sel, Spokes: []string{"east"}})
	require.NoError(t, err)
	require.Equal(t, map[string]Outcome{"east": OutcomePending}, outcomes(res))
	require.True(t, res.Changes[0].InFlight(), "a token being redeemed is in flight")
}

func TestReconcileCountsTokensInFlightOutsideItsScope(t *testing.T) {
	spokes := map[string]*spoke{}
	var sel fleet.Selection
	for i := range 3 {
		n := fmt.Sprintf("spoke-%d", i)
		spokes[n] = &spoke{site: true}
		sel.Clusters = append(sel.Clusters, fleet.Cluster{Name: n})
	}
	tr := newFake(spokes)
	// 3 redemptions left, 2 of them promised to tokens in flight elsewhere.
	h := newHarness(t, newGrantHub(t, 10, 7, now.Add(720*time.Hour)), tr, staticFleet(sel), nil)
	res, err := h.engine.Reconcile(t.Context(), tr, Scope{Selection: sel, Spokes: []string{"spoke-0", "spoke-1", "spoke-2"}, OtherInFlight: 2})
	require.NoError(t, err)
	require.Equal(t, map[string]Outcome{"spoke-0": OutcomePushed, "spoke-1": OutcomeBlocked, "spoke-2": OutcomeBlocked}, outcomes(res),
		"the gate serves only what the grant can redeem after the tokens in flight elsewhere")
	require.Equal(t, 2, res.Budget.InFlight)
}

func TestAFailedPushCarriesItsReason(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": {site: true, pushErr: fmt.Errorf("cluster east: %w", transport.ErrAgentTimeout)},
		"west": {site: true, pushErr: &transport.SpokeError{Cluster: "west", Op: "create", Reason: "CreateResourceFailed", Message: "denied"}}})
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("east", "west"), nil)
	res := h.run(t)
	reasons := map[string]string{}
	for _, c := range res.Changes {
		reasons[c.Cluster] = c.FailReason
	}
	require.Equal(t, map[string]string{"east": "AgentTimeout", "west": "CreateResourceFailed"}, reasons)
}

func TestReconcileHoldsThePushesItIsAskedToHold(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": {site: true}, "west": {site: true}})
	sel := fleet.Selection{Clusters: []fleet.Cluster{{Name: "east"}, {Name: "west"}}}
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, staticFleet(sel), nil)
	res, err := h.engine.Reconcile(t.Context(), tr, Scope{Selection: sel, Spokes: []string{"east", "west"}, Hold: map[string]Hold{"west": {Grant: "grant-1", Reason: "pushed 2s ago"}, "east": {Grant: "grant-0", Reason: "an older grant"}}})
	require.NoError(t, err)
	require.Equal(t, map[string]Outcome{"east": OutcomePushed, "west": OutcomePending}, outcomes(res), "a hold applies to the grant it names only")
	require.Contains(t, res.Changes[1].Reason, "held: pushed 2s ago")
	require.Nil(t, tr.spokes["west"].token)
}
