package worktest

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

// Options tune the double.
type Options struct {
	// StatusSync is the agent's --status-sync-interval (default 10 s, as
	// upstream): every work's status is read again that often.
	StatusSync time.Duration
	// Latency is added before the agent applies a new generation of a work
	// (its round trip to the spoke on a loaded fleet, as the ACM double's
	// per action; 0 in unit tests). Status reads add none: the agent
	// re-reads a work after each of its own status writes (its informer
	// sees them), and a delay there would queue the next generation
	// behind reads that change nothing.
	Latency time.Duration
	// Workers is how many works are synced at once (default 10).
	Workers int
	Log     *slog.Logger
}

// Agent plays the work agents of many spokes over one hub.
type Agent struct {
	hub  dynamic.Interface
	opts Options

	mu     sync.Mutex
	spokes map[string]acmtest.Spoke
	paused map[string]bool
	// applied is, per work (ns/name), what its AppliedManifestWork tracks:
	// the objects applied, with their uid; appliedGen the generation.
	applied    map[string]map[workv1.ResourceIdentifier]string
	appliedGen map[string]int64

	queue  workqueue.TypedDelayingInterface[string]
	inf    cache.SharedIndexInformer
	writes atomic.Int64
}

// New returns a double over a hub; register spokes with AddSpoke.
func New(hub dynamic.Interface, opts Options) *Agent {
	if opts.StatusSync == 0 {
		opts.StatusSync = 10 * time.Second
	}
	if opts.Workers < 1 {
		opts.Workers = 10
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Agent{hub: hub, opts: opts, spokes: map[string]acmtest.Spoke{}, paused: map[string]bool{},
		applied: map[string]map[workv1.ResourceIdentifier]string{}, appliedGen: map[string]int64{}}
}

// AddSpoke registers the spoke whose hub namespace is cluster.
func (a *Agent) AddSpoke(cluster string, s acmtest.Spoke) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.spokes[cluster] = s
}

// Pause stops the agent of a cluster (its works are neither applied nor
// reported on); Resume starts it again.
func (a *Agent) Pause(cluster string)  { a.setPaused(cluster, false) }
func (a *Agent) Resume(cluster string) { a.setPaused(cluster, true) }

func (a *Agent) setPaused(cluster string, running bool) {
	a.mu.Lock()
	a.paused[cluster] = !running
	a.mu.Unlock()
	if running && a.inf != nil {
		for _, o := range a.inf.GetStore().List() {
			if u := o.(*unstructured.Unstructured); u.GetNamespace() == cluster {
				a.queue.Add(u.GetNamespace() + "/" + u.GetName())
			}
		}
	}
}

// HubWrites counts the double's writes to the hub (status and finalizer
// patches).
func (a *Agent) HubWrites() int64 { return a.writes.Load() }

// Run watches the works and syncs them until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	f := dynamicinformer.NewDynamicSharedInformerFactory(a.hub, 0)
	a.inf = f.ForResource(manifestwork.WorksGVR).Informer()
	a.queue = workqueue.NewTypedDelayingQueue[string]()
	defer a.queue.ShutDown()
	enqueue := func(o any) {
		if k, err := cache.MetaNamespaceKeyFunc(o); err == nil {
			a.queue.Add(k)
		}
	}
	// Every change of a work queues its sync (upstream: the
	// ManifestWorkController and the AvailableStatusController are both
	// queued by the work informer).
	if _, err := a.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }}); err != nil {
		return err
	}
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	var wg sync.WaitGroup
	for range a.opts.Workers {
		wg.Go(func() {
			for {
				key, quit := a.queue.Get()
				if quit {
					return
				}
				a.sync(ctx, key)
				a.queue.Done(key)
			}
		})
	}
	<-ctx.Done()
	a.queue.ShutDown()
	wg.Wait()
	return nil
}

