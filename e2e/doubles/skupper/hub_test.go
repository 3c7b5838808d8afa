package skupper

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"

	api "github.com/vanlink/vanlink/pkg/skupper"
)

const hubNS = "skupper-hub"

func withSpec(path string, v any) func(*unstructured.Unstructured) {
	return func(u *unstructured.Unstructured) { _ = unstructured.SetNestedField(u.Object, v, "spec", path) }
}

func endpoint(name, host, port, group string) any {
	return map[string]any{"name": name, "host": host, "port": port, "group": group}
}

func TestSiteStatusFollowsLinkAccess(t *testing.T) {
	local := "skupper-router." + hubNS
	tests := map[string]struct {
		spec          map[string]any
		loadBalancer  bool
		wantStatus    string
		wantMessage   string
		wantEndpoints []any
		wantConds     []string
	}{
		"a Site without linkAccess is Ready with no endpoints and no Resolved condition": {
			spec: map[string]any{}, wantStatus: "Ready", wantMessage: "OK",
			wantConds: []string{"Configured", "Running", "Ready"},
		},
		"a Site with linkAccess none is Ready with no endpoints": {
			spec: map[string]any{"linkAccess": "none"}, wantStatus: "Ready", wantMessage: "OK",
			wantConds: []string{"Configured", "Running", "Ready"},
		},
		"a Site with local access gives skupper-router.<namespace> on 55671 and 45671": {
			spec: map[string]any{"linkAccess": "local"}, wantStatus: "Ready", wantMessage: "OK",
			wantEndpoints: []any{endpoint("inter-router", local, "55671", "skupper-router"), endpoint("edge", local, "45671", "skupper-router")},
			wantConds:     []string{"Configured", "Running", "Resolved", "Ready"},
		},
		"an HA Site with local access gives endpoints for each router group": {
			spec: map[string]any{"linkAccess": "local", "ha": true}, wantStatus: "Ready", wantMessage: "OK",
			wantEndpoints: []any{
				endpoint("inter-router", local, "55671", "skupper-router"), endpoint("edge", local, "45671", "skupper-router"),
				endpoint("inter-router", "skupper-router-2."+hubNS, "55671", "skupper-router-2"), endpoint("edge", "skupper-router-2."+hubNS, "45671", "skupper-router-2"),
			},
			wantConds: []string{"Configured", "Running", "Resolved", "Ready"},
		},
		"a Site with loadbalancer access and no LoadBalancer provider stays Pending with no endpoints": {
			spec: map[string]any{"linkAccess": "loadbalancer"}, wantStatus: "Pending", wantMessage: "Pending",
			wantConds: []string{"Configured", "Running", "Resolved", "Ready"},
		},
		"a Site with loadbalancer access and a LoadBalancer provider gives the load balancer's address": {
			spec: map[string]any{"linkAccess": "loadbalancer"}, loadBalancer: true, wantStatus: "Ready", wantMessage: "OK",
			wantEndpoints: []any{endpoint("inter-router", "127.0.0.1", "55671", "skupper-router"), endpoint("edge", "127.0.0.1", "45671", "skupper-router")},
			wantConds:     []string{"Configured", "Running", "Resolved", "Ready"},
		},
		"a Site with default access is a loadbalancer off OpenShift, so Pending without a provider": {
			spec: map[string]any{"linkAccess": "default"}, wantStatus: "Pending", wantMessage: "Pending",
			wantConds: []string{"Configured", "Running", "Resolved", "Ready"},
		},
		"a Site with route access stays Pending off OpenShift": {
			spec: map[string]any{"linkAccess": "route"}, loadBalancer: true, wantStatus: "Pending", wantMessage: "Pending",
			wantConds: []string{"Configured", "Running", "Resolved", "Ready"},
		},
		"a Site with an access type the controller has not enabled is in Error": {
			spec: map[string]any{"linkAccess": "nodeport"}, wantStatus: "Error", wantMessage: "Unsupported value for LinkAccess: nodeport",
			wantConds: []string{"Configured", "Ready"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, c, _ := testHub(t)
			h.SetLoadBalancer(tc.loadBalancer)
			create(t, c, obj("Site", hubNS, "hub", tc.spec))
			h.processSites(context.Background())
			site := get(t, c, "Site", hubNS, "hub")
			require.Equal(t, tc.wantStatus, str(site, "status", "status"), "status.status")
			require.Equal(t, tc.wantMessage, str(site, "status", "message"), "status.message")
			eps, _, _ := unstructured.NestedSlice(site.Object, "status", "endpoints")
			require.Equal(t, tc.wantEndpoints, eps, "status.endpoints")
			require.ElementsMatch(t, tc.wantConds, conditionTypes(site), "conditions")

			rv := site.GetResourceVersion()
			h.processSites(context.Background())
			require.Equal(t, rv, get(t, c, "Site", hubNS, "hub").GetResourceVersion(), "a second pass writes nothing")
		})
	}
}

