package skupper

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	api "github.com/vanlink/vanlink/pkg/skupper"
)

const spokeNS = "skupper-spoke"

// tokenFor builds the AccessToken vanlink would push for grant g.
func tokenFor(g *unstructured.Unstructured, mods ...func(*unstructured.Unstructured)) *unstructured.Unstructured {
	return obj("AccessToken", spokeNS, "hub-link", map[string]any{
		"url": str(g, "status", "url"), "code": str(g, "status", "code"), "ca": str(g, "status", "ca")}, mods...)
}

// bed is a hub and one spoke sharing a clock.
type bed struct {
	hub   *Hub
	hubC  dynamic.Interface
	spoke *Spoke
	c     dynamic.Interface
	clk   *clock
	grant *unstructured.Unstructured
}

func newBed(t *testing.T, hubSite map[string]any, allowed int64) *bed {
	t.Helper()
	h, hc, clk := testHub(t)
	s, sc := testSpoke(t, clk)
	g := setupHub(t, h, hc, hubSite, map[string]any{"redemptionsAllowed": allowed, "expirationWindow": "24h"})
	return &bed{hub: h, hubC: hc, spoke: s, c: sc, clk: clk, grant: g}
}

func (b *bed) pass() {
	b.hub.processSites(context.Background())
	b.hub.processGrants(context.Background())
	b.spoke.pass(context.Background())
}

func (b *bed) redemptions(t *testing.T) int64 {
	return num(get(t, b.hubC, "AccessGrant", hubNS, "g"), "status", "redemptions")
}

func TestTokenRedemption(t *testing.T) {
	tests := map[string]struct {
		hubSite   map[string]any
		siteName  string
		wantLinks []string
		linkCost  int64
		wantCost  int64
	}{
		"a token is redeemed into the spoke's Site: a Secret and a Link named after it, owned by the Site": {
			hubSite: map[string]any{"linkAccess": "local"}, siteName: "east", wantLinks: []string{"hub-link"},
		},
		"a token is redeemed into whatever Site the namespace holds, whatever its name": {
			hubSite: map[string]any{"linkAccess": "local"}, siteName: "edge-1", wantLinks: []string{"hub-link"},
		},
		"an HA hub gives the Links <token>-1 and <token>-2, both using the Secret <token>": {
			hubSite: map[string]any{"linkAccess": "local", "ha": true}, siteName: "east", wantLinks: []string{"hub-link-1", "hub-link-2"},
		},
		"the token's linkCost becomes the cost of its Links": {
			hubSite: map[string]any{"linkAccess": "local"}, siteName: "east", wantLinks: []string{"hub-link"}, linkCost: 5, wantCost: 5,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := newBed(t, tc.hubSite, 1)
			site := create(t, b.c, obj("Site", spokeNS, tc.siteName, map[string]any{}))
			var mods []func(*unstructured.Unstructured)
			if tc.linkCost > 0 {
				mods = append(mods, withSpec("linkCost", tc.linkCost))
			}
			create(t, b.c, tokenFor(b.grant, mods...))
			b.pass()

			tok := get(t, b.c, "AccessToken", spokeNS, "hub-link")
			require.Equal(t, "Ready", str(tok, "status", "status"), "token message %q", str(tok, "status", "message"))
			require.Equal(t, "OK", str(tok, "status", "message"))
			redeemed, _, _ := unstructured.NestedBool(tok.Object, "status", "redeemed")
			require.True(t, redeemed)
			require.Equal(t, []string{"Redeemed"}, conditionTypes(tok))
			require.Equal(t, metav1.ConditionTrue, conditionOf(tok, "Redeemed").Status)

			require.ElementsMatch(t, tc.wantLinks, names(t, b.c, "Link", spokeNS))
			secret := get(t, b.c, "Secret", spokeNS, "hub-link")
			require.True(t, ownedBy(secret, site), "the Secret is owned by the Site")
			for _, n := range tc.wantLinks {
				l := get(t, b.c, "Link", spokeNS, n)
				require.True(t, ownedBy(l, site), "Link %s is owned by the Site", n)
				require.Equal(t, "hub-link", str(l, "spec", "tlsCredentials"))
				require.Equal(t, tc.wantCost, num(l, "spec", "cost"))
			}
			require.Equal(t, int64(1), b.redemptions(t))
		})
	}
}

