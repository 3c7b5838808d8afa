package manifestwork

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	workv1 "open-cluster-management.io/api/work/v1"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// errReadOnly: a read-only session (a dry run) writes no ManifestWork.
var errReadOnly = errors.New("the ManifestWork transport is read-only (dry run): it writes no ManifestWork")

// Observe emits every spoke of q (see transport.Session). A spoke whose
// work reports, for the Links of q, Links that are all Ready is emitted from
// the watch cache (unless the session is fresh); any other is read as it
// is now (a write to its work and a wait for the agent), Concurrency
// spokes at a time, while the others are still being emitted.
func (t *session) Observe(ctx context.Context, q transport.Query, emit func(*transport.Observation)) error {
	var g errgroup.Group
	g.SetLimit(t.opts.Concurrency)
	for _, spoke := range q.Spokes {
		names := t.linkNames(spoke, q)
		if o := t.fromCache(spoke, names); o != nil && t.decidable(o) {
			emit(o)
			continue
		}
		if t.readOnly {
			emit(t.unreadable(spoke, "a dry run writes no ManifestWork, and no work of this spoke reports on its Links yet"))
			continue
		}
		g.Go(func() error {
			emit(t.readNow(ctx, spoke, names))
			return nil
		})
	}
	_ = g.Wait()
	return nil
}

// linkNames are the names of the token's Links a spoke is read by: those
// of q or, when q has none (the hub's router groups are unknown: its Site
// cannot issue links), the Links the spoke's work already reads (the
// token's own name for a new work), so an HA hub's Links stay observed
// while its Site is not Ready.
func (t *session) linkNames(spoke string, q transport.Query) []string {
	if len(q.LinkNames) > 0 {
		return q.LinkNames
	}
	return t.current(spoke).links
}

// decidable reports whether an observation from the cache can be decided
// on as it is: Links Ready (a decision to do nothing), unless the session
// is fresh; in a dry run, whatever the works report.
func (t *session) decidable(o *transport.Observation) bool {
	if t.readOnly {
		return true
	}
	return o.Links.State == transport.Present && o.Links.Object.Ready() && !t.fresh
}

// fromCache builds a spoke's observation from its work in the watch cache,
// nil when there is no work that reads the Links of names or the agent has
// not reported on its current generation.
func (t *session) fromCache(spoke string, names []string) *transport.Observation {
	u := t.cached(spoke)
	if u == nil {
		return nil
	}
	w, err := toWork(u)
	if err != nil {
		return nil
	}
	s := shapeOf(w, t.opts.SpokeNamespace)
	if !slices.Equal(s.links, names) || !readAt(w.Generation, s.manifests(t.opts.TokenName))(w) {
		return nil
	}
	return t.observation(spoke, w, s, false)
}

func (t *session) unreadable(spoke, reason string) *transport.Observation {
	return &transport.Observation{Cluster: spoke, Credentials: transport.Unknown,
		Site:  transport.Observed[skupper.Site]{State: transport.Unknown, Reason: reason},
		Links: transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: reason},
		Token: &transport.Observed[skupper.Token]{State: transport.Unknown, Reason: reason}}
}

// readNow reads the spoke as it is now, within SpokeTimeout: it writes the
// work with the Links of names and a new read counter and waits for the
// agent to apply it and read every manifest. When no Site has the name
// read, and the router ConfigMap's owner names another, the work is pointed
// at that Site and read again.
func (t *session) readNow(ctx context.Context, spoke string, names []string) *transport.Observation {
	ctx, cancel := context.WithTimeout(ctx, t.opts.SpokeTimeout)
	defer cancel()
	defer t.lock(spoke)()
	s := t.current(spoke)
	s.links = names
	for range 2 {
		w, err := t.read(ctx, spoke, s)
		if err != nil {
			return t.unreadable(spoke, "reading the spoke through its ManifestWork: "+err.Error())
		}
		o := t.observation(spoke, w, s, true)
		owner := manifestStatus(w, configMapKind, skupper.RouterConfigMap).siteOwner()
		if o.Site.State != transport.Absent || owner == "" || owner == s.site {
			return o
		}
		s.site = owner
	}
	return t.unreadable(spoke, "the spoke's active Site changed while it was read")
}

// current is the shape of the spoke's work at rest (a new one when there
// is no work: its Site read by the cluster's name, which the spoke chart
// gives it by default).
func (t *session) current(spoke string) *shape {
	if u := t.cached(spoke); u != nil {
		if w, err := toWork(u); err == nil {
			s := shapeOf(w, t.opts.SpokeNamespace)
			if s.site != "" {
				return s
			}
		}
	}
	return &shape{namespace: t.opts.SpokeNamespace, site: spoke, links: []string{t.opts.TokenName}}
}

// read writes s with a new read counter and waits until the agent read
// every manifest at the generation written.
func (t *session) read(ctx context.Context, spoke string, s *shape) (*workv1.ManifestWork, error) {
	s.read++
	written, err := t.write(ctx, spoke, s)
	if err != nil {
		return nil, err
	}
	w, err := t.waitWork(ctx, spoke, readAt(written.GetGeneration(), s.manifests(t.opts.TokenName)))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("the work agent did not report on ManifestWork %s/%s generation %d in time: %w", spoke, written.GetName(), written.GetGeneration(), transport.ErrAgentTimeout)
		}
		return nil, err
	}
	t.mu.Lock()
	t.readGen[spoke] = written.GetGeneration()
	t.mu.Unlock()
	return w, nil
}

// observation reads a spoke's work status.
func (t *session) observation(spoke string, w *workv1.ManifestWork, s *shape, fresh bool) *transport.Observation {
	ns := t.opts.SpokeNamespace
	o := &transport.Observation{Cluster: spoke, Fresh: fresh}
	o.Site = observed(manifestStatus(w, siteKind, s.site), siteKind, s.site, ns, "Site "+s.site, skupper.ParseSite)
	tok := observed(manifestStatus(w, tokenKind, t.opts.TokenName), tokenKind, t.opts.TokenName, ns, "AccessToken "+t.opts.TokenName, skupper.ParseToken)
	o.Token = &tok
	o.Credentials, _ = manifestStatus(w, secretKind, t.opts.TokenName).state("Secret " + t.opts.TokenName)
	var links []skupper.Link
	o.Links.State = transport.Absent
	for _, n := range s.links {
		l := observed(manifestStatus(w, linkKind, n), linkKind, n, ns, "Link "+n, skupper.ParseLink)
		switch l.State {
		case transport.Unknown:
			o.Links = transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: l.Reason}
			return o
		case transport.Present:
			links = append(links, *l.Object)
		}
	}
	if len(links) > 0 {
		set := skupper.NewLinkSet(links...)
		o.Links = transport.Observed[skupper.LinkSet]{State: transport.Present, Object: &set}
	}
	return o
}

func observed[T any](f feedback, k kindRef, name, namespace, what string, parse func(*unstructured.Unstructured) (*T, error)) transport.Observed[T] {
	state, reason := f.state(what)
	if state != transport.Present {
		return transport.Observed[T]{State: state, Reason: reason}
	}
	obj, err := parse(f.object(k, name, namespace))
	if err != nil {
		return transport.Observed[T]{State: transport.Unknown, Reason: fmt.Sprintf("%s: %v", what, err)}
	}
	return transport.Observed[T]{State: transport.Present, Object: obj}
}
