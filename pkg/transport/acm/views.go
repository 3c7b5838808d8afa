package acm

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vanlink/vanlink/pkg/logctx"
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
// was last pointed at (refresh points it at the Site it finds, whatever its
// name), or the cluster name, which the spoke chart gives its Site by default.
func (t *session) siteName(cluster string) string {
	if r, ok := cachedRecord(t.views, cluster, t.viewName("site")); ok && r.scopeName != "" {
		return r.scopeName
	}
	return cluster
}

func (t *session) siteView(cluster, site string) *unstructured.Unstructured {
	return newView(cluster, t.viewName("site"), false, siteKind, site, t.opts.SpokeNamespace, "site", t.opts.TokenName, "observe", int64(t.opts.ViewInterval.Seconds()))
}

// desiredViews returns the persistent views of a spoke: its Site's, then one
// per Link name (see linkNames).
func (t *session) desiredViews(cluster string, q transport.Query) []*unstructured.Unstructured {
	interval := int64(t.opts.ViewInterval.Seconds())
	views := []*unstructured.Unstructured{t.siteView(cluster, t.siteName(cluster))}
	for _, n := range t.linkNames(cluster, q) {
		views = append(views, newView(cluster, t.linkViewName(n), false, linkKind, n, t.opts.SpokeNamespace, "link", t.opts.TokenName, "observe", interval))
	}
	return views
}

// staleLinkViews returns the names of a spoke's persistent Link views of
// this token that want does not hold: views of Links the hub's router groups
// no longer give (a hub that became HA reads vanlink-<token>-link-1 and -2
// instead of vanlink-<token>-link, and back). The hub never garbage-collects
// views, and the agent reads each one every refresh interval.
// upstream: stolostron/multicloud-operators-foundation
// pkg/klusterlet/view/view_controller.go Reconcile (requeues every view at
// its interval, for as long as it exists)
func (t *session) staleLinkViews(cluster string, want []*unstructured.Unstructured) []string {
	keep := map[string]bool{}
	for _, v := range want {
		keep[v.GetName()] = true
	}
	var out []string
	for _, o := range t.views.GetStore().ByNamespace(cluster) {
		r, ok := recordOf(o)
		if !ok || keep[r.name] {
			continue
		}
		if r.observes(t.opts.TokenName) && r.objectLabel == "link" {
			out = append(out, r.name)
		}
	}
	return out
}

// deleteViews deletes views in the background, Concurrency at a time, and
// returns a function that waits for them. A deletion that fails is tried
// again by the next pass, which finds the view still there.
func (t *session) deleteViews(ctx context.Context, views []types.NamespacedName) (wait func()) {
	var g errgroup.Group
	g.SetLimit(t.opts.Concurrency)
	for _, v := range views {
		g.Go(func() error {
			err := t.dyn.Resource(ViewsGVR).Namespace(v.Namespace).Delete(ctx, v.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
				logctx.From(ctx).Info("deleting a stale ManagedClusterView failed; the next pass tries again", "cluster", v.Namespace, "view", v.Name, "err", err)
			}
			return nil
		})
	}
	return func() { _ = g.Wait() }
}

// linkNames are the names of the token's Links a spoke is read by: those
// of q or, when q has none (the hub's router groups are unknown: its Site
// cannot issue links), the names the spoke's persistent Link views already
// read, so an HA hub's Links stay observed while its Site is not Ready; the
// token's own name when there is no such view.
func (t *session) linkNames(cluster string, q transport.Query) []string {
	if len(q.LinkNames) > 0 {
		return q.LinkNames
	}
	var names []string
	for _, o := range t.views.GetStore().ByNamespace(cluster) {
		if r, ok := recordOf(o); ok && r.observes(t.opts.TokenName) && r.objectLabel == "link" && r.scopeName != "" {
			names = append(names, r.scopeName)
		}
	}
	if len(names) == 0 {
		return []string{t.opts.TokenName}
	}
	sort.Strings(names)
	return slices.Compact(names)
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
