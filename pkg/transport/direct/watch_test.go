package direct

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// watchingLinks reports whether a spoke's fake client serves a watch of
// Links.
func watchingLinks(f *dynamicfake.FakeDynamicClient) bool {
	for _, a := range f.Actions() {
		if a.GetVerb() == "watch" && a.GetResource().Resource == "links" {
			return true
		}
	}
	return false
}

func TestAControllersSessionReportsASpokeWhoseLinkBreaks(t *testing.T) {
	east := spoke(obj("Site", "east", nil), obj("Link", "hub-link", map[string]any{"status": "Ready"}),
		obj("Link", "other-hub", map[string]any{"status": "Ready"}))
	west := spoke(obj("Site", "west", nil))
	sess := open(t, map[string]*dynamicfake.FakeDynamicClient{"east": east, "west": west})
	t.Cleanup(func() { _ = sess.Close(t.Context()) })
	var mu sync.Mutex
	var changed []string
	sess.(transport.Watcher).OnChange(func(spoke string) {
		mu.Lock()
		defer mu.Unlock()
		changed = append(changed, spoke)
	})
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), changed...)
	}
	_, err := transport.ObserveAll(t.Context(), sess, transport.Query{Spokes: []string{"east"}})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return watchingLinks(east) }, 5*time.Second, 10*time.Millisecond, "a spoke the session read has its Links watched")
	require.False(t, watchingLinks(west), "a spoke the session never read is not watched")

	links := east.Resource(skupper.LinksGVR).Namespace(ns)
	other, err := links.Get(t.Context(), "other-hub", metav1.GetOptions{})
	require.NoError(t, err)
	other.Object["status"] = map[string]any{"status": "Error", "message": "connection refused"}
	_, err = links.Update(t.Context(), other, metav1.UpdateOptions{})
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	require.Empty(t, seen(), "the Links already there when the watch started, and another token's Link, call nothing")

	l, err := links.Get(t.Context(), "hub-link", metav1.GetOptions{})
	require.NoError(t, err)
	l.Object["status"] = map[string]any{"status": "Error", "message": "connection refused"}
	_, err = links.Update(t.Context(), l, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(seen()) == 1 && seen()[0] == "east" }, 5*time.Second, 10*time.Millisecond,
		"the token's Link turning not Ready reports east")
	require.NoError(t, links.Delete(t.Context(), "hub-link", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return len(seen()) == 2 }, 5*time.Second, 10*time.Millisecond, "and so does its deletion")
}

func TestAPassSessionWatchesNothing(t *testing.T) {
	east := spoke(obj("Site", "east", nil), obj("Link", "hub-link", map[string]any{"status": "Ready"}))
	sess := open(t, map[string]*dynamicfake.FakeDynamicClient{"east": east})
	_, err := transport.ObserveAll(t.Context(), sess, transport.Query{Spokes: []string{"east"}})
	require.NoError(t, err)
	require.NoError(t, sess.Close(t.Context()))
	time.Sleep(100 * time.Millisecond)
	require.False(t, watchingLinks(east), "without OnChange, no watch")
}
