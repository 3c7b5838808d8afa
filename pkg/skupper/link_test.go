package skupper

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestLinkNamesFollowTheGrantServer(t *testing.T) {
	require.Equal(t, []string{"hub-link"}, LinkNames("hub-link", 1), "one router group: the token's own name")
	require.Equal(t, []string{"hub-link"}, LinkNames("hub-link", 0))
	require.Equal(t, []string{"hub-link-1", "hub-link-2"}, LinkNames("hub-link", 2), "an HA hub: one Link per group")
	require.Equal(t, []string{"hub-link", "hub-link-1", "hub-link-2"}, AllLinkNames("hub-link"))
}

func TestALinkBelongsToTheTokenWhoseCredentialsItUses(t *testing.T) {
	require.True(t, (&Link{Name: "hub-link-2", TLSCredentials: "hub-link"}).UsesCredentials("hub-link"))
	require.False(t, (&Link{Name: "hub-link", TLSCredentials: "other"}).UsesCredentials("hub-link"), "the credentials decide, not the name")
	require.True(t, (&Link{Name: "hub-link-1"}).UsesCredentials("hub-link"), "without spec (a view's slim copy), the grant server's names")
	require.False(t, (&Link{Name: "other"}).UsesCredentials("hub-link"))
}

func TestLinkSet(t *testing.T) {
	at := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	ready := Link{Name: "hub-link-1", Status: "Ready"}
	pending := Link{Name: "hub-link-2", Status: "Pending", Message: "Not Operational", Created: at.Add(-time.Hour),
		Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionFalse, LastTransitionTime: metav1.NewTime(at)}}}
	require.False(t, LinkSet(nil).Ready(), "no Link is not linked")
	require.True(t, NewLinkSet(ready).Ready())
	set := NewLinkSet(pending, ready)
	require.Equal(t, []string{"hub-link-1", "hub-link-2"}, set.Names(), "sorted by name")
	require.False(t, set.Ready(), "every Link must be Ready")
	require.Equal(t, at, set.NotReadySince(), "since its Ready condition turned False")
	require.Equal(t, "hub-link-2 Pending: Not Operational", set.Describe())
	require.Nil(t, set.Failed())
	noCond := Link{Name: "hub-link", Created: at.Add(-time.Minute)}
	require.Equal(t, at.Add(-time.Minute), noCond.NotReadySince(), "never Ready: since it was made")
}

func TestAHubSiteCanIssueLinksOnlyWhenReadyWithEndpoints(t *testing.T) {
	site := func(linkAccess, status string, eps ...any) *Site {
		o := map[string]any{"kind": "Site", "metadata": map[string]any{"name": "hub", "namespace": "si"},
			"spec": map[string]any{"linkAccess": linkAccess}, "status": map[string]any{"status": status, "message": status}}
		if eps != nil {
			o["status"].(map[string]any)["endpoints"] = eps
		}
		s, err := ParseSite(&unstructured.Unstructured{Object: o})
		require.NoError(t, err)
		return s
	}
	ep := func(name, group string) any {
		return map[string]any{"name": name, "host": "h", "port": "55671", "group": group}
	}
	tests := map[string]struct {
		site       *Site
		wantErr    string
		wantGroups int
	}{
		"Ready with one group":                     {site: site("loadbalancer", "Ready", ep("inter-router", "skupper-router"), ep("edge", "skupper-router")), wantGroups: 1},
		"Ready with two groups (HA)":               {site: site("loadbalancer", "Ready", ep("inter-router", "skupper-router"), ep("inter-router", "skupper-router-2")), wantGroups: 2},
		"no linkAccess accepts no links":           {site: site("", "Ready"), wantErr: "accepts no links"},
		"Pending (no LoadBalancer) names the Site": {site: site("loadbalancer", "Pending"), wantErr: "Site si/hub is not Ready (Pending)"},
		"Ready without endpoints":                  {site: site("local", "Ready"), wantErr: "no link endpoints"},
		"only non-link endpoints":                  {site: site("local", "Ready", ep("claims", "g")), wantErr: "no link endpoints"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.site.CanIssueLinks()
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantGroups, tc.site.LinkGroups())
		})
	}
}