func TestSiteBecomesReadyWhenALoadBalancerAppears(t *testing.T) {
	h, c, clk := testHub(t)
	create(t, c, obj("Site", hubNS, "hub", map[string]any{"linkAccess": "loadbalancer"}))
	h.processSites(context.Background())
	pending := conditionOf(get(t, c, "Site", hubNS, "hub"), "Ready")
	pendingRunning := conditionOf(get(t, c, "Site", hubNS, "hub"), "Running")
	require.Equal(t, metav1.ConditionFalse, pending.Status)

	clk.Step(time.Minute)
	h.SetLoadBalancer(true)
	h.processSites(context.Background())
	site := get(t, c, "Site", hubNS, "hub")
	require.Equal(t, "Ready", str(site, "status", "status"))
	ready := conditionOf(site, "Ready")
	require.Equal(t, metav1.ConditionTrue, ready.Status)
	require.True(t, ready.LastTransitionTime.After(pending.LastTransitionTime.Time), "Ready's lastTransitionTime moves when its status changes")
	require.Equal(t, pendingRunning.LastTransitionTime, conditionOf(site, "Running").LastTransitionTime, "Running did not change, nor did its lastTransitionTime")
}

func TestGrantStatus(t *testing.T) {
	tests := map[string]struct {
		spec   map[string]any
		verify func(t *testing.T, h *Hub, g *unstructured.Unstructured, clk *clock)
	}{
		"a processed grant is Ready with url, ca, a 24-character code, an expiry and no redemptions field": {
			spec: map[string]any{"redemptionsAllowed": int64(3), "expirationWindow": "1h"},
			verify: func(t *testing.T, h *Hub, g *unstructured.Unstructured, clk *clock) {
				require.Equal(t, "https://"+h.Addr()+"/"+string(g.GetUID()), str(g, "status", "url"))
				require.Equal(t, h.CA(), str(g, "status", "ca"))
				require.Len(t, str(g, "status", "code"), 24)
				require.Equal(t, clk.Now().Add(time.Hour).Format(time.RFC3339), str(g, "status", "expirationTime"))
				_, found, _ := unstructured.NestedFieldNoCopy(g.Object, "status", "redemptions")
				require.False(t, found, "status.redemptions is omitted at 0")
				require.Equal(t, "Ready", str(g, "status", "status"))
				require.Equal(t, "OK", str(g, "status", "message"))
				require.ElementsMatch(t, []string{"Processed", "Resolved", "Ready"}, conditionTypes(g))
				for _, ct := range []string{"Processed", "Resolved", "Ready"} {
					require.Equal(t, metav1.ConditionTrue, conditionOf(g, ct).Status, ct)
				}
			},
		},
		"spec.code is used as the code and an empty window gives 10 minutes": {
			spec: map[string]any{"redemptionsAllowed": int64(1), "code": "my-code"},
			verify: func(t *testing.T, h *Hub, g *unstructured.Unstructured, clk *clock) {
				require.Equal(t, "my-code", str(g, "status", "code"))
				require.Equal(t, clk.Now().Add(10*time.Minute).Format(time.RFC3339), str(g, "status", "expirationTime"))
			},
		},
		"an unset redemptionsAllowed is written as 1 into the spec": {
			spec: map[string]any{},
			verify: func(t *testing.T, h *Hub, g *unstructured.Unstructured, clk *clock) {
				require.Equal(t, int64(1), num(g, "spec", "redemptionsAllowed"))
				require.Equal(t, "Ready", str(g, "status", "status"))
			},
		},
		"an invalid expirationWindow is an Error and sets no expiry": {
			spec: map[string]any{"redemptionsAllowed": int64(1), "expirationWindow": "soon"},
			verify: func(t *testing.T, h *Hub, g *unstructured.Unstructured, clk *clock) {
				require.Equal(t, "Error", str(g, "status", "status"))
				require.Contains(t, str(g, "status", "message"), `Invalid duration "soon"`)
				require.Empty(t, str(g, "status", "expirationTime"))
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, c, clk := testHub(t)
			create(t, c, obj("AccessGrant", hubNS, "g", tc.spec))
			h.processGrants(context.Background())
			h.processGrants(context.Background())
			tc.verify(t, h, get(t, c, "AccessGrant", hubNS, "g"), clk)
		})
	}
}

