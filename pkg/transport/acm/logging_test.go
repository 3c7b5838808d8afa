package acm_test

import (
	"bytes"
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/vanlink/vanlink/pkg/logctx"
	"github.com/vanlink/vanlink/pkg/transport"
	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
)

// syncBuffer is a log sink written by the session's background deletions.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAFailedDeleteOfTheCodeCarryingActionIsAWarningThatNamesIt: the
// Create action of a push carries the grant code; when the hub refuses its
// deletion, the session warns through the logger of the caller's context
// (logctx), naming the action, and never logs the code.
func TestAFailedDeleteOfTheCodeCarryingActionIsAWarningThatNamesIt(t *testing.T) {
	h := newHub(t, acmtest.Options{}, "east")
	put(t, h.spokes["east"], "sites", "east", map[string]any{"status": "Ready"})
	var mu sync.Mutex
	var refused []string
	h.client.PrependReactor("delete", "managedclusteractions", func(a clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		refused = append(refused, a.(clienttesting.DeleteAction).GetName())
		return true, nil, errors.New("the hub refused the delete")
	})
	h.start(t)
	var logs syncBuffer
	ctx := logctx.Into(t.Context(), slog.New(slog.NewJSONHandler(&logs, nil)).With("pass", "test"))
	require.NoError(t, h.s.Apply(ctx, "east", transport.Op{Name: "hub-link", Push: token("hub-link")}))
	_ = h.s.Close(t.Context()) // waits for the background deletions (and sweeps, refused too)
	mu.Lock()
	require.NotEmpty(t, refused, "the action's deletion was tried")
	name := refused[0]
	mu.Unlock()
	out := logs.String()
	require.Contains(t, out, `"level":"WARN"`)
	require.Contains(t, out, "may hold the grant code")
	require.Contains(t, out, `"name":"east/`+name+`"`, "the warning names the action")
	require.Contains(t, out, `"kind":"managedclusteractions"`)
	require.Contains(t, out, `"pass":"test"`, "through the context's logger, with its attributes")
	require.NotContains(t, out, "c0de", "never the code")
}
