package reconcile

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

const currentUID = types.UID("grant-v2")

// obs builds an observation; mods edit it.
func obs(mods ...func(*transport.Observation)) *transport.Observation {
	o := &transport.Observation{Cluster: "east", Fresh: true, Credentials: transport.Present,
		Site:  transport.Observed[skupper.Site]{State: transport.Present, Object: &skupper.Site{Name: "east", Status: "Ready"}},
		Links: transport.Observed[skupper.LinkSet]{State: transport.Absent}}
	for _, m := range mods {
		m(o)
	}
	return o
}

func link(status, message string) func(*transport.Observation) {
	return links(skupper.Link{Name: "hub-link", TLSCredentials: "hub-link", Status: status, Message: message})
}

// links sets the token's Links.
func links(ls ...skupper.Link) func(*transport.Observation) {
	return func(o *transport.Observation) {
		set := skupper.NewLinkSet(ls...)
		o.Links = transport.Observed[skupper.LinkSet]{State: transport.Present, Object: &set}
	}
}

// haLink is Link hub-link-<n> of an HA hub, with its Ready condition.
func haLink(n string, ready metav1.ConditionStatus, since time.Time) skupper.Link {
	status := "Ready"
	if ready != metav1.ConditionTrue {
		status = "Pending"
	}
	return skupper.Link{Name: "hub-link-" + n, TLSCredentials: "hub-link", Status: status, Created: since,
		Conditions: []metav1.Condition{{Type: "Ready", Status: ready, LastTransitionTime: metav1.NewTime(since)}}}
}

func withToken(tk *transport.Observed[skupper.Token]) func(*transport.Observation) {
	return func(o *transport.Observation) { o.Token = tk }
}

func noSite(o *transport.Observation) {
	o.Site = transport.Observed[skupper.Site]{State: transport.Absent}
}

func tok(redeemed bool, status, message string, uid types.UID) *transport.Observed[skupper.Token] {
	return &transport.Observed[skupper.Token]{State: transport.Present, Object: &skupper.Token{Name: "hub-link", Redeemed: redeemed, Status: status, Message: message, GrantUID: uid}}
}

var absentToken = &transport.Observed[skupper.Token]{State: transport.Absent}

