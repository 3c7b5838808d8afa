package controller

import (
	"context"
	"log/slog"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Election campaigns for the pass Lease with client-go leader election.
// The Lease is the one the jobs take (package lease): a controller that
// holds it is the only one to push; a job finds it held and does nothing.
type Election struct {
	Leases          coordinationv1client.LeasesGetter
	Namespace, Name string
	Identity        string
	LeaseDuration   time.Duration // default 15s
	RenewDeadline   time.Duration // default 10s
	RetryPeriod     time.Duration // default 2s
	Log             *slog.Logger
}

// Run campaigns until ctx ends and runs lead for each term, with a context
// that ends when ctx does or the term is lost. The Lease is released only
// after lead has returned (so a term's cleanup, the session's Close, ends
// before another holder may push); a term lost to a failed renewal is
// campaigned for again.
func (el Election) Run(ctx context.Context, lead func(ctx context.Context) error) error {
	if el.LeaseDuration == 0 {
		el.LeaseDuration = 15 * time.Second
	}
	if el.RenewDeadline == 0 {
		el.RenewDeadline = 10 * time.Second
	}
	if el.RetryPeriod == 0 {
		el.RetryPeriod = 2 * time.Second
	}
	if el.Log == nil {
		el.Log = slog.New(slog.DiscardHandler)
	}
	for ctx.Err() == nil {
		// The elector's context outlives ctx while a term is in flight: it
		// is cancelled once lead returns, which releases the Lease.
		elect, stop := context.WithCancel(context.WithoutCancel(ctx))
		var mu sync.Mutex
		leading := false
		termDone := make(chan struct{})
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: &resourcelock.LeaseLock{LeaseMeta: metav1.ObjectMeta{Namespace: el.Namespace, Name: el.Name}, Client: el.Leases,
				LockConfig: resourcelock.ResourceLockConfig{Identity: el.Identity}},
			LeaseDuration: el.LeaseDuration, RenewDeadline: el.RenewDeadline, RetryPeriod: el.RetryPeriod,
			ReleaseOnCancel: true, Name: el.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					defer close(termDone)
					defer stop()
					mu.Lock()
					if ctx.Err() != nil {
						mu.Unlock()
						return
					}
					leading = true
					mu.Unlock()
					el.Log.Info("leading", "lease", el.Namespace+"/"+el.Name, "identity", el.Identity)
					term, cancel := context.WithCancel(lctx)
					unhook := context.AfterFunc(ctx, cancel)
					if err := lead(term); err != nil {
						el.Log.Error("the term ended with an error", "err", err)
					}
					unhook()
					cancel()
				},
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			stop()
			return err
		}
		unwatch := context.AfterFunc(ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if !leading {
				stop() // not leading: stop campaigning at once
			}
		})
		le.Run(elect)
		unwatch()
		mu.Lock()
		wasLeading := leading
		mu.Unlock()
		if wasLeading {
			<-termDone
		}
		stop()
		if ctx.Err() == nil && wasLeading {
			el.Log.Warn("lost the Lease; campaigning again", "lease", el.Namespace+"/"+el.Name)
		}
	}
	return nil
}
