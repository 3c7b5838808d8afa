package controller

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vanlink/vanlink/pkg/lease"
)

func TestOneLeaseForTheControllerAndTheJobs(t *testing.T) {
	kube := fake.NewClientset()
	leases := kube.CoordinationV1()
	var active, maxActive atomic.Int32
	var mu sync.Mutex
	var log []string
	run := func(id string) (context.CancelFunc, chan struct{}) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		el := Election{Leases: leases, Namespace: "service-interconnect", Name: "vanlink-sync", Identity: id,
			LeaseDuration: time.Second, RenewDeadline: 500 * time.Millisecond, RetryPeriod: 50 * time.Millisecond}
		go func() {
			defer close(done)
			_ = el.Run(ctx, func(ctx context.Context) error {
				n := active.Add(1)
				if n > maxActive.Load() {
					maxActive.Store(n)
				}
				mu.Lock()
				log = append(log, id)
				mu.Unlock()
				<-ctx.Done()
				time.Sleep(100 * time.Millisecond) // the session's Close
				active.Add(-1)
				return nil
			})
		}()
		return cancel, done
	}
	job := func() error {
		l := &lease.Lease{Client: leases.Leases("service-interconnect"), Namespace: "service-interconnect", Name: "vanlink-sync",
			Holder: "job", Wait: 300 * time.Millisecond, Poll: 50 * time.Millisecond}
		release, err := l.Acquire(t.Context())
		if err == nil {
			release()
		}
		return err
	}

	stopA, doneA := run("replica-a")
	require.Eventually(t, func() bool { return active.Load() == 1 }, 5*time.Second, 10*time.Millisecond, "the first replica leads")
	stopB, doneB := run("replica-b")
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, int32(1), active.Load(), "the second replica waits")
	require.True(t, lease.IsHeld(job()), "a job finds the Lease held by the leader and does nothing")

	stopA()
	<-doneA
	require.Eventually(t, func() bool { return active.Load() == 1 }, 5*time.Second, 10*time.Millisecond, "the standby leads once the leader released the Lease")
	require.Equal(t, int32(1), maxActive.Load(), "never two terms at once: the Lease is released only after the term's cleanup")
	mu.Lock()
	require.Equal(t, []string{"replica-a", "replica-b"}, log)
	mu.Unlock()

	stopB()
	<-doneB
	require.NoError(t, job(), "with no controller leading, a job takes the Lease")
}

func TestAStandbyStopsAtOnceWhenStopped(t *testing.T) {
	kube := fake.NewClientset()
	l := &lease.Lease{Client: kube.CoordinationV1().Leases("ns"), Namespace: "ns", Name: "vanlink-sync", Holder: "job"}
	release, err := l.Acquire(t.Context())
	require.NoError(t, err)
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = Election{Leases: kube.CoordinationV1(), Namespace: "ns", Name: "vanlink-sync", Identity: "replica",
			LeaseDuration: time.Second, RenewDeadline: 500 * time.Millisecond, RetryPeriod: 50 * time.Millisecond}.Run(ctx, func(context.Context) error {
			t.Error("a controller never leads while a job holds the Lease")
			return nil
		})
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("a replica that does not lead stops at once")
	}
}
