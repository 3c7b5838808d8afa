package reconcile

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/pkg/fleet"
)

// TestABlockedHubAsksForNoLinkNames: a hub Site that cannot issue links
// says nothing of its router groups, so a pass (and a controller's
// reconcile) asks the transport for no Link names, and the transport keeps
// reading the names it read (an HA hub's <token>-1 and -2), instead of
// [<token>], which would delete the views of working Links and report the
// spokes pending on ACM and ManifestWork.
func TestABlockedHubAsksForNoLinkNames(t *testing.T) {
	tr := newFake(map[string]*spoke{"east": haLinkedSpoke()})
	h := newHarness(t, newGrantHub(t, 10, 1, now.Add(720*time.Hour)), tr, selection("east"), nil)
	sites := &hubSites{sites: []map[string]any{hubSite("loadbalancer", "Ready", "skupper-router", "skupper-router-2")}}
	h.engine.Sites = sites
	h.run(t)
	require.Equal(t, []string{"hub-link-1", "hub-link-2"}, tr.queries[0].LinkNames, "a Ready HA hub names its two Links")

	sites.mu.Lock()
	sites.sites = []map[string]any{hubSite("loadbalancer", "Pending")}
	sites.mu.Unlock()
	res := h.run(t)
	require.Empty(t, tr.queries[1].LinkNames, "a blocked hub's router groups are unknown: no names, the transport keeps its own")
	require.Equal(t, map[string]Outcome{"east": OutcomeLinked}, outcomes(res), "the HA spoke stays linked")
	require.Zero(t, tr.writes.Load())

	_, err := h.engine.Reconcile(t.Context(), tr, Scope{Selection: fleet.Selection(selection("east")), Spokes: []string{"east"}})
	require.NoError(t, err)
	require.Empty(t, tr.queries[2].LinkNames, "a controller's reconcile asks for none either")
}