func TestGrantCodeAndExpiryAreSetOnce(t *testing.T) {
	h, c, clk := testHub(t)
	create(t, c, obj("AccessGrant", hubNS, "g", map[string]any{"redemptionsAllowed": int64(1), "expirationWindow": "1h"}))
	h.processGrants(context.Background())
	first := get(t, c, "AccessGrant", hubNS, "g")

	clk.Step(30 * time.Minute)
	_ = unstructured.SetNestedField(first.Object, "48h", "spec", "expirationWindow")
	_ = unstructured.SetNestedField(first.Object, "other-code", "spec", "code")
	_, err := c.Resource(api.AccessGrantsGVR).Namespace(hubNS).Update(context.Background(), first, metav1.UpdateOptions{})
	require.NoError(t, err)
	h.processGrants(context.Background())
	later := get(t, c, "AccessGrant", hubNS, "g")
	require.Equal(t, str(first, "status", "code"), str(later, "status", "code"), "the code is never recomputed")
	require.Equal(t, str(first, "status", "expirationTime"), str(later, "status", "expirationTime"), "the expiry is never recomputed")
}

func TestARecreatedGrantHasANewURLAndTheSameCA(t *testing.T) {
	h, c, _ := testHub(t)
	create(t, c, obj("AccessGrant", hubNS, "g", map[string]any{"redemptionsAllowed": int64(1)}))
	h.processGrants(context.Background())
	first := get(t, c, "AccessGrant", hubNS, "g")
	remove(t, c, "AccessGrant", hubNS, "g")
	create(t, c, obj("AccessGrant", hubNS, "g", map[string]any{"redemptionsAllowed": int64(1)}))
	h.processGrants(context.Background())
	second := get(t, c, "AccessGrant", hubNS, "g")
	require.NotEqual(t, str(first, "status", "url"), str(second, "status", "url"))
	require.NotEqual(t, str(first, "status", "code"), str(second, "status", "code"))
	require.Equal(t, str(first, "status", "ca"), str(second, "status", "ca"))
}

// setupHub makes a hub Site (nil spec: none) and a processed grant.
func setupHub(t *testing.T, h *Hub, c dynamic.Interface, site map[string]any, grant map[string]any) *unstructured.Unstructured {
	t.Helper()
	if site != nil {
		create(t, c, obj("Site", hubNS, "hub", site))
	}
	create(t, c, obj("AccessGrant", hubNS, "g", grant))
	h.processSites(context.Background())
	h.processGrants(context.Background())
	return get(t, c, "AccessGrant", hubNS, "g")
}

