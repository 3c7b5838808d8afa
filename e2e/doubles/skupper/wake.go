package skupper

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// pacer paces a double's passes by what happens on its clusters, as
// upstream's controller is paced: the Skupper controller works from
// informers and does work when a watched object changes, not on a clock
// (skupperproject/skupper internal/kube/watchers/watchers.go EventProcessor). The
// doubles keep their passes, which list what they read and so never act on
// a stale cache; the pacer decides when a pass runs: right after a watch
// event on a kind the double reads (at most one pass per tick), every tick
// for hot after the last event (a Link's RouterDelay falls in that window),
// and every resync otherwise (a timed step that comes due later, such as a
// token's RetryInterval, a second late at most, and a change of another
// cluster that a pass reads). An idle bed then costs its API servers a few lists a second
// instead of a few hundred.
type pacer struct {
	hot, resync time.Duration

	events chan struct{}
	mu     sync.Mutex
	tick   time.Duration
	last   time.Time // of the last event
}

// pacerHot is how long passes run every tick after an event.
const pacerHot = 2 * time.Second

// pacerResync is how often a pass runs when nothing happened for pacerHot.
const pacerResync = time.Second

func newPacer() *pacer {
	return &pacer{hot: pacerHot, resync: pacerResync, events: make(chan struct{}, 1), last: time.Now(), tick: 100 * time.Millisecond}
}

// setTick sets the shortest time between two passes.
func (p *pacer) setTick(d time.Duration) {
	p.mu.Lock()
	p.tick = d
	p.mu.Unlock()
}

// poke counts as an event: something the passes depend on changed.
func (p *pacer) poke() {
	p.mu.Lock()
	p.last = time.Now()
	p.mu.Unlock()
	select {
	case p.events <- struct{}{}:
	default:
	}
}

// watch pokes the pacer on every add, update and delete of the kinds gvrs
// on client, until ctx ends. It does not wait for the first lists.
func (p *pacer) watch(ctx context.Context, client dynamic.Interface, gvrs ...schema.GroupVersionResource) {
	f := dynamicinformer.NewDynamicSharedInformerFactory(client, 0)
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.poke() },
		UpdateFunc: func(any, any) { p.poke() },
		DeleteFunc: func(any) { p.poke() },
	}
	for _, gvr := range gvrs {
		_, _ = f.ForResource(gvr).Informer().AddEventHandler(h)
	}
	f.Start(ctx.Done())
}

// wait returns when the next pass is due, false when ctx ended.
func (p *pacer) wait(ctx context.Context, lastPass time.Time) bool {
	p.mu.Lock()
	hot, tick := time.Since(p.last) < p.hot, p.tick
	p.mu.Unlock()
	next := p.resync
	if hot {
		next = tick
	}
	ok, woken := sleepUntil(ctx, lastPass.Add(next), p.events)
	if ok && woken {
		// An event: run a pass now, but not within a tick of the last one.
		ok, _ = sleepUntil(ctx, lastPass.Add(tick), nil)
	}
	return ok
}

// sleepUntil waits until t, or until wake fires (woken); ok is false when
// ctx ended first. A nil wake never fires.
func sleepUntil(ctx context.Context, t time.Time, wake <-chan struct{}) (ok, woken bool) {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil, false
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false, false
	case <-timer.C:
		return true, false
	case <-wake:
		return true, true
	}
}
