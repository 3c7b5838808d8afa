package sync

import (
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

const currentUID = types.UID("grant-v2")

// obs builds an observation; mods edit it.
func obs(mods ...func(*transport.Observation)) *transport.Observation {
	o := &transport.Observation{Cluster: "east",
		Site: transport.Observed[skupper.Site]{State: transport.Present, Object: &skupper.Site{Name: "east"}},
		Link: transport.Observed[skupper.Link]{State: transport.Absent}}
	for _, m := range mods {
		m(o)
	}
	return o
}

func link(status, message string) func(*transport.Observation) {
	return func(o *transport.Observation) {
		o.Link = transport.Observed[skupper.Link]{State: transport.Present, Object: &skupper.Link{Name: "hub-link", Status: status, Message: message}}
	}
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
				o.Link = transport.Observed[skupper.Link]{State: transport.Unknown, Reason: "GET failed"}
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
			obs: obs(), token: tok(true, "Ready", "", currentUID), wantAction: Push, wantRemove: transport.RemoveOptions{Token: true, Secret: true}, wantReason: "no Link",
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
		"a token that could not be read is pending": {
			obs: obs(), token: &transport.Observed[skupper.Token]{State: transport.Unknown, Reason: "agent did not answer"},
			wantAction: Pending, wantReason: "agent did not answer",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.token != nil {
				require.True(t, NeedsToken(tc.obs) || tc.obs.Link.State == transport.Present && tc.obs.Link.Object.Ready(), "the engine reads the token in this case")
			}
			s := PlanSpoke(tc.obs, tc.token, currentUID)
			require.Equal(t, tc.wantAction, s.Action, "reason: %s", s.Reason)
			require.Equal(t, tc.wantRemove, s.Remove)
			require.Contains(t, s.Reason, tc.wantReason)
		})
	}
}

func TestNeedsToken(t *testing.T) {
	require.False(t, NeedsToken(obs(link("Ready", ""))), "a Ready Link needs no token read (and no view holding the code)")
	require.False(t, NeedsToken(obs(noSite)), "without a Site nothing is redeemed")
	require.True(t, NeedsToken(obs()))
	require.True(t, NeedsToken(obs(link("Pending", ""))))
}
