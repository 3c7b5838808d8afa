package lease

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func newLease(cs *fake.Clientset, holder string, wait time.Duration) *Lease {
	return &Lease{Client: cs.CoordinationV1().Leases("service-interconnect"), Namespace: "service-interconnect", Name: "vanlink-sync",
		Holder: holder, Duration: 3 * time.Second, Wait: wait, Poll: 20 * time.Millisecond}
}

func TestLease(t *testing.T) {
	cs := fake.NewClientset()
	hook := newLease(cs, "hook", time.Second)
	release, err := hook.Acquire(t.Context())
	require.NoError(t, err, "a free lease is taken")

	t.Run("a second pass waits a bounded time, then gives up with a clear error", func(t *testing.T) {
		start := time.Now()
		_, err := newLease(cs, "cron", 200*time.Millisecond).Acquire(t.Context())
		var held *HeldError
		require.True(t, errors.As(err, &held), "got %v", err)
		require.Equal(t, "hook", held.Holder)
		require.Contains(t, err.Error(), "this pass did nothing")
		require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
		require.True(t, IsHeld(fmt.Errorf("the pass: %w", err)), "IsHeld sees a wrapped HeldError")
		require.False(t, IsHeld(errors.New("another error")))
	})

	t.Run("waiting for another holder is logged at Info, never as a problem", func(t *testing.T) {
		var logs bytes.Buffer
		l := newLease(cs, "cron", 100*time.Millisecond)
		l.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		_, err := l.Acquire(t.Context())
		require.True(t, IsHeld(err))
		require.Contains(t, logs.String(), "level=INFO msg=\"another pass is running; waiting for it\"")
		require.NotContains(t, logs.String(), "level=WARN")
		require.NotContains(t, logs.String(), "level=ERROR")
	})

	t.Run("a second pass gets the lease once the first releases it", func(t *testing.T) {
		done := make(chan error, 1)
		go func() {
			rel, err := newLease(cs, "cron", 5*time.Second).Acquire(t.Context())
			if err == nil {
				rel()
			}
			done <- err
		}()
		time.Sleep(100 * time.Millisecond)
		release()
		require.NoError(t, <-done)
	})

	t.Run("a lease whose holder died is taken over", func(t *testing.T) {
		l, err := cs.CoordinationV1().Leases("service-interconnect").Get(t.Context(), "vanlink-sync", metav1.GetOptions{})
		require.NoError(t, err)
		old := metav1.NewMicroTime(time.Now().Add(-time.Hour))
		l.Spec.HolderIdentity, l.Spec.RenewTime = ptr.To("crashed-pod"), &old
		_, err = cs.CoordinationV1().Leases("service-interconnect").Update(t.Context(), l, metav1.UpdateOptions{})
		require.NoError(t, err)
		rel, err := newLease(cs, "cron", 100*time.Millisecond).Acquire(t.Context())
		require.NoError(t, err)
		rel()
	})
}

func TestALeaseIsReleasedAfterThePassContextIsCancelled(t *testing.T) {
	cs := fake.NewClientset()
	ctx, cancel := context.WithCancel(t.Context())
	release, err := newLease(cs, "hook", time.Second).Acquire(ctx)
	require.NoError(t, err)
	cancel() // SIGTERM
	release()
	l, err := cs.CoordinationV1().Leases("service-interconnect").Get(t.Context(), "vanlink-sync", metav1.GetOptions{})
	require.NoError(t, err)
	require.Empty(t, ptr.Deref(l.Spec.HolderIdentity, ""), "the release does not depend on the cancelled pass context")

	start := time.Now()
	_, err = newLease(cs, "cron", time.Minute).Acquire(ctx)
	require.ErrorIs(t, err, context.Canceled, "a stopped pass takes no lease")
	require.Less(t, time.Since(start), time.Second, "and does not wait for one")
}