func TestAFailedTokenIsRetriedAtOnceThenEveryRetryInterval(t *testing.T) {
	b := newBed(t, map[string]any{"linkAccess": "loadbalancer"}, 10)
	create(t, b.c, obj("Site", spokeNS, "east", map[string]any{}))
	create(t, b.c, tokenFor(b.grant))

	b.pass()
	tok := get(t, b.c, "AccessToken", spokeNS, "hub-link")
	require.Equal(t, "Error", str(tok, "status", "status"))
	require.Equal(t, "Controller got failed response: 500 (Internal Server Error) Could not resolve any endpoints for requested link", str(tok, "status", "message"))
	require.Equal(t, metav1.ConditionFalse, conditionOf(tok, "Redeemed").Status)
	require.Equal(t, int64(1), b.redemptions(t), "the failure after the count spent a redemption")

	b.pass()
	require.Equal(t, int64(2), b.redemptions(t), "the controller's own status write makes it retry at once")
	rv := get(t, b.c, "AccessToken", spokeNS, "hub-link").GetResourceVersion()
	require.Equal(t, tok.GetResourceVersion(), rv, "the same failure again writes nothing")

	b.pass()
	b.clk.Step(b.spoke.RetryInterval / 2)
	b.pass()
	require.Equal(t, int64(2), b.redemptions(t), "no retry before RetryInterval")

	b.clk.Step(b.spoke.RetryInterval / 2)
	b.pass()
	require.Equal(t, int64(3), b.redemptions(t), "a retry every RetryInterval, each spending a redemption")
	require.Equal(t, 3, b.hub.Redemptions())

	b.hub.SetLoadBalancer(true)
	b.clk.Step(b.spoke.RetryInterval)
	b.pass()
	tok = get(t, b.c, "AccessToken", spokeNS, "hub-link")
	require.Equal(t, "Ready", str(tok, "status", "status"), "redeemed once the hub Site has endpoints")
	require.Equal(t, int64(4), b.redemptions(t))
	b.clk.Step(b.spoke.RetryInterval)
	b.pass()
	require.Equal(t, int64(4), b.redemptions(t), "a redeemed token is left alone")
}

func TestALeftOverSecretMakesEveryRetrySpendARedemption(t *testing.T) {
	b := newBed(t, map[string]any{"linkAccess": "local"}, 10)
	create(t, b.c, obj("Site", spokeNS, "east", map[string]any{}))
	create(t, b.c, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "hub-link", "namespace": spokeNS}}})
	create(t, b.c, tokenFor(b.grant))
	b.pass()
	b.pass()
	tok := get(t, b.c, "AccessToken", spokeNS, "hub-link")
	require.Equal(t, `Controller could not create received secret: secrets "hub-link" already exists`, str(tok, "status", "message"))
	require.Equal(t, int64(2), b.redemptions(t))
	b.clk.Step(b.spoke.RetryInterval)
	b.pass()
	require.Equal(t, int64(3), b.redemptions(t))
}

func TestATokenWaitsForASite(t *testing.T) {
	b := newBed(t, map[string]any{"linkAccess": "local"}, 1)
	create(t, b.c, tokenFor(b.grant))
	b.pass()
	b.clk.Step(b.spoke.RetryInterval)
	b.pass()
	tok := get(t, b.c, "AccessToken", spokeNS, "hub-link")
	_, found, _ := unstructured.NestedFieldNoCopy(tok.Object, "status")
	require.False(t, found, "no status while the namespace has no Site")
	require.Zero(t, b.redemptions(t))

	site := create(t, b.c, obj("Site", spokeNS, "any-name", map[string]any{}))
	b.clk.Step(b.spoke.RetryInterval)
	b.pass()
	tok = get(t, b.c, "AccessToken", spokeNS, "hub-link")
	require.Equal(t, "Ready", str(tok, "status", "status"), "redeemed at the next resync once a Site exists")
	require.True(t, ownedBy(get(t, b.c, "Link", spokeNS, "hub-link"), site))
}

