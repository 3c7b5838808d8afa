package manifestwork_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"

	"github.com/vanlink/vanlink/pkg/logctx"
	"github.com/vanlink/vanlink/pkg/transport"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

// TestAFailedRestoreOfTheWorkIsAWarningThatNamesIt: a push puts the token,
// with the code, in the spoke's ManifestWork and takes it out again; when
// the hub refuses that write, the session warns through the logger of the
// caller's context (logctx), naming the work, and never logs the code.
func TestAFailedRestoreOfTheWorkIsAWarningThatNamesIt(t *testing.T) {
	b := newBed(t, nil)
	s, err := b.tr.Open(t.Context(), transport.SessionOptions{})
	require.NoError(t, err)
	_, err = transport.ObserveAll(t.Context(), s, transport.Query{Spokes: []string{"east"}})
	require.NoError(t, err)
	var mu sync.Mutex
	refused := 0
	b.hub.PrependReactor("patch", "manifestworks", func(a clienttesting.Action) (bool, runtime.Object, error) {
		patch := string(a.(clienttesting.PatchAction).GetPatch())
		if a.GetSubresource() != "" || strings.Contains(patch, manifestwork.PushIDAnnotation) || strings.Contains(patch, `"finalizers"`) {
			return false, nil, nil // the agent's status and finalizer, or the push itself
		}
		mu.Lock()
		defer mu.Unlock()
		refused++
		return true, nil, errors.New("the hub refused the write")
	})
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ctx = logctx.Into(ctx, slog.New(slog.NewJSONHandler(&logs, nil)).With("pass", "test"))
	require.NoError(t, s.Apply(ctx, "east", transport.Op{Name: token, Push: accessToken()}))
	mu.Lock()
	require.NotZero(t, refused, "the restore was tried")
	mu.Unlock()
	out := logs.String()
	require.Contains(t, out, `"level":"WARN"`)
	require.Contains(t, out, "may hold the grant code")
	require.Contains(t, out, `"name":"east/`+manifestwork.WorkName(token)+`"`, "the warning names the work")
	require.Contains(t, out, `"pass":"test"`, "through the context's logger, with its attributes")
	require.NotContains(t, out, code, "never the code")
}
