package cron

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSchedule(t *testing.T) {
	for _, ok := range []string{"*/30 * * * *", "0 3 * * 1-5", "@hourly", "@every 10m"} {
		_, err := ParseSchedule(ok)
		require.NoError(t, err, ok)
	}
	for _, bad := range []string{"61 * * * *", "* * *", "every day", ""} {
		_, err := ParseSchedule(bad)
		require.ErrorContains(t, err, "want five fields", bad)
	}
}

func TestScheduleStopsThePassInFlightAndWaitsForItsCleanup(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var started, cleaned atomic.Int32
	done := make(chan error, 1)
	go func() {
		done <- Schedule(ctx, "@every 1s", slog.New(slog.DiscardHandler), func(pctx context.Context) {
			started.Add(1)
			cancel() // SIGTERM arrives while the pass runs
			select {
			case <-pctx.Done():
			case <-time.After(5 * time.Second):
				t.Error("the pass in flight must see the shutdown")
			}
			time.Sleep(100 * time.Millisecond) // its cleanup
			cleaned.Add(1)
		})
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Schedule did not stop")
	}
	require.Equal(t, int32(1), started.Load(), "no pass starts after the shutdown")
	require.Equal(t, int32(1), cleaned.Load(), "Schedule returns once the pass in flight has cleaned up")
}