func TestRedemption(t *testing.T) {
	local := map[string]any{"linkAccess": "local"}
	tests := map[string]struct {
		site        map[string]any
		grant       map[string]any
		expired     bool
		code        string
		wantCode    int
		wantBody    string
		wantCounted int64
		wantLinks   map[string]string // link name -> group of its endpoints ("*" any)
	}{
		"a hub Site with one router group gives a Secret and one Link named after the token": {
			site: local, grant: map[string]any{"redemptionsAllowed": int64(2)}, wantCode: 200, wantCounted: 1,
			wantLinks: map[string]string{"hub-link": "skupper-router"},
		},
		"an HA hub Site gives one Link per router group, named <token>-1 and <token>-2": {
			site: map[string]any{"linkAccess": "local", "ha": true}, grant: map[string]any{"redemptionsAllowed": int64(2)}, wantCode: 200, wantCounted: 1,
			wantLinks: map[string]string{"hub-link-1": "*", "hub-link-2": "*"},
		},
		"a hub Site without endpoints answers 500 after spending the redemption": {
			site: map[string]any{"linkAccess": "loadbalancer"}, grant: map[string]any{"redemptionsAllowed": int64(2)},
			wantCode: 500, wantBody: "Could not resolve any endpoints for requested link", wantCounted: 1,
		},
		"a hub Site without linkAccess answers 500 after spending the redemption": {
			site: map[string]any{}, grant: map[string]any{"redemptionsAllowed": int64(2)},
			wantCode: 500, wantBody: "Could not resolve any endpoints for requested link", wantCounted: 1,
		},
		"no hub Site answers 500 after spending the redemption": {
			grant:    map[string]any{"redemptionsAllowed": int64(2)},
			wantCode: 500, wantBody: "Site not yet defined for " + hubNS, wantCounted: 1,
		},
		"a wrong code answers 403 and spends nothing": {
			site: local, grant: map[string]any{"redemptionsAllowed": int64(2)}, code: "wrong",
			wantCode: 403, wantBody: "Redemption of access token refused",
		},
		"an exhausted grant answers 404 No such access granted": {
			site: local, grant: map[string]any{"redemptionsAllowed": int64(1)}, wantCode: 404, wantBody: "No such access granted", wantCounted: 1,
		},
		"an expired grant answers 404 No such claim": {
			site: local, grant: map[string]any{"redemptionsAllowed": int64(2), "expirationWindow": "1m"}, expired: true,
			wantCode: 404, wantBody: "No such claim",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h, c, clk := testHub(t)
			g := setupHub(t, h, c, tc.site, tc.grant)
			code := str(g, "status", "code")
			if tc.code != "" {
				code = tc.code
			}
			if name == "an exhausted grant answers 404 No such access granted" {
				status, _ := post(t, h, g.GetUID(), code, "first")
				require.Equal(t, 200, status, "the only redemption")
			}
			if tc.expired {
				clk.Step(2 * time.Minute)
			}
			status, body := post(t, h, g.GetUID(), code, "hub-link")
			require.Equal(t, tc.wantCode, status, "HTTP status (body %q)", body)
			if tc.wantBody != "" {
				require.Equal(t, tc.wantBody, body)
			}
			require.Equal(t, tc.wantCounted, num(get(t, c, "AccessGrant", hubNS, "g"), "status", "redemptions"), "status.redemptions")
			require.Equal(t, int(tc.wantCounted), h.Redemptions(), "Hub.Redemptions")
			if tc.wantLinks == nil {
				return
			}
			secret, links, err := decodeResponse([]byte(body))
			require.NoError(t, err)
			require.Equal(t, "Secret", secret.GetKind())
			require.Equal(t, "hub-link", secret.GetName())
			require.Equal(t, "kubernetes.io/tls", str(secret, "type"))
			for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
				require.NotEmpty(t, str(secret, "data", k), "Secret data %s", k)
			}
			got := map[string]string{}
			groups := map[string]bool{}
			for _, l := range links {
				require.Equal(t, "Link", l.GetKind())
				require.Equal(t, "hub-link", str(l, "spec", "tlsCredentials"), "every Link uses the Secret <token>")
				eps, _, _ := unstructured.NestedSlice(l.Object, "spec", "endpoints")
				require.Len(t, eps, 2, "inter-router and edge")
				group := eps[0].(map[string]any)["group"].(string)
				groups[group] = true
				got[l.GetName()] = group
				_, hasCost, _ := unstructured.NestedFieldNoCopy(l.Object, "spec", "cost")
				require.False(t, hasCost, "the grant server sets no cost")
			}
			require.Len(t, got, len(tc.wantLinks))
			require.Len(t, groups, len(tc.wantLinks), "one Link per group")
			for n, grp := range tc.wantLinks {
				require.Contains(t, got, n)
				if grp != "*" {
					require.Equal(t, grp, got[n])
				}
			}
		})
	}
}

