package acm

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

func (t *Transport) viewName(object string) string {
	return "vanlink-" + t.opts.TokenName + "-" + object
}

// desiredViews returns the persistent views of a spoke.
func (t *Transport) desiredViews(cluster string) []*unstructured.Unstructured {
	interval := int64(t.opts.ViewInterval.Seconds())
	return []*unstructured.Unstructured{
		newView(cluster, t.viewName("site"), false, "Site", "sites", t.opts.SiteName(cluster), t.opts.SpokeNamespace, "site", t.opts.TokenName, "observe", interval),
		newView(cluster, t.viewName("link"), false, "Link", "links", t.opts.TokenName, t.opts.SpokeNamespace, "link", t.opts.TokenName, "observe", interval),
	}
}

// Observe makes sure every spoke has its Site and Link views, waits (within
// ctx) for views that have not been processed yet, and reads them all from
// the watch cache.
func (t *Transport) Observe(ctx context.Context, spokes []string) (map[string]*transport.Observation, error) {
	if err := t.start(ctx); err != nil {
		return nil, err
	}
	// Create or fix missing views, with bounded concurrency.
	var (
		mu       sync.Mutex
		failures = map[string]error{}
		views    errgroup.Group
	)
	views.SetLimit(t.opts.Concurrency)
	// A spoke seen for the first time almost always needs its token read:
	// read it now, alongside its first views, so the agent's round trips
	// overlap instead of adding up.
	prefetch := make(chan struct{}, max(t.opts.Concurrency, 64))
	var pwg sync.WaitGroup
	for _, c := range spokes {
		if _, ok := t.cached(t.views, c, t.viewName("link")); !ok {
			pwg.Add(1)
			go func() {
				defer pwg.Done()
				prefetch <- struct{}{}
				defer func() { <-prefetch }()
				tok, err := t.readToken(ctx, c)
				t.mu.Lock()
				t.prefetched[c] = prefetched{tok, err}
				t.mu.Unlock()
			}()
		}
	}
	defer pwg.Wait()
	for _, c := range spokes {
		for _, want := range t.desiredViews(c) {
			if cur, ok := t.cached(t.views, c, want.GetName()); ok && reflect.DeepEqual(scopeOf(cur), scopeOf(want)) {
				continue
			}
			views.Go(func() error {
				if err := t.ensureView(ctx, want); err != nil {
					mu.Lock()
					failures[c] = err
					mu.Unlock()
				}
				return nil
			})
		}
	}
	_ = views.Wait()

	// Wait for views without a Processing condition, all at once.
	var pending []*waiter
	for _, c := range spokes {
		if failures[c] != nil {
			continue
		}
		for _, v := range t.desiredViews(c) {
			pending = append(pending, t.waitFor(t.views, ViewsGVR, c, v.GetName(), viewProcessed))
		}
	}
	for _, w := range pending {
		w.wait(ctx)
	}

	out := make(map[string]*transport.Observation, len(spokes))
	for _, c := range spokes {
		obs := &transport.Observation{Cluster: c}
		if err := failures[c]; err != nil {
			reason := "creating the views failed: " + err.Error()
			obs.Site = transport.Observed[skupper.Site]{State: transport.Unknown, Reason: reason}
			obs.Link = transport.Observed[skupper.Link]{State: transport.Unknown, Reason: reason}
		} else {
			obs.Site = readView(t, c, t.viewName("site"), skupper.ParseSite)
			obs.Link = readView(t, c, t.viewName("link"), skupper.ParseLink)
		}
		out[c] = obs
	}
	return out, nil
}

