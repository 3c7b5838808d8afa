package acm

import (
	"context"
	"errors"
	"fmt"
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

func (t *session) viewName(object string) string {
	return "vanlink-" + t.opts.TokenName + "-" + object
}

// linkViewName names the persistent view of the token's Link called link:
// vanlink-<token>-link for the Link named after the token, and
// vanlink-<token>-link-<n> for the Link of router group n of an HA hub.
func (t *session) linkViewName(link string) string {
	return t.viewName("link" + strings.TrimPrefix(link, t.opts.TokenName))
}

// siteName is the name the spoke's persistent Site view reads: the name it
// was last pointed at (Refresh points it at the Site it finds, whatever its
// name), or the cluster name, which the spoke chart gives its Site by default.
func (t *session) siteName(cluster string) string {
	if v, ok := t.cached(t.views, cluster, t.viewName("site")); ok {
		if n, _, _ := unstructured.NestedString(v.Object, "spec", "scope", "name"); n != "" {
			return n
		}
	}
	return cluster
}

func (t *session) siteView(cluster, site string) *unstructured.Unstructured {
	return newView(cluster, t.viewName("site"), false, siteKind, site, t.opts.SpokeNamespace, "site", t.opts.TokenName, "observe", int64(t.opts.ViewInterval.Seconds()))
}

// desiredViews returns the persistent views of a spoke: its Site's, then one
// per Link name of q.
func (t *session) desiredViews(cluster string, q transport.Query) []*unstructured.Unstructured {
	interval := int64(t.opts.ViewInterval.Seconds())
	views := []*unstructured.Unstructured{t.siteView(cluster, t.siteName(cluster))}
	for _, n := range linkNames(q, t.opts.TokenName) {
		views = append(views, newView(cluster, t.linkViewName(n), false, linkKind, n, t.opts.SpokeNamespace, "link", t.opts.TokenName, "observe", interval))
	}
	return views
}

func linkNames(q transport.Query, token string) []string {
	if len(q.LinkNames) == 0 {
		return []string{token}
	}
	return q.LinkNames
}

// Observe emits every spoke of q ready to decide on (see
// transport.Session): it observes the fleet through the persistent views
// (observe), and a spoke whose observation a cache may have made stale, or
// that needs its token, is read again at once through views made for that
// read (refresh), Concurrency spokes at a time, while the others are still
// being observed. What may rest on the persistent views: Links Ready (a
// decision to do nothing), unless the session is fresh. A spoke whose
// views were not processed in time is emitted as it is (Unknown).
func (t *session) Observe(ctx context.Context, q transport.Query, emit func(*transport.Observation)) error {
	var g errgroup.Group
	g.SetLimit(t.opts.Concurrency)
	err := t.observe(ctx, q, func(o *transport.Observation) {
		if t.decidable(o) {
			emit(o)
			return
		}
		// Blocks while Concurrency spokes are being read again, which
		// slows the observation down to that pace.
		g.Go(func() error {
			emit(t.complete(ctx, o, q))
			return nil
		})
	})
	_ = g.Wait()
	return err
}

// decidable reports whether an observation from the persistent views can
// be decided on as it is.
func (t *session) decidable(o *transport.Observation) bool {
	switch {
	case o.Site.State == transport.Unknown || o.Links.State == transport.Unknown:
		return true // not readable in time: pending; reading again would wait as long
	case t.readOnly:
		return true // a dry run reads nothing more (that takes a view)
	case o.Links.State == transport.Present && o.Links.Object.Ready():
		return o.Fresh || !t.fresh
	}
	// Anything else may lead to a push or a removal, which rests on a read
	// of the spoke as it is now, with its token when the Site is there.
	return o.Fresh && (o.Site.State != transport.Present || o.Token != nil)
}

// complete reads a spoke again as it is now, with its token, within the
// spoke's deadline. A token read along the first views is kept.
func (t *session) complete(ctx context.Context, o *transport.Observation, q transport.Query) *transport.Observation {
	ctx, cancel := context.WithTimeout(ctx, t.opts.SpokeTimeout)
	defer cancel()
	withToken := o.Token == nil && !(o.Links.State == transport.Present && o.Links.Object.Ready())
	fresh, err := t.refresh(ctx, o.Cluster, q, withToken)
	if err != nil {
		reason := "reading the spoke as it is now failed: " + err.Error()
		return &transport.Observation{Cluster: o.Cluster, Credentials: transport.Unknown,
			Site:  transport.Observed[skupper.Site]{State: transport.Unknown, Reason: reason},
			Links: transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: reason}, Token: o.Token}
	}
	if fresh.Token == nil {
		fresh.Token = o.Token
	}
	if fresh.Token == nil && fresh.Site.State == transport.Present && fresh.Links.State != transport.Unknown && !(fresh.Links.State == transport.Present && fresh.Links.Object.Ready()) {
		tok, err := t.readToken(ctx, o.Cluster)
		if err != nil {
			tok = transport.Observed[skupper.Token]{State: transport.Unknown, Reason: err.Error()}
		}
		fresh.Token = &tok
	}
	return fresh
}