func TestRedemptionMethodNotAllowed(t *testing.T) {
	h, _, _ := testHub(t)
	resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: tlsTrusting(t, h)}}).Get("https://" + h.Addr() + "/x")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestRedemptionConflict(t *testing.T) {
	h, c, _ := testHub(t)
	g := setupHub(t, h, c, map[string]any{"linkAccess": "local"}, map[string]any{"redemptionsAllowed": int64(1)})
	code := str(g, "status", "code")

	// Someone writes the grant after the controller's cache was refreshed.
	g.SetLabels(map[string]string{"touched": "yes"})
	_, err := c.Resource(api.AccessGrantsGVR).Namespace(hubNS).Update(context.Background(), g, metav1.UpdateOptions{})
	require.NoError(t, err)

	status, body := post(t, h, g.GetUID(), code, "hub-link")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "Internal error", body)
	require.Zero(t, num(get(t, c, "AccessGrant", hubNS, "g"), "status", "redemptions"), "a conflict is not counted")
	require.Zero(t, h.Redemptions())
	written, failed := h.Counted(string(g.GetUID()))
	require.Equal(t, [2]int{0, 1}, [2]int{written, failed}, "Counted: nothing written, one write failed")

	status, body = post(t, h, g.GetUID(), code, "hub-link")
	require.Equal(t, http.StatusNotFound, status, "as upstream, the stale cache keeps its increment until it is refreshed")
	require.Equal(t, "No such access granted", body)

	h.processGrants(context.Background())
	status, _ = post(t, h, g.GetUID(), code, "hub-link")
	require.Equal(t, http.StatusOK, status, "after the cache is refreshed the redemption goes through")
	require.Equal(t, int64(1), num(get(t, c, "AccessGrant", hubNS, "g"), "status", "redemptions"))
	require.Equal(t, 1, h.Redemptions())
	written, failed = h.Counted(string(g.GetUID()))
	require.Equal(t, [2]int{1, 1}, [2]int{written, failed}, "Counted: one written, one write failed")
	written, failed = h.Counted("another-grant")
	require.Zero(t, written+failed, "Counted is per grant uid")
}

func TestResponseIsMultiDocumentYAML(t *testing.T) {
	h, c, _ := testHub(t)
	g := setupHub(t, h, c, map[string]any{"linkAccess": "local"}, map[string]any{"redemptionsAllowed": int64(1)})
	status, body := post(t, h, g.GetUID(), str(g, "status", "code"), "hub-link")
	require.Equal(t, 200, status)
	require.True(t, strings.HasPrefix(body, "---\n"))
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(body), 1024)
	var kinds []string
	for {
		var doc map[string]any
		if dec.Decode(&doc) != nil {
			break
		}
		kinds = append(kinds, doc["kind"].(string))
	}
	require.Equal(t, []string{"Secret", "Link"}, kinds, "the Secret first, then the Links")
}