func (t *Transport) ensureView(ctx context.Context, want *unstructured.Unstructured) error {
	client := t.dyn.Resource(ViewsGVR).Namespace(want.GetNamespace())
	_, err := client.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// The watch cache may lag: keep a view that is already right.
		cur, gerr := client.Get(ctx, want.GetName(), metav1.GetOptions{})
		if gerr == nil && reflect.DeepEqual(scopeOf(cur), scopeOf(want)) {
			return nil
		}
		// A view with another scope (e.g. a renamed token): replace it, so
		// its old result is never mistaken for the new object.
		if err = client.Delete(ctx, want.GetName(), metav1.DeleteOptions{}); err == nil || apierrors.IsNotFound(err) {
			_, err = client.Create(ctx, want, metav1.CreateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("creating ManagedClusterView %s/%s: %w", want.GetNamespace(), want.GetName(), err)
	}
	return nil
}

// viewProcessed is done once the agent reported on the view.
func viewProcessed(u *unstructured.Unstructured) bool {
	return findCondition(u, ConditionProcessing) != nil
}

// readView turns a cached view into an observation. The result is trusted
// only when Processing is True: a failed GET leaves an old result behind.
func readView[T any](t *Transport, cluster, name string, parse func(*unstructured.Unstructured) (*T, error)) transport.Observed[T] {
	v, ok := t.cached(t.views, cluster, name)
	if !ok {
		return transport.Observed[T]{State: transport.Unknown, Reason: "no ManagedClusterView " + cluster + "/" + name + " yet"}
	}
	return viewResult(v, parse)
}

func viewResult[T any](v *unstructured.Unstructured, parse func(*unstructured.Unstructured) (*T, error)) transport.Observed[T] {
	c := findCondition(v, ConditionProcessing)
	switch {
	case c == nil:
		return transport.Observed[T]{State: transport.Unknown, Reason: "the agent has not processed view " + v.GetNamespace() + "/" + v.GetName() + " yet"}
	case c.Status != string(metav1.ConditionTrue):
		if c.Reason == ReasonGetResourceFailed && isNotFoundMessage(c.Message) {
			return transport.Observed[T]{State: transport.Absent}
		}
		return transport.Observed[T]{State: transport.Unknown, Reason: fmt.Sprintf("view %s/%s: %s: %s", v.GetNamespace(), v.GetName(), c.Reason, c.Message)}
	}
	result, found, err := unstructured.NestedMap(v.Object, "status", "result")
	if err != nil || !found || len(result) == 0 {
		return transport.Observed[T]{State: transport.Unknown, Reason: "view " + v.GetNamespace() + "/" + v.GetName() + " is processed but has no result"}
	}
	obj, err := parse(&unstructured.Unstructured{Object: result})
	if err != nil {
		return transport.Observed[T]{State: transport.Unknown, Reason: err.Error()}
	}
	return transport.Observed[T]{State: transport.Present, Object: obj}
}

// ObserveToken reads the spoke's AccessToken through a view made for this
// read and deleted right after it (its result holds the code).
func (t *Transport) ObserveToken(ctx context.Context, spoke string) (transport.Observed[skupper.Token], error) {
	if err := t.start(ctx); err != nil {
		return transport.Observed[skupper.Token]{}, err
	}
	t.mu.Lock()
	p, ok := t.prefetched[spoke]
	delete(t.prefetched, spoke)
	t.mu.Unlock()
	if ok {
		return p.token, p.err
	}
	return t.readToken(ctx, spoke)
}

// prefetched is a token read made during Observe.
type prefetched struct {
	token transport.Observed[skupper.Token]
	err   error
}

// readToken reads the token through a view deleted right after the read.
func (t *Transport) readToken(ctx context.Context, spoke string) (transport.Observed[skupper.Token], error) {
	return readOnce(ctx, t, spoke, "AccessToken", "accesstokens", "token", skupper.ParseToken)
}

// ObserveLink reads the spoke's Link now, through a view made for this read
// and deleted right after it: the persistent Link view may be a refresh
// interval old.
func (t *Transport) ObserveLink(ctx context.Context, spoke string) (transport.Observed[skupper.Link], error) {
	if err := t.start(ctx); err != nil {
		return transport.Observed[skupper.Link]{}, err
	}
	return readOnce(ctx, t, spoke, "Link", "links", "link-now", skupper.ParseLink)
}

// readOnce reads one spoke object through a transient view.
func readOnce[T any](ctx context.Context, t *Transport, spoke, kind, resource, object string, parse func(*unstructured.Unstructured) (*T, error)) (transport.Observed[T], error) {
	want := newView(spoke, "vanlink-"+object+"-", true, kind, resource, t.opts.TokenName, t.opts.SpokeNamespace, object, t.opts.TokenName, "transient", 0)
	client := t.dyn.Resource(ViewsGVR).Namespace(spoke)
	created, err := client.Create(ctx, want, metav1.CreateOptions{})
	if err != nil {
		return transport.Observed[T]{}, fmt.Errorf("cluster %s: creating a view of %s %s: %w", spoke, kind, t.opts.TokenName, err)
	}
	defer t.deleteNow(ctx, ViewsGVR, spoke, created.GetName())
	v, err := t.waitFor(t.views, ViewsGVR, spoke, created.GetName(), viewProcessed).wait(ctx)
	if err != nil {
		if errors.Is(err, errVanished) {
			return transport.Observed[T]{}, fmt.Errorf("cluster %s: the view of %s %s was deleted before it was read: %w", spoke, kind, t.opts.TokenName, transport.ErrOutcomeUnknown)
		}
		return transport.Observed[T]{}, fmt.Errorf("cluster %s: reading %s %s: %w", spoke, kind, t.opts.TokenName, err)
	}
	return viewResult(v, parse), nil
}

// Known returns the spokes that have persistent views of this token name.
func (t *Transport) Known(ctx context.Context) ([]string, error) {
	if err := t.start(ctx); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, o := range t.views.GetStore().List() {
		u := o.(*unstructured.Unstructured)
		l := u.GetLabels()
		if l[PurposeLabel] == "observe" && l[TokenNameLabel] == t.opts.TokenName {
			seen[u.GetNamespace()] = true
		}
	}
	out := make([]string, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}

// Forget deletes the persistent views of a spoke.
func (t *Transport) Forget(ctx context.Context, spoke string) error {
	var errs []error
	for _, v := range t.desiredViews(spoke) {
		err := t.dyn.Resource(ViewsGVR).Namespace(spoke).Delete(ctx, v.GetName(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting ManagedClusterView %s/%s: %w", spoke, v.GetName(), err))
		}
	}
	return errors.Join(errs...)
}