func TestPlanSpoke(t *testing.T) {
	tests := map[string]struct {
		obs        *transport.Observation
		token      *transport.Observed[skupper.Token]
		wantAction Action
		wantRemove transport.RemoveOptions
		wantReason string
	}{
		"a Ready Link is in sync": {
			obs: obs(link("Ready", "OK")), wantAction: InSync,
		},
		"a Ready Link made from a replaced grant's token is still in sync": {
			obs: obs(link("Ready", "OK")), token: tok(true, "Ready", "", "grant-v1"), wantAction: InSync,
		},
		"no Site yet is pending and spends nothing": {
			obs: obs(noSite), wantAction: Pending, wantReason: "no Site",
		},
		"a Site that cannot be observed is pending": {
			obs: obs(func(o *transport.Observation) {
				o.Site = transport.Observed[skupper.Site]{State: transport.Unknown, Reason: "agent has not processed the view"}
			}), wantAction: Pending, wantReason: "agent has not processed",
		},
		"a Link that cannot be observed is pending": {
			obs: obs(func(o *transport.Observation) {
				o.Links = transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: "GET failed"}
			}),
			wantAction: Pending, wantReason: "GET failed",
		},
		"no token and no Link is a push that first removes a leftover Secret": {
			obs: obs(), token: absentToken, wantAction: Push, wantRemove: transport.RemoveOptions{Secret: true}, wantReason: "no AccessToken",
		},
		"a token being redeemed is pending": {
			obs: obs(), token: tok(false, "", "", currentUID), wantAction: Pending, wantReason: "being redeemed",
		},
		"a failed token is re-pushed after removing it, its Link and Secret": {
			obs: obs(link("Error", "x")), token: tok(false, "Error", "Controller got failed response: 404 (Not Found) No such claim", currentUID),
			wantAction: Push, wantRemove: transport.All, wantReason: "No such claim",
		},
		"a failed token without Link is re-pushed after removing the token and Secret": {
			obs: obs(), token: tok(false, "Error", `Controller could not create received secret: secrets "hub-link" already exists`, currentUID),
			wantAction: Push, wantRemove: transport.RemoveOptions{Token: true, Secret: true}, wantReason: "already exists",
		},
		"a redeemed token whose Link is configured but not ready is pending (router coming up)": {
			obs: obs(link("Pending", "Not Operational")), token: tok(true, "Ready", "", currentUID), wantAction: Pending, wantReason: "router not ready",
		},
		"a Link right after redemption has no status and is pending": {
			obs: obs(link("", "")), token: tok(true, "Ready", "", currentUID), wantAction: Pending, wantReason: "no status",
		},
		"a redeemed token without a Link is re-pushed": {
			obs: obs(), token: tok(true, "Ready", "", currentUID), wantAction: Push, wantRemove: transport.RemoveOptions{Token: true, Secret: true}, wantReason: "none of its Links",
		},
		"a token from a replaced grant that was never redeemed is re-pushed": {
			obs: obs(), token: tok(false, "", "", "grant-v1"), wantAction: Push, wantRemove: transport.RemoveOptions{Token: true, Secret: true}, wantReason: "replaced grant",
		},
		"a failed Link from a replaced grant's token is re-pushed": {
			obs: obs(link("Error", "connection refused")), token: tok(true, "Ready", "", "grant-v1"), wantAction: Push, wantRemove: transport.All,
		},
		"a failed Link from the current grant is reported, not re-pushed (that would burn a redemption)": {
			obs: obs(link("Error", "connection refused")), token: tok(true, "Ready", "", currentUID), wantAction: Pending, wantReason: "connection refused",
		},
		"a Link without its token, not failed, is pending": {
			obs: obs(link("Pending", "Not Operational")), token: absentToken, wantAction: Pending, wantReason: "without its AccessToken",
		},
		"a failed Link without its token is re-pushed": {
			obs: obs(link("Error", "bad certificate")), token: absentToken, wantAction: Push, wantRemove: transport.RemoveOptions{Link: true, Secret: true},
		},
		"an HA hub's two Ready Links are in sync (fault: the token's Links are every Link using its credentials)": {
			obs: obs(links(haLink("1", metav1.ConditionTrue, now), haLink("2", metav1.ConditionTrue, now))), wantAction: InSync, wantReason: "2 Links Ready",
		},
		"an HA hub's Links, one still coming up, are pending, not re-pushed": {
			obs:   obs(links(haLink("1", metav1.ConditionTrue, now), haLink("2", metav1.ConditionFalse, now.Add(-time.Minute)))),
			token: tok(true, "Ready", "", currentUID), wantAction: Pending, wantReason: "router not ready",
		},
		"a token redeemed for a Site since deleted is re-pushed with its Links and Secret removed": {
			obs: obs(link("Error", "No active site in namespace")), token: tok(true, "Error", "Already redeemed for a deleted site", currentUID),
			wantAction: Push, wantRemove: transport.All, wantReason: "Site that is gone",
		},
		"a Link whose credentials Secret is missing is re-linked": {
			obs:   obs(link("Pending", "Not Operational"), func(o *transport.Observation) { o.Credentials = transport.Absent }),
			token: tok(true, "Ready", "", currentUID), wantAction: Push, wantRemove: transport.All, wantReason: "credentials Secret is missing",
		},
		"a Link not Ready for longer than the bound while the Site is Ready is re-linked": {
			obs:   obs(links(haLink("1", metav1.ConditionFalse, now.Add(-11*time.Minute)))),
			token: tok(true, "Ready", "", currentUID), wantAction: Push, wantRemove: transport.All, wantReason: "not Ready for 11m0s",
		},
		"a Link not Ready for longer than the bound while the Site is not Ready is pending (the router is down)": {
			obs: obs(links(haLink("1", metav1.ConditionFalse, now.Add(-11*time.Minute))), func(o *transport.Observation) {
				o.Site.Object.Status = "Pending"
			}),
			token: tok(true, "Ready", "", currentUID), wantAction: Pending, wantReason: "router not ready",
		},
		"a Link not Ready within the bound is pending": {
			obs:   obs(links(haLink("1", metav1.ConditionFalse, now.Add(-9*time.Minute)))),
			token: tok(true, "Ready", "", currentUID), wantAction: Pending, wantReason: "router not ready",
		},
		"a token the grant server refused with 503 (a conflict while counting) is left to the spoke controller's retry": {
			obs: obs(), token: tok(false, "Error", "Controller got failed response: 503 (Service Unavailable) Internal error", currentUID),
			wantAction: Pending, wantReason: "spoke controller retries",
		},
		"a 503-failed token of a replaced grant is re-pushed (its grant is gone)": {
			obs: obs(), token: tok(false, "Error", "Controller got failed response: 503 (Service Unavailable) Internal error", "grant-v1"),
			wantAction: Push, wantRemove: transport.RemoveOptions{Token: true, Secret: true}, wantReason: "503",
		},
		"a token that could not be read is pending": {
			obs: obs(), token: &transport.Observed[skupper.Token]{State: transport.Unknown, Reason: "agent did not answer"},
			wantAction: Pending, wantReason: "agent did not answer",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.token != nil {
				require.True(t, NeedsToken(tc.obs) || tc.obs.Links.State == transport.Present && tc.obs.Links.Object.Ready(), "the engine reads the token in this case")
			}
			tc.obs.Token = tc.token
			s := PlanSpoke(tc.obs, PlanInput{GrantUID: currentUID, Now: now, LinkReadyTimeout: 10 * time.Minute})
			require.Equal(t, tc.wantAction, s.Action, "reason: %s", s.Reason)
			require.Equal(t, tc.wantRemove, s.Remove)
			require.Contains(t, s.Reason, tc.wantReason)
		})
	}
}

func TestAHubThatCannotIssueLinksHoldsEveryPush(t *testing.T) {
	in := PlanInput{GrantUID: currentUID, Now: now, HubBlocked: "Site service-interconnect/hub has no link endpoints"}
	s := PlanSpoke(obs(withToken(absentToken)), in)
	require.Equal(t, Pending, s.Action, "a redemption against a hub without endpoints is spent and fails")
	require.Contains(t, s.Reason, "no link endpoints")
	require.Equal(t, transport.RemoveOptions{}, s.Remove, "nothing is removed either")
	require.Equal(t, InSync, PlanSpoke(obs(link("Ready", "")), in).Action, "working links are still reported linked")
}

func TestNeedsToken(t *testing.T) {
	require.False(t, NeedsToken(obs(link("Ready", ""))), "a Ready Link needs no token read (and no view holding the code)")
	require.False(t, NeedsToken(obs(noSite)), "without a Site nothing is redeemed")
	require.True(t, NeedsToken(obs()))
	require.True(t, NeedsToken(obs(link("Pending", ""))))
	require.False(t, NeedsToken(obs(withToken(absentToken))), "a token already read is not read again")
}
