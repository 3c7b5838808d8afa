package skupper

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPacer(t *testing.T) {
	t.Run("an event wakes a pass long before the resync", func(t *testing.T) {
		p := newPacer()
		p.hot, p.resync = 0, time.Hour
		p.setTick(time.Millisecond)
		go func() { time.Sleep(10 * time.Millisecond); p.poke() }()
		start := time.Now()
		require.True(t, p.wait(t.Context(), start))
		require.Less(t, time.Since(start), time.Minute)
	})
	t.Run("no pass within a tick of the last one, even on an event", func(t *testing.T) {
		p := newPacer()
		p.hot, p.resync = 0, time.Hour
		p.setTick(50 * time.Millisecond)
		p.poke()
		last := time.Now()
		require.True(t, p.wait(t.Context(), last))
		require.GreaterOrEqual(t, time.Since(last), 50*time.Millisecond)
	})
	t.Run("while hot, passes run every tick without events", func(t *testing.T) {
		p := newPacer()
		p.hot, p.resync = time.Hour, time.Hour
		p.setTick(time.Millisecond)
		start := time.Now()
		require.True(t, p.wait(t.Context(), start))
		require.Less(t, time.Since(start), time.Minute)
	})
	t.Run("the end of the context ends the wait", func(t *testing.T) {
		p := newPacer()
		p.hot, p.resync = 0, time.Hour
		ctx, cancel := context.WithCancel(t.Context())
		go func() { time.Sleep(10 * time.Millisecond); cancel() }()
		require.False(t, p.wait(ctx, time.Now()))
	})
}
