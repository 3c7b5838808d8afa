package acm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/logctx"
	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

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
			if _, ok := cachedRecord(t.views, c, t.viewName("site")); !ok {
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
	names := t.linkNames(spoke, q)
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
			logctx.From(ctx).Warn("pointing the Site view at the Site found failed; the next pass looks it up again", "cluster", spoke, "site", owner, "err", verr)
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
