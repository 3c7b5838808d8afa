// Package controller keeps a fleet linked as it changes: a long-running
// reconciler over the pass pipeline of package reconcile. While it leads
// (see Run), it holds one transport session open and a rate-limited work
// queue of spokes; a spoke is queued when its membership changes (the
// informers of what chooses the spokes), when the grant changes (a new uid
// or code, the budget, expiry: every spoke that is not linked), when the hub
// Site changes, when the session sees its state change (transport.Watcher),
// and on a bounded periodic resync. A spoke that is pending or failed is
// queued again with exponential backoff per spoke. The queue is drained in
// batches, one at a time, each reconciled by Engine.Reconcile, so the budget
// gate sees every push at once and no two batches spend the same
// redemption.
//
// Locking: the controller leads while it holds the pass Lease (the name the
// PostSync hook and the CronJob take, see package lease), through client-go
// leader election. So the hook, the CronJob and the controller follow one
// rule: whoever holds the Lease pushes. A job that finds the controller
// leading waits up to its --lease-wait and exits 0 (the holder does the
// work); a controller waits while a job holds the Lease.
package controller

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/transport"
)

// Options tune the controller.
type Options struct {
	// Resync queues every selected spoke this often (default 10m): what no
	// event reported (a direct spoke's Site or token changed, a missed watch
	// event) is found within it.
	Resync time.Duration
	// MinBackoff and MaxBackoff bound the per-spoke exponential backoff of a
	// spoke that is pending or failed (default 1s and 5m).
	MinBackoff, MaxBackoff time.Duration
	// MaxBatch bounds the spokes of one reconcile (default 500).
	MaxBatch int
	// PushBackoff is how long a spoke pushed and not linked yet waits
	// before it may be pushed again (default 10s), doubling on each push
	// up to MaxBackoff: each push spends a redemption.
	PushBackoff time.Duration
}

// Controller reconciles spokes as they change. Engine supplies the grant,
// the hub Site, the fleet (a Source over informer caches, see Sources), the
// transport and the pass options; its Lock and Reporter are not used.
type Controller struct {
	Engine *reconcile.Engine
	// Status records the fleet (the status record 'vanlink status' reads):
	// called with every spoke's latest change when any of them changed.
	Status reconcile.Reporter
	// Events records each reconcile that did something (Events).
	Events  reconcile.Reporter
	Metrics *Metrics
	Log     *slog.Logger
	Opts    Options

	mu sync.Mutex
	// queue is the current leadership term's (nil while not leading).
	queue workqueue.TypedRateLimitingInterface[string]
	// spokes is every spoke's latest change.
	spokes map[string]reconcile.Change
	// pushed holds the push backoff of spokes pushed and not linked yet.
	pushed map[string]pushRecord
	// prunedAt is when each spoke whose latest change is a prune was pruned
	// (see dropPruned).
	prunedAt map[string]time.Time
	// entries counts the changes of spokes' entries in the status record
	// (see entry): one added, changed or dropped. reportedEntries is its
	// value when Status last recorded the fleet, reportedHead what that
	// record said of the grant (see head); reportedOnce, that it did.
	entries, reportedEntries uint64
	reportedHead             string
	reportedOnce             bool
	// selection is the fleet as last selected: "" for a selected spoke,
	// the reason for a skipped one.
	selection map[string]string

	once                          sync.Once
	membership, grantCh, replaced chan struct{}
}

func (c *Controller) init() {
	c.once.Do(func() {
		c.membership, c.grantCh, c.replaced = make(chan struct{}, 1), make(chan struct{}, 1), make(chan struct{}, 1)
		c.mu.Lock()
		c.spokes = map[string]reconcile.Change{}
		c.pushed = map[string]pushRecord{}
		c.prunedAt = map[string]time.Time{}
		c.mu.Unlock()
	})
}

func (c *Controller) defaults() {
	c.init()
	if c.Opts.Resync <= 0 {
		c.Opts.Resync = 10 * time.Minute
	}
	if c.Opts.MinBackoff <= 0 {
		c.Opts.MinBackoff = time.Second
	}
	if c.Opts.MaxBackoff <= 0 {
		c.Opts.MaxBackoff = 5 * time.Minute
	}
	if c.Opts.PushBackoff <= 0 {
		c.Opts.PushBackoff = 10 * time.Second
	}
	if c.Opts.MaxBatch <= 0 {
		c.Opts.MaxBatch = 500
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// Enqueue queues spokes now (a membership or state change). It does nothing
// while the controller does not lead: the next term starts with every spoke.
func (c *Controller) Enqueue(spokes ...string) {
	c.mu.Lock()
	q := c.queue
	c.mu.Unlock()
	if q == nil {
		return
	}
	for _, s := range spokes {
		q.Add(s)
	}
}

// Lead runs one leadership term until ctx ends: it opens a session, queues
// every spoke, reconciles the queue in batches, and, when ctx ends, stops
// taking work, lets the batch in flight finish (its pushes are cut short by
// ctx and reported pending) and closes the session, which removes every hub
// object that carried the code. It returns once all that is done; only then
// may the Lease be released.
func (c *Controller) Lead(ctx context.Context) error {
	c.defaults()
	e := c.Engine
	sess, err := e.Transport.Open(ctx, transport.SessionOptions{Fresh: e.Opts.Fresh})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := sess.Close(cctx); err != nil {
			c.Log.Warn("the transport did not finish its cleanup; the next leader removes what is left", "err", err)
		}
	}()
	q := workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](c.Opts.MinBackoff, c.Opts.MaxBackoff),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "spokes"})
	c.mu.Lock()
	c.queue = q
	c.mu.Unlock()
	c.Metrics.setLeader(true)
	c.Metrics.setQueue(q.Len)
	defer func() {
		c.mu.Lock()
		c.queue = nil
		c.mu.Unlock()
		c.Metrics.setLeader(false)
	}()
	if w, ok := sess.(transport.Watcher); ok {
		w.OnChange(func(spoke string) { q.Add(spoke) })
	}
	c.Log.Info("leading: reconciling the fleet", "resync", c.Opts.Resync)
	c.membershipDiff(ctx)
	c.EnqueueAll(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c.next(ctx, sess, q) {
		}
	}()
	t := time.NewTicker(c.Opts.Resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			q.ShutDown()
			<-done
			c.Log.Info("stopped leading")
			return nil
		case <-t.C:
			c.Enqueue(c.dropPruned(time.Now())...)
			c.EnqueueAll(ctx)
		case <-c.membership:
			c.membershipDiff(ctx)
		case <-c.grantCh:
			c.EnqueueUnlinked(ctx)
		case <-c.replaced:
			c.EnqueueAll(ctx)
		}
	}
}

// next takes a batch from the queue and reconciles it; false once the
// queue is shut down.
func (c *Controller) next(ctx context.Context, sess transport.Session, q workqueue.TypedRateLimitingInterface[string]) bool {
	first, shutdown := q.Get()
	if shutdown {
		return false
	}
	batch := []string{first}
	for len(batch) < c.Opts.MaxBatch && q.Len() > 0 {
		n, shutdown := q.Get()
		if shutdown {
			break
		}
		batch = append(batch, n)
	}
	sort.Strings(batch)
	c.reconcile(ctx, sess, q, batch)
	for _, n := range batch {
		q.Done(n)
	}
	return true
}
