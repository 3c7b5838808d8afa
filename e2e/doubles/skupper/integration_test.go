//go:build integration

package skupper

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/vanlink/vanlink/e2e/fixtures"
	"github.com/vanlink/vanlink/e2e/framework"
	api "github.com/vanlink/vanlink/pkg/skupper"
)

// eventually polls cond until it holds or the wait ends.
func eventually(t *testing.T, what string, wait time.Duration, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, wait, 50*time.Millisecond, what)
}

func tryGet(c dynamic.Interface, kind, namespace, name string) *unstructured.Unstructured {
	u, err := c.Resource(gvrOf(kind)).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	return u
}

func TestDoublesOnRealAPIServers(t *testing.T) {
	env := framework.StartT(t, framework.Options{Spokes: []string{"east"}})
	ctx := t.Context()
	hubC, spokeC := env.Hub.Dynamic(), env.Spokes[0].Dynamic()
	require.NoError(t, fixtures.Namespace(ctx, env.Hub.Kube(), hubNS))
	require.NoError(t, fixtures.Namespace(ctx, env.Spokes[0].Kube(), spokeNS))

	h, err := NewHub(hubC, nil)
	require.NoError(t, err)
	t.Cleanup(h.Close)
	h.Tick = 50 * time.Millisecond

	t.Run("a write to the grant after the cache was refreshed is a real conflict: 503 and not counted", func(t *testing.T) {
		g := setupHub(t, h, hubC, map[string]any{"linkAccess": "local"}, map[string]any{"redemptionsAllowed": int64(1)})
		g.SetLabels(map[string]string{"touched": "yes"})
		_, err := hubC.Resource(api.AccessGrantsGVR).Namespace(hubNS).Update(ctx, g, metav1.UpdateOptions{})
		require.NoError(t, err)
		status, body := post(t, h, g.GetUID(), str(g, "status", "code"), "x")
		require.Equal(t, http.StatusServiceUnavailable, status)
		require.Equal(t, "Internal error", body)
		require.Zero(t, num(get(t, hubC, "AccessGrant", hubNS, "g"), "status", "redemptions"))
		remove(t, hubC, "AccessGrant", hubNS, "g")
		remove(t, hubC, "Site", hubNS, "hub")
	})

	s := NewSpoke("east", spokeC, nil)
	s.Tick, s.RetryInterval, s.RouterDelay = 50*time.Millisecond, time.Second, 400*time.Millisecond
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { h.Run(runCtx); done <- struct{}{} }()
	go func() { s.Run(runCtx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	var grant *unstructured.Unstructured
	t.Run("an HA hub with loadbalancer access and no provider is Pending, and redemptions fail after the count", func(t *testing.T) {
		create(t, hubC, obj("Site", hubNS, "hub", map[string]any{"linkAccess": "loadbalancer", "ha": true}))
		create(t, hubC, obj("AccessGrant", hubNS, "g", map[string]any{"redemptionsAllowed": int64(10), "expirationWindow": "1h"}))
		eventually(t, "the grant is Ready", 10*time.Second, func() bool {
			grant = tryGet(hubC, "AccessGrant", hubNS, "g")
			return grant != nil && str(grant, "status", "status") == "Ready"
		})
		// The Site may have been created after the controller's look at the
		// Sites in the tick that processed the grant: wait for its status.
		var site *unstructured.Unstructured
		eventually(t, "the hub Site has a status", 10*time.Second, func() bool {
			site = get(t, hubC, "Site", hubNS, "hub")
			return str(site, "status", "status") != ""
		})
		require.Equal(t, "Pending", str(site, "status", "status"))
		_, found, _ := unstructured.NestedFieldNoCopy(site.Object, "status", "endpoints")
		require.False(t, found)

		create(t, spokeC, obj("Site", spokeNS, "edge-1", map[string]any{}))
		create(t, spokeC, tokenFor(grant))
		eventually(t, "the token fails with the hub's 500 and the retry at once spends a second redemption", 10*time.Second, func() bool {
			return num(tryGet(hubC, "AccessGrant", hubNS, "g"), "status", "redemptions") >= 2
		})
		tok := get(t, spokeC, "AccessToken", spokeNS, "hub-link")
		require.Equal(t, "Controller got failed response: 500 (Internal Server Error) Could not resolve any endpoints for requested link", str(tok, "status", "message"))
	})

	t.Run("with a LoadBalancer provider the token is redeemed into two Ready Links", func(t *testing.T) {
		h.SetLoadBalancer(true)
		eventually(t, "the token is redeemed", 10*time.Second, func() bool {
			tok := tryGet(spokeC, "AccessToken", spokeNS, "hub-link")
			return tok != nil && str(tok, "status", "status") == "Ready"
		})
		eventually(t, "both Links are Ready", 10*time.Second, func() bool {
			for _, n := range []string{"hub-link-1", "hub-link-2"} {
				if l := tryGet(spokeC, "Link", spokeNS, n); l == nil || str(l, "status", "status") != "Ready" {
					return false
				}
			}
			return true
		})
		secret := get(t, spokeC, "Secret", spokeNS, "hub-link")
		require.Contains(t, secret.GetAnnotations(), TLSProfileContextAnnotation)
		require.True(t, slices.Contains(names(t, spokeC, "ConfigMap", spokeNS), "skupper-router"))
		require.True(t, slices.Contains(names(t, hubC, "ConfigMap", hubNS), "skupper-router-2"))
	})

	t.Run("a converged bed writes nothing more", func(t *testing.T) {
		type ref struct {
			c                     dynamic.Interface
			kind, namespace, name string
		}
		refs := []ref{{hubC, "Site", hubNS, "hub"}, {hubC, "AccessGrant", hubNS, "g"}, {spokeC, "Site", spokeNS, "edge-1"},
			{spokeC, "AccessToken", spokeNS, "hub-link"}, {spokeC, "Link", spokeNS, "hub-link-1"}, {spokeC, "Secret", spokeNS, "hub-link"},
			{spokeC, "ConfigMap", spokeNS, "skupper-router"}}
		before := map[ref]string{}
		for _, r := range refs {
			before[r] = get(t, r.c, r.kind, r.namespace, r.name).GetResourceVersion()
		}
		time.Sleep(s.RetryInterval + 500*time.Millisecond)
		for _, r := range refs {
			require.Equal(t, before[r], get(t, r.c, r.kind, r.namespace, r.name).GetResourceVersion(), "%s %s/%s was written again", r.kind, r.namespace, r.name)
		}
	})

	t.Run("deleting only the Secret leaves the Links Pending Not Operational", func(t *testing.T) {
		remove(t, spokeC, "Secret", spokeNS, "hub-link")
		eventually(t, "the Links are Pending", 10*time.Second, func() bool {
			l := tryGet(spokeC, "Link", spokeNS, "hub-link-1")
			return l != nil && str(l, "status", "status") == "Pending" && str(l, "status", "message") == "Not Operational"
		})
	})

	t.Run("deleting the spoke Site marks the token and collects what the Site owned", func(t *testing.T) {
		remove(t, spokeC, "Site", spokeNS, "edge-1")
		eventually(t, "the token says its Site is gone", 10*time.Second, func() bool {
			return str(tryGet(spokeC, "AccessToken", spokeNS, "hub-link"), "status", "message") == "Already redeemed for a deleted site"
		})
		eventually(t, "the Links and router ConfigMaps are gone", 10*time.Second, func() bool {
			return len(names(t, spokeC, "Link", spokeNS)) == 0 && len(names(t, spokeC, "ConfigMap", spokeNS)) <= 1 // kube-root-ca.crt
		})
	})

	t.Run("a Link in a namespace without a Site is in Error", func(t *testing.T) {
		create(t, spokeC, obj("Link", spokeNS, "manual", map[string]any{"tlsCredentials": "manual",
			"endpoints": []any{endpoint("inter-router", "hub.example", "55671", "skupper-router")}}))
		eventually(t, "the Link is in Error", 10*time.Second, func() bool {
			l := tryGet(spokeC, "Link", spokeNS, "manual")
			return l != nil && str(l, "status", "message") == "No active site in namespace"
		})
	})
}