// observe makes sure every spoke has its Site and Link views and emits each
// spoke as soon as its views are processed, read from the watch cache.
// Spokes seen for the first time also get their token read at once (see
// prefetchTokens), and are emitted with it. Should the watch lag or restart,
// views pending for longer than ResyncCheck are read directly: a GET each
// when few are pending, one paginated LIST when many are, so the cost stays
// flat with the fleet. Observe returns once every spoke is emitted and every
// token read it started has finished; a spoke whose views are not processed
// within SpokeTimeout, or when ctx ends, is emitted as Unknown.
//
// An observation is Fresh when every view it rests on was made by this call
// and the Site was found: a view refreshed every ViewInterval can show a
// Site or Link deleted since, and a view reads a Site by name, so its
// absence is not conclusive (Refresh finds the Site whatever its name).
// A ReadOnly transport makes no view: spokes without views are Unknown.
func (t *session) observe(ctx context.Context, q transport.Query, emit func(*transport.Observation)) error {
	events, unsubscribe := t.notify.subscribe(anyObject)
	defer unsubscribe()
	startRead, waitReads := t.prefetchTokens(ctx, q.Spokes)
	defer waitReads()

	o := &observation{t: t, emit: emit, pending: map[string]*pendingSpoke{}, direct: map[string]*unstructured.Unstructured{}}
	type toMake struct {
		p       *pendingSpoke
		missing []*unstructured.Unstructured
	}
	var views []toMake
	for _, c := range q.Spokes {
		p := &pendingSpoke{cluster: c, since: time.Now()}
		var missing []*unstructured.Unstructured
		for _, want := range t.desiredViews(c, q) {
			p.views = append(p.views, viewRef{name: want.GetName()})
			if cur, ok := t.cached(t.views, c, want.GetName()); !ok || !reflect.DeepEqual(scopeOf(cur), scopeOf(want)) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 && t.readOnly {
			reason := "no ManagedClusterView of this spoke yet, and a dry run makes none"
			emit(&transport.Observation{Cluster: c, Credentials: transport.Unknown,
				Site:  transport.Observed[skupper.Site]{State: transport.Unknown, Reason: reason},
				Links: transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: reason}})
			continue
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
			m.p.token = startRead(m.p.cluster)
			g.Go(func() error {
				for _, want := range m.missing {
					uid, fresh, err := t.ensureView(ctx, want)
					if err != nil {
						m.p.err = err
						break
					}
					for i := range m.p.views {
						if m.p.views[i].name == want.GetName() {
							m.p.views[i].uid, m.p.views[i].fresh = uid, fresh
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
// when this pass made the view (fresh), so an older copy still in the watch
// cache is not mistaken for it.
type viewRef struct {
	name  string
	uid   types.UID
	fresh bool
}

// pendingSpoke is a spoke whose views are not all processed yet.
type pendingSpoke struct {
	cluster string
	views   []viewRef
	since   time.Time
	err     error
	// token is the token read started with the spoke's views, if any.
	token *tokenRead
	// slot: the spoke holds a place in the observation's window.
	slot bool
}

// observation is the state of one Observe call.
type observation struct {
	t       *session
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
	o.done(p, &transport.Observation{Cluster: p.cluster, Credentials: transport.Unknown,
		Site:  transport.Observed[skupper.Site]{State: transport.Unknown, Reason: reason},
		Links: transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: reason}})
}

// observe reads a spoke's observation from its views as they are now (its
// views are the Site's, then the Links', as desiredViews makes them).
func (o *observation) observe(p *pendingSpoke) *transport.Observation {
	views := make([]*unstructured.Unstructured, len(p.views))
	fresh := true
	for i, ref := range p.views {
		views[i], _ = o.view(p.cluster, ref)
		fresh = fresh && ref.fresh
	}
	out := observeViews(p.cluster, views)
	out.Fresh = fresh && out.Site.State == transport.Present
	if p.token != nil {
		select {
		case <-p.token.done:
			tok := p.token.token
			if p.token.err != nil {
				tok = transport.Observed[skupper.Token]{State: transport.Unknown, Reason: p.token.err.Error()}
			}
			out.Token = &tok
		default:
		}
	}
	return out
}

// observeViews builds an observation from a spoke's views (Site first, then
// the Links'; nil for a view not there or not processed).
func observeViews(cluster string, views []*unstructured.Unstructured) *transport.Observation {
	out := &transport.Observation{Cluster: cluster, Credentials: transport.Unknown}
	if views[0] == nil {
		out.Site = transport.Observed[skupper.Site]{State: transport.Unknown, Reason: "no processed ManagedClusterView of the Site yet"}
	} else {
		out.Site = viewResult(views[0], skupper.ParseSite)
	}
	out.Links = linkSet(views[1:])
	return out
}

// linkSet combines the views of the token's Links: Present with the Links
// found when at least one is there and every view is conclusive.
func linkSet(views []*unstructured.Unstructured) transport.Observed[skupper.LinkSet] {
	var links []skupper.Link
	for _, v := range views {
		if v == nil {
			return transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: "no processed ManagedClusterView of the Link yet"}
		}
		l := viewResult(v, skupper.ParseLink)
		switch l.State {
		case transport.Unknown:
			return transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: l.Reason}
		case transport.Present:
			links = append(links, *l.Object)
		}
	}
	if len(links) == 0 {
		return transport.Observed[skupper.LinkSet]{State: transport.Absent}
	}
	set := skupper.NewLinkSet(links...)
	return transport.Observed[skupper.LinkSet]{State: transport.Present, Object: &set}
}

// emitReady emits the pending spokes whose views are all processed and
// whose token read, if one was started, is done.
func (o *observation) emitReady() {
	for c, p := range o.pending {
		ready := true
		for _, ref := range p.views {
			if _, ok := o.view(c, ref); !ok {
				ready = false
				break
			}
		}
		if ready && p.token != nil {
			select {
			case <-p.token.done:
			default:
				ready = false
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
// and returns the UID of the view now in place, and whether this call made
// it (so its first result is read now).
func (t *session) ensureView(ctx context.Context, want *unstructured.Unstructured) (types.UID, bool, error) {
	client := t.dyn.Resource(ViewsGVR).Namespace(want.GetNamespace())
	created, err := client.Create(ctx, want, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// The watch cache may lag: keep a view that is already right.
		cur, gerr := client.Get(ctx, want.GetName(), metav1.GetOptions{})
		if gerr == nil && reflect.DeepEqual(scopeOf(cur), scopeOf(want)) {
			return cur.GetUID(), false, nil
		}
		// A view with another scope (e.g. a renamed token): replace it, so
		// its old result is never mistaken for the new object.
		if err = client.Delete(ctx, want.GetName(), metav1.DeleteOptions{}); err == nil || apierrors.IsNotFound(err) {
			created, err = client.Create(ctx, want, metav1.CreateOptions{})
		}
	}
	if err != nil {
		return "", false, fmt.Errorf("creating ManagedClusterView %s/%s: %w", want.GetNamespace(), want.GetName(), err)
	}
	return created.GetUID(), true, nil
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
// time (no Site view yet): such a spoke almost always needs it, and reading
// it alongside its first views overlaps the agent's round trips instead of
// adding them up. start begins the read of one spoke and returns it (nil
// for others); wait waits for every read started. A read-only transport
// reads no token (that takes a view).
func (t *session) prefetchTokens(ctx context.Context, spokes []string) (start func(cluster string) *tokenRead, wait func()) {
	first := map[string]bool{}
	if !t.readOnly {
		for _, c := range spokes {
			if _, ok := t.cached(t.views, c, t.viewName("site")); !ok {
				first[c] = true
			}
		}
	}
	var wg sync.WaitGroup
	start = func(cluster string) *tokenRead {
		if !first[cluster] {
			return nil
		}
		r := &tokenRead{done: make(chan struct{})}
		wg.Go(func() {
			defer func() {
				close(r.done)
				t.notify.notify(cluster + "/" + t.viewName("token"))
			}()
			rctx, cancel := context.WithTimeout(ctx, t.opts.SpokeTimeout)
			defer cancel()
			r.token, r.err = t.readToken(rctx, cluster)
		})
		return r
	}
	return start, wg.Wait
}

// tokenRead is a token read started by prefetchTokens.
type tokenRead struct {
	done  chan struct{}
	token transport.Observed[skupper.Token]
	err   error
}

// readToken reads the token through a view deleted right after the read
// (its result holds the code).
func (t *session) readToken(ctx context.Context, spoke string) (transport.Observed[skupper.Token], error) {
	return readOnce(ctx, t, spoke, tokenKind, t.opts.TokenName, "token", skupper.ParseToken)
}

// refresh reads one spoke as it is now through views made for this read and
// deleted right after it, in parallel: its Site, its Links by the names of
// q, and its token when asked. A view reads its Site by name: when no Site
// has the name the persistent view reads, the Site is looked up through the
// router ConfigMap skupper-router, which the controller makes for the
// active Site of the namespace and which that Site owns (upstream:
// skupperproject/skupper internal/kube/site/site.go,
// Site.createRouterConfigForGroup and SiteRecovery.IsActive); the
// persistent view is then pointed at the Site found. The Secret of the Links
// stays Unknown: the agent refuses views of Secrets.
func (t *session) refresh(ctx context.Context, spoke string, q transport.Query, withToken bool) (*transport.Observation, error) {
	if t.readOnly {
		return nil, errReadOnly
	}
	names := linkNames(q, t.opts.TokenName)
	var (
		site  transport.Observed[skupper.Site]
		links = make([]transport.Observed[skupper.Link], len(names))
		tok   transport.Observed[skupper.Token]
		errs  = make([]error, len(names)+2)
		wg    sync.WaitGroup
	)
	wg.Go(func() { site, errs[0] = t.findSite(ctx, spoke) })
	for i, n := range names {
		wg.Go(func() { links[i], errs[i+1] = readOnce(ctx, t, spoke, linkKind, n, "link-now", skupper.ParseLink) })
	}
	if withToken {
		wg.Go(func() { tok, errs[len(errs)-1] = t.readToken(ctx, spoke) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := &transport.Observation{Cluster: spoke, Site: site, Credentials: transport.Unknown, Fresh: true}
	var set []skupper.Link
	out.Links.State = transport.Absent
	for _, l := range links {
		switch l.State {
		case transport.Unknown:
			out.Links = transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: l.Reason}
		case transport.Present:
			set = append(set, *l.Object)
		}
	}
	if out.Links.State != transport.Unknown && len(set) > 0 {
		ls := skupper.NewLinkSet(set...)
		out.Links = transport.Observed[skupper.LinkSet]{State: transport.Present, Object: &ls}
	}
	if withToken {
		out.Token = &tok
	}
	return out, nil
}

// findSite reads the spoke's Site by the name its persistent view reads,
// and, when no Site has that name, finds the active Site of the namespace
// through the owner of its router ConfigMap; the persistent view is then
// pointed at it, so the next pass reads it directly.
func (t *session) findSite(ctx context.Context, spoke string) (transport.Observed[skupper.Site], error) {
	name := t.siteName(spoke)
	site, err := readOnce(ctx, t, spoke, siteKind, name, "site-now", skupper.ParseSite)
	if err != nil || site.State != transport.Absent {
		return site, err
	}
	cm, err := readOnce(ctx, t, spoke, configMapKind, skupper.RouterConfigMap, "router-config", func(u *unstructured.Unstructured) (*unstructured.Unstructured, error) { return u, nil })
	if err != nil || cm.State != transport.Present {
		// No router configuration: no active Site in the namespace.
		return transport.Observed[skupper.Site]{State: cm.State, Reason: cm.Reason}, err
	}
	owner, _ := skupper.SiteOwner(cm.Object)
	if owner == "" || owner == name {
		return transport.Observed[skupper.Site]{State: transport.Absent}, nil
	}
	site, err = readOnce(ctx, t, spoke, siteKind, owner, "site-now", skupper.ParseSite)
	if err == nil && site.State == transport.Present {
		if _, _, verr := t.ensureView(ctx, t.siteView(spoke, owner)); verr != nil {
			t.opts.Log.Warn("pointing the Site view at the Site found failed; the next pass looks it up again", "cluster", spoke, "site", owner, "err", verr)
		}
	}
	return site, err
}

// readOnce reads one spoke object through a transient view.
func readOnce[T any](ctx context.Context, t *session, spoke string, k kindRef, name, object string, parse func(*unstructured.Unstructured) (*T, error)) (transport.Observed[T], error) {
	want := newView(spoke, "vanlink-"+object+"-", true, k, name, t.opts.SpokeNamespace, object, t.opts.TokenName, "transient", 0)
	client := t.dyn.Resource(ViewsGVR).Namespace(spoke)
	created, err := client.Create(ctx, want, metav1.CreateOptions{})
	if err != nil {
		t.noteCutShort(ctx)
		return transport.Observed[T]{}, fmt.Errorf("cluster %s: creating a view of %s %s: %w", spoke, k.kind, name, err)
	}
	defer t.deleteNow(ctx, ViewsGVR, spoke, created.GetName())
	v, err := t.waitFor(t.views, ViewsGVR, spoke, created.GetName(), viewProcessed).wait(ctx)
	if err != nil {
		if errors.Is(err, errVanished) {
			return transport.Observed[T]{}, fmt.Errorf("cluster %s: the view of %s %s was deleted before it was read: %w", spoke, k.kind, name, transport.ErrOutcomeUnknown)
		}
		return transport.Observed[T]{}, fmt.Errorf("cluster %s: reading %s %s: %w", spoke, k.kind, name, err)
	}
	return viewResult(v, parse), nil
}

// Known returns the spokes that have persistent views of this token name.
func (t *session) Known(ctx context.Context) ([]string, error) {
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

// Forget deletes the persistent views of a spoke (every one of this token:
// the Site's and the Links', whatever the hub's router groups were).
func (t *session) Forget(ctx context.Context, spoke string) error {
	if t.readOnly {
		return errReadOnly
	}
	var errs []error
	for _, o := range t.views.GetStore().List() {
		u := o.(*unstructured.Unstructured)
		l := u.GetLabels()
		if u.GetNamespace() != spoke || l[PurposeLabel] != "observe" || l[TokenNameLabel] != t.opts.TokenName {
			continue
		}
		err := t.dyn.Resource(ViewsGVR).Namespace(spoke).Delete(ctx, u.GetName(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting ManagedClusterView %s/%s: %w", spoke, u.GetName(), err))
		}
	}
	return errors.Join(errs...)
}
