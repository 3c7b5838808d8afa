package acm

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

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

// Observe makes sure every spoke has its Site and Link views and emits each
// spoke as soon as both views are processed, read from the watch cache.
// Spokes seen for the first time also get their token read at once (see
// prefetchTokens). Should the watch lag or restart, views pending for longer
// than ResyncCheck are read directly: a GET each when few are pending, one
// paginated LIST when many are, so the cost stays flat with the fleet.
// Observe returns once every spoke is emitted and every token read it
// started has finished; a spoke whose views are not processed within
// SpokeTimeout, or when ctx ends, is emitted as Unknown.
func (t *Transport) Observe(ctx context.Context, spokes []string, emit func(*transport.Observation)) error {
	if err := t.start(ctx); err != nil {
		return err
	}
	events, unsubscribe := t.notify.subscribe(anyObject)
	defer unsubscribe()
	startRead, waitReads := t.prefetchTokens(ctx, spokes)
	defer waitReads()

	o := &observation{t: t, emit: emit, pending: map[string]*pendingSpoke{}, direct: map[string]*unstructured.Unstructured{}}
	type toMake struct {
		p       *pendingSpoke
		missing []*unstructured.Unstructured
	}
	var views []toMake
	for _, c := range spokes {
		p := &pendingSpoke{cluster: c, since: time.Now()}
		var missing []*unstructured.Unstructured
		for _, want := range t.desiredViews(c) {
			p.views = append(p.views, viewRef{name: want.GetName()})
			if cur, ok := t.cached(t.views, c, want.GetName()); !ok || !reflect.DeepEqual(scopeOf(cur), scopeOf(want)) {
				missing = append(missing, want)
			}
		}
		if len(missing) == 0 {
			o.pending[c] = p
			continue
		}
		views = append(views, toMake{p, missing})
	}
	// Views are made in the background, Concurrency at a time, while the
	// loop below emits the spokes whose views are ready. At most twice
	// Concurrency spokes are in the making (views made or being made, token
	// read started, not emitted yet): as emit blocks while the caller is busy,
	// the observation runs only a little ahead of the pushes instead of
	// loading the hub with the whole fleet's views first.
	toCreate := len(views)
	created := make(chan *pendingSpoke, toCreate)
	o.window = make(chan struct{}, 2*t.opts.Concurrency)
	allMade := make(chan struct{})
	go func() {
		defer close(allMade)
		var g errgroup.Group
		g.SetLimit(t.opts.Concurrency)
		for _, m := range views {
			select {
			case o.window <- struct{}{}:
				m.p.slot = true
			case <-ctx.Done():
			}
			startRead(m.p.cluster)
			g.Go(func() error {
				for _, want := range m.missing {
					uid, err := t.ensureView(ctx, want)
					if err != nil {
						m.p.err = err
						break
					}
					for i := range m.p.views {
						if m.p.views[i].name == want.GetName() {
							m.p.views[i].uid = uid
						}
					}
				}
				m.p.since = time.Now()
				created <- m.p
				return nil
			})
		}
		_ = g.Wait()
	}()
	defer func() { <-allMade }()

	tick := time.NewTicker(t.opts.ResyncCheck)
	defer tick.Stop()
	for {
		if o.emitReady(); toCreate == 0 && len(o.pending) == 0 {
			return nil
		}
		select {
		case p := <-created:
			// Take every spoke whose views are made before looking again.
			for more := true; more; {
				toCreate--
				o.add(p)
				select {
				case p = <-created:
				default:
					more = false
				}
			}
		case <-events:
		case <-tick.C:
			o.giveUp()
			o.readDirectly(ctx)
		case <-ctx.Done():
			<-allMade
			for ; toCreate > 0; toCreate-- {
				o.add(<-created)
			}
			for _, p := range o.pending {
				o.done(p, o.observe(p))
			}
			return nil
		}
	}
}

// viewRef is a persistent view a spoke's observation waits for; uid is set
// when this pass created the view, so an older copy still in the watch cache
// is not mistaken for it.
type viewRef struct {
	name string
	uid  types.UID
}

// pendingSpoke is a spoke whose views are not all processed yet.
type pendingSpoke struct {
	cluster string
	views   []viewRef
	since   time.Time
	err     error
	// slot: the spoke holds a place in the observation's window.
	slot bool
}

