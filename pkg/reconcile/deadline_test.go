package reconcile

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAHeldObservationEndsAtObserveTimeout: a pass that holds its pushes
// until the whole fleet is observed (the grant cannot cover every spoke)
// gives the observation ObserveTimeout; a spoke that never answers ends the
// pass there, with nothing pushed.
func TestAHeldObservationEndsAtObserveTimeout(t *testing.T) {
	tr := newFake(map[string]*spoke{"a": {site: true}, "b": {site: true}})
	tr.holdObserve = func(ctx context.Context, cluster string) error {
		if cluster != "b" {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	}
	// One redemption for two spokes: the gate holds every push.
	h := newHarness(t, newGrantHub(t, 1, 0, now.Add(720*time.Hour)), tr, selection("a", "b"), func(o *Options) {
		o.ObserveTimeout = 200 * time.Millisecond
		o.SpokeTimeout = time.Minute
	})
	start := time.Now()
	res, err := h.engine.Run(t.Context())
	require.ErrorIs(t, err, context.DeadlineExceeded, "the observation's deadline ends the pass")
	require.ErrorContains(t, err, "observing spokes")
	require.Less(t, time.Since(start), 10*time.Second, "ObserveTimeout, not SpokeTimeout, bounds the observation")
	require.Zero(t, tr.writes.Load(), "the held push of a is not made")
	require.NotEmpty(t, res.Error)
}

// TestAPushEndsAtSpokeTimeout: a push whose spoke never answers fails at
// SpokeTimeout, as a Timeout, while the other spokes are pushed.
func TestAPushEndsAtSpokeTimeout(t *testing.T) {
	tr := newFake(map[string]*spoke{"a": {site: true}, "b": {site: true}})
	tr.pushHangs = "a"
	h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("a", "b"), func(o *Options) {
		o.SpokeTimeout = 200 * time.Millisecond
		o.ObserveTimeout = time.Minute
	})
	start := time.Now()
	res := h.run(t)
	require.Less(t, time.Since(start), 10*time.Second, "SpokeTimeout bounds the push")
	require.Equal(t, map[string]Outcome{"a": OutcomeFailed, "b": OutcomePushed}, outcomes(res))
	for _, c := range res.Changes {
		if c.Cluster == "a" {
			require.Equal(t, "Timeout", c.FailReason)
			require.Contains(t, c.Error, context.DeadlineExceeded.Error())
		}
	}
}
