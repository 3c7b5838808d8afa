package acm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vanlink/vanlink/pkg/logctx"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// errVanished: the object was deleted (e.g. collected by the hub) before the
// condition we waited for could be read.
var errVanished = errors.New("deleted before its result was read")

// notifier wakes the waiters of an object when a watch event for it arrives.
type notifier struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]bool
}

func newNotifier() *notifier { return &notifier{waiters: map[string]map[chan struct{}]bool{}} }

func (n *notifier) subscribe(key string) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.waiters[key] == nil {
		n.waiters[key] = map[chan struct{}]bool{}
	}
	n.waiters[key][ch] = true
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.waiters[key], ch)
		if len(n.waiters[key]) == 0 {
			delete(n.waiters, key)
		}
		n.mu.Unlock()
	}
}

// anyObject subscribes to the events of every object.
const anyObject = "*"

func (n *notifier) notify(key string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, k := range []string{key, anyObject} {
		for ch := range n.waiters[k] {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
}

func (t *session) cached(inf *watched, ns, name string) (*unstructured.Unstructured, bool) {
	r, ok := cachedRecord(inf, ns, name)
	if !ok {
		return nil, false
	}
	u, err := r.object()
	return u, err == nil
}

// cachedRecord returns the watch cache's record of an object, undecoded.
func cachedRecord(inf *watched, ns, name string) (*record, bool) {
	o, exists, err := inf.GetStore().GetByKey(ns + "/" + name)
	if err != nil || !exists {
		return nil, false
	}
	return recordOf(o)
}

// waiter waits for an object to satisfy done, woken by watch events and, as a
// fallback for missed events, by a direct GET every ResyncCheck.
type waiter struct {
	t        *session
	inf      *watched
	gvr      schema.GroupVersionResource
	ns, name string
	done     func(*unstructured.Unstructured) bool
	ch       chan struct{}
	cancel   func()
}

func (t *session) waitFor(inf *watched, gvr schema.GroupVersionResource, ns, name string, done func(*unstructured.Unstructured) bool) *waiter {
	ch, cancel := t.notify.subscribe(ns + "/" + name)
	return &waiter{t: t, inf: inf, gvr: gvr, ns: ns, name: name, done: done, ch: ch, cancel: cancel}
}

// wait returns the object once done, errVanished if it disappeared, or the
// context's error.
func (w *waiter) wait(ctx context.Context) (*unstructured.Unstructured, error) {
	defer w.cancel()
	seen := false
	// Direct reads back the watch up, in case an event is late or lost: a
	// first one after half a ResyncCheck, then every ResyncCheck.
	backoff := w.t.opts.ResyncCheck / 2
	tick := time.NewTimer(backoff)
	defer tick.Stop()
	for {
		if u, ok := w.t.cached(w.inf, w.ns, w.name); ok {
			seen = true
			if w.done(u) {
				return u, nil
			}
		} else if seen {
			return nil, errVanished
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-w.ch:
		case <-tick.C:
			if backoff = 2 * backoff; backoff > w.t.opts.ResyncCheck {
				backoff = w.t.opts.ResyncCheck
			}
			tick.Reset(backoff)
			u, err := w.t.dyn.Resource(w.gvr).Namespace(w.ns).Get(ctx, w.name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err):
				return nil, errVanished
			case err == nil && w.done(u):
				return u, nil
			}
		}
	}
}

// deleteNow deletes a transient object at once, in the background so the
// caller goes on without waiting for the API server's answer, and also after
// ctx has ended (it may carry the code), within a short deadline of its own.
// Finish waits for these deletions.
func (t *session) deleteNow(ctx context.Context, gvr schema.GroupVersionResource, ns, name string) {
	t.cleanup.Go(func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err := t.dyn.Resource(gvr).Namespace(ns).Delete(dctx, name, metav1.DeleteOptions{PropagationPolicy: &deleteBackground})
		if err != nil && !apierrors.IsNotFound(err) {
			t.cutShort.Store(true) // Close sweeps what is left
			logctx.From(ctx).Warn("deleting a hub object that may hold the grant code failed; it is swept when the session closes, else by the next session",
				"cluster", ns, "kind", gvr.Resource, "name", ns+"/"+name, "err", err)
		}
	})
}

