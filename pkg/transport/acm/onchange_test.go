package acm_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
	"github.com/vanlink/vanlink/pkg/transport/acm"
	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
)

func TestASessionReportsASpokeWhoseViewResultChanged(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east", "west")
	h.tr = acm.New(h.client, acm.Options{TokenName: "hub-link", SpokeNamespace: ns, ResyncCheck: 50 * time.Millisecond, ViewInterval: time.Second})
	h.start(t)
	put(t, h.spokes["east"], "sites", "east", map[string]any{"status": "Ready"})
	put(t, h.spokes["east"], "links", "hub-link", map[string]any{"status": "Ready"})
	put(t, h.spokes["west"], "sites", "west", map[string]any{"status": "Ready"})
	put(t, h.spokes["west"], "links", "hub-link", map[string]any{"status": "Ready"})
	_, err := transport.ObserveAll(t.Context(), h.s, transport.Query{Spokes: []string{"east", "west"}})
	require.NoError(t, err)

	var mu sync.Mutex
	changed := map[string]int{}
	h.s.(transport.Watcher).OnChange(func(spoke string) {
		mu.Lock()
		changed[spoke]++
		mu.Unlock()
	})
	time.Sleep(2500 * time.Millisecond) // refreshes that find the spokes as they were
	mu.Lock()
	require.Empty(t, changed, "a refresh that finds nothing changed reports nothing")
	mu.Unlock()

	require.NoError(t, h.spokes["west"].Delete(context.Background(), skupper.LinksGVR, ns, "hub-link"))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return changed["west"] > 0
	}, 10*time.Second, 20*time.Millisecond, "west's Link view changed at its next refresh")
	mu.Lock()
	require.Zero(t, changed["east"], "east did not change")
	mu.Unlock()
}