// observation is the state of one Observe call.
type observation struct {
	t       *Transport
	emit    func(*transport.Observation)
	pending map[string]*pendingSpoke
	// direct holds views read directly (not through the watch), by key.
	direct map[string]*unstructured.Unstructured
	// window bounds the spokes whose views are being made.
	window chan struct{}
}

// done emits a spoke's observation and frees its place in the window.
func (o *observation) done(p *pendingSpoke, obs *transport.Observation) {
	delete(o.pending, p.cluster)
	o.emit(obs)
	if p.slot {
		<-o.window
	}
}

// view returns the freshest processed copy of a view: the watch cache's, or
// a direct read's while the watch lags. ok is false until one is processed.
func (o *observation) view(cluster string, ref viewRef) (*unstructured.Unstructured, bool) {
	cached, inCache := o.t.cached(o.t.views, cluster, ref.name)
	for _, v := range []*unstructured.Unstructured{cached, o.direct[cluster+"/"+ref.name]} {
		if v != nil && (ref.uid == "" || v.GetUID() == ref.uid) && viewProcessed(v) {
			return v, true
		}
	}
	if inCache && (ref.uid == "" || cached.GetUID() == ref.uid) {
		return cached, false
	}
	return nil, false
}

// add waits for a spoke whose views are made, or emits it as Unknown when
// they could not be.
func (o *observation) add(p *pendingSpoke) {
	if p.err == nil {
		o.pending[p.cluster] = p
		return
	}
	reason := "creating the views failed: " + p.err.Error()
	o.done(p, &transport.Observation{Cluster: p.cluster,
		Site: transport.Observed[skupper.Site]{State: transport.Unknown, Reason: reason},
		Link: transport.Observed[skupper.Link]{State: transport.Unknown, Reason: reason}})
}

// observe reads a spoke's observation from its views as they are now (its
// views are the Site's, then the Link's, as desiredViews makes them).
func (o *observation) observe(p *pendingSpoke) *transport.Observation {
	read := func(ref viewRef) (*unstructured.Unstructured, string) {
		v, _ := o.view(p.cluster, ref)
		return v, "no ManagedClusterView " + p.cluster + "/" + ref.name + " yet"
	}
	site, siteMissing := read(p.views[0])
	link, linkMissing := read(p.views[1])
	out := &transport.Observation{Cluster: p.cluster}
	if site == nil {
		out.Site = transport.Observed[skupper.Site]{State: transport.Unknown, Reason: siteMissing}
	} else {
		out.Site = viewResult(site, skupper.ParseSite)
	}
	if link == nil {
		out.Link = transport.Observed[skupper.Link]{State: transport.Unknown, Reason: linkMissing}
	} else {
		out.Link = viewResult(link, skupper.ParseLink)
	}
	return out
}

// emitReady emits the pending spokes whose views are all processed.
func (o *observation) emitReady() {
	for c, p := range o.pending {
		ready := true
		for _, ref := range p.views {
			if _, ok := o.view(c, ref); !ok {
				ready = false
				break
			}
		}
		if ready {
			o.done(p, o.observe(p))
		}
	}
}

// giveUp emits, as they are, the spokes whose views have waited longer than
// SpokeTimeout (their agent does not answer), so the pass goes on without them.
func (o *observation) giveUp() {
	for _, p := range o.pending {
		if time.Since(p.since) >= o.t.opts.SpokeTimeout {
			o.done(p, o.observe(p))
		}
	}
}