// noteCutShort records that the create of a transient object failed while
// its context was ending (a signal, a deadline): the API server may have
// created it all the same, under a generated name nobody read, with the
// grant code in it. Finish then sweeps.
func (t *session) noteCutShort(ctx context.Context) {
	if ctx.Err() != nil {
		t.cutShort.Store(true)
	}
}

// finish waits for the deletions deleteNow started, within ctx, and, when a
// create was cut short, deletes every transient object of this token that
// is still on the hub (the pass lease guarantees no other pass uses them).
func (t *session) finish(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		t.cleanup.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("deleting vanlink's transient hub objects: %w", context.Cause(ctx))
	}
	if !t.cutShort.Swap(false) {
		return nil
	}
	sel := labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue, PurposeLabel: "transient", TokenNameLabel: t.opts.TokenName}).String()
	var errs []error
	namespaces := t.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	type target struct {
		gvr schema.GroupVersionResource
		ns  string
	}
	var targets []target
	for _, gvr := range []schema.GroupVersionResource{ActionsGVR, ViewsGVR} {
		for _, ns := range namespaces {
			targets = append(targets, target{gvr, ns})
		}
	}
	for _, tg := range targets {
		gvr := tg.gvr
		list, err := t.dyn.Resource(gvr).Namespace(tg.ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			errs = append(errs, fmt.Errorf("listing vanlink's transient %s: %w", gvr.Resource, err))
			continue
		}
		for _, u := range list.Items {
			err := t.dyn.Resource(gvr).Namespace(u.GetNamespace()).Delete(ctx, u.GetName(), metav1.DeleteOptions{PropagationPolicy: &deleteBackground})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting %s %s/%s, which may hold the grant code: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// readDirectly reads views pending for longer than ResyncCheck from the API
// server instead of the watch (it may lag or restart): a GET each, at most
// 4 x Concurrency a tick.
func (o *observation) readDirectly(ctx context.Context) {
	type lateView struct {
		key   string
		since time.Time
	}
	var late []lateView
	for c, p := range o.pending {
		if time.Since(p.since) < o.t.opts.ResyncCheck {
			continue
		}
		for _, ref := range p.views {
			if !o.ready(c, ref) {
				late = append(late, lateView{c + "/" + ref.name, p.since})
			}
		}
	}
	if len(late) == 0 {
		return
	}
	client := o.t.dyn.Resource(ViewsGVR)
	var mu sync.Mutex
	keep := func(u *unstructured.Unstructured) {
		if s, err := slim(u); err == nil {
			mu.Lock()
			o.direct[u.GetNamespace()+"/"+u.GetName()] = s.(*unstructured.Unstructured)
			mu.Unlock()
		}
	}
	// The views of the spokes in the observation's window (at most twice
	// Concurrency spokes, two views or three each) are what can be late
	// while a pass runs: read at most that many a tick, the longest-waiting
	// first, Concurrency at a time, so the requests of a pass never grow
	// with the fleet (spokes whose earlier views their agent never
	// processed wait their turn).
	sort.Slice(late, func(i, j int) bool { return late[i].since.Before(late[j].since) })
	if max := 4 * o.t.opts.Concurrency; len(late) > max {
		late = late[:max]
	}
	var g errgroup.Group
	g.SetLimit(o.t.opts.Concurrency)
	for _, l := range late {
		ns, name, _ := strings.Cut(l.key, "/")
		g.Go(func() error {
			if u, err := client.Namespace(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
				keep(u)
			}
			return nil
		})
	}
	_ = g.Wait()
}