// sync applies a work and reports its status, then queues its next status
// sync (upstream: availablestatus_controller.go requeues each work after
// the sync interval).
func (a *Agent) sync(ctx context.Context, key string) {
	ns, _, _ := strings.Cut(key, "/")
	a.mu.Lock()
	spoke, ok := a.spokes[ns]
	paused := a.paused[ns]
	a.mu.Unlock()
	if !ok || paused {
		return
	}
	o, exists, err := a.inf.GetStore().GetByKey(key)
	if err != nil || !exists {
		a.mu.Lock()
		delete(a.applied, key)
		delete(a.appliedGen, key)
		a.mu.Unlock()
		return
	}
	w, err := toWork(o.(*unstructured.Unstructured))
	if err != nil {
		a.opts.Log.Warn("work double: reading a work failed", "work", key, "err", err)
		return
	}
	switch {
	case w.DeletionTimestamp != nil:
		err = a.finalize(ctx, spoke, w, key)
	case !slices.Contains(w.Finalizers, workv1.ManifestWorkFinalizer):
		err = a.addFinalizer(ctx, w) // the write queues the work again
	default:
		err = a.applyAndReport(ctx, spoke, w, key)
	}
	switch {
	case apierrors.IsConflict(err):
		// The work changed since the cache showed it: sync it again as it
		// is now (the upstream patcher fails the same way and is requeued).
		a.mu.Lock()
		delete(a.appliedGen, key)
		a.mu.Unlock()
		a.queue.AddAfter(key, 10*time.Millisecond)
		return
	case err != nil:
		a.opts.Log.Warn("work double: sync failed", "work", key, "err", err)
	}
	a.queue.AddAfter(key, a.opts.StatusSync)
}

// applyAndReport applies a work (after the latency, for a new generation)
// and reports its status.
func (a *Agent) applyAndReport(ctx context.Context, spoke acmtest.Spoke, w *workv1.ManifestWork, key string) error {
	a.mu.Lock()
	fresh := a.appliedGen[key] != w.Generation
	a.appliedGen[key] = w.Generation
	a.mu.Unlock()
	if fresh {
		// The status controller is queued by the same event as the apply
		// and does not wait for it: it reads the manifests the status lists
		// (the last apply's) and stamps Available with the new generation,
		// often before the apply writes Applied (upstream:
		// availablestatus_controller.go syncManifestWork, which only waits
		// for an Applied condition of any generation, and says it may race
		// a spec change). Available at a generation is therefore no proof
		// that the spoke was read after that generation was applied.
		if err := a.report(ctx, spoke, w); err != nil {
			return err
		}
	}
	if fresh && a.opts.Latency > 0 {
		select {
		case <-time.After(a.opts.Latency):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := a.apply(ctx, spoke, w); err != nil {
		return err
	}
	return a.report(ctx, spoke, w)
}

// owner is the AppliedManifestWork owner reference of a work (one uid per
// work, as the AppliedManifestWork the agent makes for it).
func owner(w *workv1.ManifestWork) metav1.OwnerReference {
	return metav1.OwnerReference{APIVersion: "work.open-cluster-management.io/v1", Kind: "AppliedManifestWork",
		Name: "hub-" + w.Name, UID: types.UID("amw-" + string(w.UID))}
}

// orphaned reports whether the work's delete option orphans an object
// (upstream: pkg/work/helper/helpers.go, OwnedByTheWork).
func orphaned(w *workv1.ManifestWork, id workv1.ResourceIdentifier) bool {
	d := w.Spec.DeleteOption
	switch {
	case d == nil:
		return false
	case d.PropagationPolicy == workv1.DeletePropagationPolicyTypeOrphan:
		return true
	case d.PropagationPolicy != workv1.DeletePropagationPolicyTypeSelectivelyOrphan || d.SelectivelyOrphan == nil:
		return false
	}
	for _, r := range d.SelectivelyOrphan.OrphaningRules {
		if workv1.ResourceIdentifier(r) == id {
			return true
		}
	}
	return false
}