func TestADeletedSite(t *testing.T) {
	b := newBed(t, map[string]any{"linkAccess": "local", "ha": true}, 1)
	create(t, b.c, obj("Site", spokeNS, "east", map[string]any{"ha": true}))
	create(t, b.c, tokenFor(b.grant))
	b.pass()
	require.ElementsMatch(t, []string{"skupper-router", "skupper-router-2"}, names(t, b.c, "ConfigMap", spokeNS))
	redeemedAt := conditionOf(get(t, b.c, "AccessToken", spokeNS, "hub-link"), "Redeemed").LastTransitionTime

	b.clk.Step(time.Minute)
	remove(t, b.c, "Site", spokeNS, "east")
	b.pass()

	tok := get(t, b.c, "AccessToken", spokeNS, "hub-link")
	c := conditionOf(tok, "Redeemed")
	require.Equal(t, metav1.ConditionTrue, c.Status, "still Redeemed=True, so never redeemed again")
	require.Equal(t, "Error", c.Reason)
	require.Equal(t, "Already redeemed for a deleted site", c.Message)
	require.Equal(t, redeemedAt, c.LastTransitionTime, "the status of the condition did not change")
	require.Equal(t, "Error", str(tok, "status", "status"))
	require.Equal(t, "Already redeemed for a deleted site", str(tok, "status", "message"))
	redeemed, _, _ := unstructured.NestedBool(tok.Object, "status", "redeemed")
	require.True(t, redeemed)

	require.Empty(t, names(t, b.c, "ConfigMap", spokeNS), "router ConfigMaps are garbage collected with their Site")
	require.Empty(t, names(t, b.c, "Link", spokeNS), "Links of the redemption are garbage collected with their Site")
	require.Empty(t, names(t, b.c, "Secret", spokeNS), "the Secret of the redemption is garbage collected with its Site")

	create(t, b.c, obj("Site", spokeNS, "east", map[string]any{}))
	b.clk.Step(b.spoke.RetryInterval)
	b.pass()
	require.Equal(t, "Already redeemed for a deleted site", str(get(t, b.c, "AccessToken", spokeNS, "hub-link"), "status", "message"), "a new Site does not redeem it again")
	require.Empty(t, names(t, b.c, "Link", spokeNS))
}

func TestRouterConfigMaps(t *testing.T) {
	_, _, clk := testHub(t)
	s, c := testSpoke(t, clk)
	site := create(t, c, obj("Site", spokeNS, "east", map[string]any{"ha": true}))
	s.pass(context.Background())
	for _, n := range []string{"skupper-router", "skupper-router-2"} {
		cm := get(t, c, "ConfigMap", spokeNS, n)
		require.True(t, ownedBy(cm, site), "%s is owned by the Site (name and uid)", n)
		require.Contains(t, cm.GetLabels(), RouterConfigLabel)
		require.NotEmpty(t, str(cm, "data", "skrouterd.json"))
	}

	site = get(t, c, "Site", spokeNS, "east")
	_ = unstructured.SetNestedField(site.Object, false, "spec", "ha")
	_, err := c.Resource(api.SitesGVR).Namespace(spokeNS).Update(context.Background(), site, metav1.UpdateOptions{})
	require.NoError(t, err)
	s.pass(context.Background())
	require.Equal(t, []string{"skupper-router"}, names(t, c, "ConfigMap", spokeNS), "turning HA off removes the second group's ConfigMap")

	create(t, c, obj("Site", spokeNS, "second", map[string]any{}))
	s.pass(context.Background())
	second := get(t, c, "Site", spokeNS, "second")
	require.Equal(t, "Error", str(second, "status", "status"))
	require.Equal(t, "An active site already exists in the namespace (east)", str(second, "status", "message"))
	require.Equal(t, "Ready", str(get(t, c, "Site", spokeNS, "east"), "status", "status"))
}