// readDirectly reads the views pending for longer than ResyncCheck from the
// API server instead of the watch: a GET each when they are few, otherwise
// one paginated LIST of all of vanlink's persistent views of this token.
func (o *observation) readDirectly(ctx context.Context) {
	var late []string
	for c, p := range o.pending {
		if time.Since(p.since) < o.t.opts.ResyncCheck {
			continue
		}
		for _, ref := range p.views {
			if _, ok := o.view(c, ref); !ok {
				late = append(late, c+"/"+ref.name)
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
	if len(late) <= o.t.opts.Concurrency {
		var g errgroup.Group
		for _, key := range late {
			ns, name, _ := strings.Cut(key, "/")
			g.Go(func() error {
				if u, err := client.Namespace(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
					keep(u)
				}
				return nil
			})
		}
		_ = g.Wait()
		return
	}
	opts := metav1.ListOptions{Limit: 500, LabelSelector: labels.SelectorFromSet(labels.Set{
		ManagedByLabel: ManagedByValue, PurposeLabel: "observe", TokenNameLabel: o.t.opts.TokenName}).String()}
	for {
		list, err := client.List(ctx, opts)
		if err != nil {
			return
		}
		for i := range list.Items {
			keep(&list.Items[i])
		}
		if opts.Continue = list.GetContinue(); opts.Continue == "" {
			return
		}
	}
}

// ensureView creates a persistent view, or replaces one with another scope,
// and returns the UID of the view now in place.
func (t *Transport) ensureView(ctx context.Context, want *unstructured.Unstructured) (types.UID, error) {
	client := t.dyn.Resource(ViewsGVR).Namespace(want.GetNamespace())
	created, err := client.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// The watch cache may lag: keep a view that is already right.
		cur, gerr := client.Get(ctx, want.GetName(), metav1.GetOptions{})
		if gerr == nil && reflect.DeepEqual(scopeOf(cur), scopeOf(want)) {
			return cur.GetUID(), nil
		}
		// A view with another scope (e.g. a renamed token): replace it, so
		// its old result is never mistaken for the new object.
		if err = client.Delete(ctx, want.GetName(), metav1.DeleteOptions{}); err == nil || apierrors.IsNotFound(err) {
			created, err = client.Create(ctx, want, metav1.CreateOptions{})
		}
	}
	if err != nil {
		return "", fmt.Errorf("creating ManagedClusterView %s/%s: %w", want.GetNamespace(), want.GetName(), err)
	}
	return created.GetUID(), nil
}

// viewProcessed is done once the agent reported on the view.
func viewProcessed(u *unstructured.Unstructured) bool {
	return findCondition(u, ConditionProcessing) != nil
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

// prefetchTokens prepares a token read for every spoke seen for the first
// time (no Link view yet): such a spoke almost always needs it, and reading
// it alongside its first views overlaps the agent's round trips instead of
// adding them up. start begins the read of one spoke (a no-op for others);
// ObserveToken waits for it; wait waits for every read started.
func (t *Transport) prefetchTokens(ctx context.Context, spokes []string) (start func(cluster string), wait func()) {
	reads := map[string]*tokenRead{}
	for _, c := range spokes {
		if _, ok := t.cached(t.views, c, t.viewName("link")); !ok {
			reads[c] = &tokenRead{done: make(chan struct{})}
		}
	}
	t.mu.Lock()
	// A read left from an earlier pass is no longer current.
	t.prefetched = maps.Clone(reads)
	t.mu.Unlock()
	var wg sync.WaitGroup
	start = func(cluster string) {
		r, ok := reads[cluster]
		if !ok {
			return
		}
		wg.Go(func() {
			defer close(r.done)
			rctx, cancel := context.WithTimeout(ctx, t.opts.SpokeTimeout)
			defer cancel()
			r.token, r.err = t.readToken(rctx, cluster)
		})
	}
	return start, wg.Wait
}

// tokenRead is a token read started by prefetchTokens.
type tokenRead struct {
	done  chan struct{}
	token transport.Observed[skupper.Token]
	err   error
}

// ObserveToken reads the spoke's AccessToken through a view made for this
// read and deleted right after it (its result holds the code), or takes the
// read Observe started for it.
func (t *Transport) ObserveToken(ctx context.Context, spoke string) (transport.Observed[skupper.Token], error) {
	if err := t.start(ctx); err != nil {
		return transport.Observed[skupper.Token]{}, err
	}
	t.mu.Lock()
	r, ok := t.prefetched[spoke]
	delete(t.prefetched, spoke)
	t.mu.Unlock()
	if ok {
		select {
		case <-r.done:
			return r.token, r.err
		case <-ctx.Done():
			return transport.Observed[skupper.Token]{}, fmt.Errorf("cluster %s: reading AccessToken %s: %w", spoke, t.opts.TokenName, context.Cause(ctx))
		}
	}
	return t.readToken(ctx, spoke)
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
