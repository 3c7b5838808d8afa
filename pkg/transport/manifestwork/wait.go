package manifestwork

import (
	"context"
	"errors"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	workv1 "open-cluster-management.io/api/work/v1"
)

var mergePatch = types.MergePatchType

// errWorkGone: the work was deleted while vanlink waited for it.
var errWorkGone = errors.New("the ManifestWork was deleted")

// notifier wakes the waiters of a spoke's work when a watch event arrives.
type notifier struct {
	mu      sync.Mutex
	waiters map[string]map[chan struct{}]bool
	// all are called on every event (OnChange).
	all []func(spoke string)
}

func newNotifier() *notifier { return &notifier{waiters: map[string]map[chan struct{}]bool{}} }

func (n *notifier) subscribe(spoke string) (chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.waiters[spoke] == nil {
		n.waiters[spoke] = map[chan struct{}]bool{}
	}
	n.waiters[spoke][ch] = true
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.waiters[spoke], ch)
		if len(n.waiters[spoke]) == 0 {
			delete(n.waiters, spoke)
		}
		n.mu.Unlock()
	}
}

func (n *notifier) notify(spoke string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.waiters[spoke] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// waitWork waits until the spoke's work satisfies done, woken by the watch
// and, in case an event is late or lost, by a direct GET every
// ResyncCheck (a first one after half of it).
func (t *session) waitWork(ctx context.Context, spoke string, done func(*workv1.ManifestWork) bool) (*workv1.ManifestWork, error) {
	ch, cancel := t.notify.subscribe(spoke)
	defer cancel()
	check := func(u *unstructured.Unstructured) (*workv1.ManifestWork, bool) {
		if u == nil {
			return nil, false
		}
		w, err := toWork(u)
		if err != nil || !done(w) {
			return nil, false
		}
		return w, true
	}
	backoff := t.opts.ResyncCheck / 2
	tick := time.NewTimer(backoff)
	defer tick.Stop()
	for {
		if w, ok := check(t.cached(spoke)); ok {
			return w, nil
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-ch:
		case <-tick.C:
			if backoff = 2 * backoff; backoff > t.opts.ResyncCheck {
				backoff = t.opts.ResyncCheck
			}
			tick.Reset(backoff)
			u, err := t.dyn.Resource(WorksGVR).Namespace(spoke).Get(ctx, WorkName(t.opts.TokenName), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil, errWorkGone
			}
			if w, ok := check(u); err == nil && ok {
				return w, nil
			}
		}
	}
}

// appliedAt: the agent applied generation gen (or a later one).
func appliedAt(gen int64) func(*workv1.ManifestWork) bool {
	return func(w *workv1.ManifestWork) bool {
		c := condition(w.Status.Conditions, workv1.WorkApplied)
		return c != nil && c.ObservedGeneration >= gen
	}
}

// readAt: the agent applied generation gen and read every manifest of
// want since: the aggregated Available condition carries the generation
// the status controller read, and a manifest that gen added has an
// Available condition only once it was read after the apply.
func readAt(gen int64, want []manifest) func(*workv1.ManifestWork) bool {
	return func(w *workv1.ManifestWork) bool {
		if !appliedAt(gen)(w) {
			return false
		}
		c := condition(w.Status.Conditions, workv1.WorkAvailable)
		if c == nil || c.ObservedGeneration < gen {
			return false
		}
		for _, m := range want {
			if f := manifestStatus(w, m.kind, m.name); f.available == nil {
				return false
			}
		}
		return true
	}
}