func TestTheActiveSiteIsTheOwnerOfTheRouterConfigMap(t *testing.T) {
	_, _, clk := testHub(t)
	s, c := testSpoke(t, clk)
	create(t, c, obj("Site", spokeNS, "aaa", map[string]any{}))
	owner := create(t, c, obj("Site", spokeNS, "zzz", map[string]any{}))
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "skupper-router", "namespace": spokeNS, "labels": map[string]any{RouterConfigLabel: ""},
			"ownerReferences": ownerReferences(owner)}}}
	create(t, c, cm)
	s.pass(context.Background())
	require.Equal(t, "Ready", str(get(t, c, "Site", spokeNS, "zzz"), "status", "status"))
	require.Equal(t, "Error", str(get(t, c, "Site", spokeNS, "aaa"), "status", "status"))
}

func TestLinks(t *testing.T) {
	b := newBed(t, map[string]any{"linkAccess": "local"}, 1)
	s, c, clk := b.spoke, b.c, b.clk
	ctx := context.Background()
	link := func() *unstructured.Unstructured { return get(t, c, "Link", spokeNS, "hub-link") }

	t.Run("a Link in a namespace without a Site is in Error No active site in namespace", func(t *testing.T) {
		create(t, c, obj("Link", spokeNS, "hub-link", map[string]any{"tlsCredentials": "hub-link",
			"endpoints": []any{endpoint("inter-router", "skupper-router."+hubNS, "55671", "skupper-router")}}))
		s.pass(ctx)
		l := link()
		require.Equal(t, "Error", str(l, "status", "status"))
		require.Equal(t, "No active site in namespace", str(l, "status", "message"))
		require.Equal(t, metav1.ConditionFalse, conditionOf(l, "Configured").Status)
	})

	t.Run("once a Site is there the Link is Pending Not Operational while its Secret is missing", func(t *testing.T) {
		create(t, c, obj("Site", spokeNS, "east", map[string]any{}))
		for range 3 {
			clk.Step(s.RouterDelay)
			s.pass(ctx)
		}
		l := link()
		require.Equal(t, "Pending", str(l, "status", "status"))
		require.Equal(t, "Not Operational", str(l, "status", "message"))
		require.Equal(t, metav1.ConditionTrue, conditionOf(l, "Configured").Status)
		require.Equal(t, metav1.ConditionFalse, conditionOf(l, "Ready").Status)
	})

	t.Run("with its Secret the Link becomes Ready and the controller annotates the Secret", func(t *testing.T) {
		create(t, c, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "hub-link", "namespace": spokeNS}}})
		s.pass(ctx)
		clk.Step(s.RouterDelay)
		s.pass(ctx)
		l := link()
		require.Equal(t, "Ready", str(l, "status", "status"))
		require.Equal(t, "OK", str(l, "status", "message"))
		require.Equal(t, metav1.ConditionTrue, conditionOf(l, "Operational").Status)
		require.Equal(t, `[{"profileName":"hub-link-profile","ordinal":0}]`, get(t, c, "Secret", spokeNS, "hub-link").GetAnnotations()[TLSProfileContextAnnotation])
	})

	t.Run("a Link whose Secret is deleted goes back to Pending, Ready=False since then", func(t *testing.T) {
		readySince := conditionOf(link(), "Configured").LastTransitionTime
		clk.Step(time.Minute)
		remove(t, c, "Secret", spokeNS, "hub-link")
		s.pass(ctx)
		stoppedAt := clk.Now()
		clk.Step(time.Minute)
		s.pass(ctx)
		l := link()
		require.Equal(t, "Pending", str(l, "status", "status"))
		require.Equal(t, "Not Operational", str(l, "status", "message"))
		require.Equal(t, metav1.ConditionTrue, conditionOf(l, "Configured").Status)
		require.Equal(t, readySince, conditionOf(l, "Configured").LastTransitionTime, "Configured did not change")
		ready := conditionOf(l, "Ready")
		require.Equal(t, metav1.ConditionFalse, ready.Status)
		require.Equal(t, stoppedAt.Unix(), ready.LastTransitionTime.Unix(), "Ready=False since it stopped being Ready")
	})
}

