package acm

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// observe makes sure every spoke has its Site and Link views and emits each
// spoke as soon as its views are processed, read from the watch cache.
// Spokes seen for the first time also get their token read at once (see
// prefetchTokens), and are emitted with it. Should the watch lag or restart,
// views pending for longer than ResyncCheck are read directly, at most
// 4 x Concurrency GETs a tick (see readDirectly). Observe returns once every spoke is emitted and every
// token read it started has finished; a spoke whose views are not processed
// within SpokeTimeout, or when ctx ends, is emitted as Unknown.
//
// An observation is Fresh when every view it rests on was made by this call
// and the Site was found: a view refreshed every ViewInterval can show a
// Site or Link deleted since, and a view reads a Site by name, so its
// absence is not conclusive (refresh finds the Site whatever its name).
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
	var stale []types.NamespacedName
	for _, c := range q.Spokes {
		p := &pendingSpoke{cluster: c, since: time.Now()}
		var missing []*unstructured.Unstructured
		desired := t.desiredViews(c, q)
		for _, want := range desired {
			p.views = append(p.views, viewRef{name: want.GetName()})
			if cur, ok := cachedRecord(t.views, c, want.GetName()); !ok || !cur.sameScope(want) {
				missing = append(missing, want)
			}
		}
		if !t.readOnly && len(q.LinkNames) > 0 {
			// Only names the hub's Site gave are authoritative: without
			// them the default name is a guess, not a reason to delete.
			for _, name := range t.staleLinkViews(c, desired) {
				stale = append(stale, types.NamespacedName{Namespace: c, Name: name})
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
	defer t.deleteViews(ctx, stale)()
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

// ready reports whether a processed copy of a view is there: the watch
// cache's, or a direct read's while the watch lags. It decodes nothing.
func (o *observation) ready(cluster string, ref viewRef) bool {
	if r, ok := cachedRecord(o.t.views, cluster, ref.name); ok && (ref.uid == "" || r.uid == ref.uid) && r.processed {
		return true
	}
	v := o.direct[cluster+"/"+ref.name]
	return v != nil && (ref.uid == "" || v.GetUID() == ref.uid) && viewProcessed(v)
}

// view returns the freshest processed copy of a view (see ready), or the
// cache's copy not processed yet, or nil.
func (o *observation) view(cluster string, ref viewRef) *unstructured.Unstructured {
	r, inCache := cachedRecord(o.t.views, cluster, ref.name)
	inCache = inCache && (ref.uid == "" || r.uid == ref.uid)
	if inCache && r.processed {
		if u, err := r.object(); err == nil {
			return u
		}
	}
	if v := o.direct[cluster+"/"+ref.name]; v != nil && (ref.uid == "" || v.GetUID() == ref.uid) && viewProcessed(v) {
		return v
	}
	if inCache {
		if u, err := r.object(); err == nil {
			return u
		}
	}
	return nil
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
		views[i] = o.view(p.cluster, ref)
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

// emitReady emits the pending spokes whose views are all processed and
// whose token read, if one was started, is done.
func (o *observation) emitReady() {
	for c, p := range o.pending {
		ready := true
		for _, ref := range p.views {
			if !o.ready(c, ref) {
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