func TestANewLinkHasNoStatusThenPendingThenReady(t *testing.T) {
	b := newBed(t, map[string]any{"linkAccess": "local"}, 1)
	create(t, b.c, obj("Site", spokeNS, "east", map[string]any{}))
	create(t, b.c, tokenFor(b.grant))
	b.pass()
	l := get(t, b.c, "Link", spokeNS, "hub-link")
	_, found, _ := unstructured.NestedFieldNoCopy(l.Object, "status")
	require.False(t, found, "right after redemption the Link has no status")

	b.clk.Step(b.spoke.RouterDelay / 2)
	b.pass()
	l = get(t, b.c, "Link", spokeNS, "hub-link")
	require.Equal(t, "Pending", str(l, "status", "status"))
	require.Equal(t, "Not Operational", str(l, "status", "message"))
	require.ElementsMatch(t, []string{"Configured", "Ready"}, conditionTypes(l))

	secret := get(t, b.c, "Secret", spokeNS, "hub-link")
	require.Contains(t, secret.GetAnnotations(), TLSProfileContextAnnotation, "the controller writes the received Secret")

	b.clk.Step(b.spoke.RouterDelay / 2)
	b.pass()
	l = get(t, b.c, "Link", spokeNS, "hub-link")
	require.Equal(t, "Ready", str(l, "status", "status"))
	require.ElementsMatch(t, []string{"Configured", "Operational", "Ready"}, conditionTypes(l))

	rvs := map[string]string{"Link": l.GetResourceVersion(), "Secret": get(t, b.c, "Secret", spokeNS, "hub-link").GetResourceVersion(),
		"Site": get(t, b.c, "Site", spokeNS, "east").GetResourceVersion(), "AccessToken": get(t, b.c, "AccessToken", spokeNS, "hub-link").GetResourceVersion()}
	for range 3 {
		b.clk.Step(b.spoke.RetryInterval)
		b.pass()
	}
	for kind, rv := range rvs {
		name := "hub-link"
		if kind == "Site" {
			name = "east"
		}
		require.Equal(t, rv, get(t, b.c, kind, spokeNS, name).GetResourceVersion(), "a steady %s is not written again", kind)
	}
}

func TestALinkToAnEndpointTheRouterCannotReachStaysNotOperational(t *testing.T) {
	tests := map[string]struct {
		host      string
		reachable func(host, port string) bool
		wantReady bool
	}{
		"an address of no hub (a stale Link)":                  {host: "10.0.0.1", wantReady: false},
		"the hub's LoadBalancer address":                       {host: LoadBalancerHost, wantReady: true},
		"a local Service of another cluster (no Site here)":    {host: "skupper-router.elsewhere", wantReady: false},
		"a local Service of this cluster, whose Site is there": {host: "skupper-router." + spokeNS, wantReady: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)}
			s, c := testSpoke(t, clk)
			s.Reachable = tc.reachable // nil: the default
			ctx := context.Background()
			create(t, c, obj("Site", spokeNS, "east", map[string]any{}))
			create(t, c, obj("Secret", spokeNS, "hub-link", nil))
			create(t, c, obj("Link", spokeNS, "hub-link", map[string]any{"tlsCredentials": "hub-link",
				"endpoints": []any{endpoint("inter-router", tc.host, "55671", "skupper-router")}}))
			for range 4 {
				s.pass(ctx)
				clk.Step(s.RouterDelay)
			}
			l := get(t, c, "Link", spokeNS, "hub-link")
			if tc.wantReady {
				require.Equal(t, "Ready", str(l, "status", "status"))
				return
			}
			require.Equal(t, "Pending", str(l, "status", "status"))
			require.Equal(t, "Not Operational", str(l, "status", "message"))
		})
	}
}
