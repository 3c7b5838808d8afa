package direct

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

func observe[T any](ctx context.Context, t *session, spoke string, gvr schema.GroupVersionResource, name string, parse func(*unstructured.Unstructured) (*T, error)) transport.Observed[T] {
	o, err := t.get(ctx, spoke, gvr, name)
	switch {
	case apierrors.IsNotFound(err):
		return transport.Observed[T]{State: transport.Absent}
	case err != nil:
		return transport.Observed[T]{State: transport.Unknown, Reason: fmt.Sprintf("reading %s %s: %v", gvr.Resource, name, err)}
	}
	v, err := parse(o)
	if err != nil {
		return transport.Observed[T]{State: transport.Unknown, Reason: err.Error()}
	}
	return transport.Observed[T]{State: transport.Present, Object: v}
}

func (t *session) list(ctx context.Context, spoke string, gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
	c, err := t.client(ctx, spoke)
	if err != nil {
		return nil, err
	}
	l, err := c.Resource(gvr).Namespace(t.opts.SpokeNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// observeSite reads the Site of the spoke namespace, whatever its name.
// Skupper runs one active Site per namespace: when several exist, the active
// one owns the router ConfigMap skupper-router, as upstream's own recovery
// decides (skupperproject/skupper internal/kube/site/site.go,
// SiteRecovery.IsActive).
func (t *session) observeSite(ctx context.Context, spoke string) transport.Observed[skupper.Site] {
	items, err := t.list(ctx, spoke, skupper.SitesGVR)
	if err != nil {
		return transport.Observed[skupper.Site]{State: transport.Unknown, Reason: fmt.Sprintf("listing Sites: %v", err)}
	}
	if len(items) == 0 {
		return transport.Observed[skupper.Site]{State: transport.Absent}
	}
	active := &items[0]
	if len(items) > 1 {
		if cm, err := t.get(ctx, spoke, skupper.ConfigMapsGVR, skupper.RouterConfigMap); err == nil {
			for i := range items {
				if skupper.OwnedBy(cm, &items[i]) {
					active = &items[i]
				}
			}
		}
	}
	site, err := skupper.ParseSite(active)
	if err != nil {
		return transport.Observed[skupper.Site]{State: transport.Unknown, Reason: err.Error()}
	}
	return transport.Observed[skupper.Site]{State: transport.Present, Object: site}
}

// observeLinks reads every Link that uses the token's credentials.
func (t *session) observeLinks(ctx context.Context, spoke string) transport.Observed[skupper.LinkSet] {
	items, err := t.list(ctx, spoke, skupper.LinksGVR)
	if err != nil {
		return transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: fmt.Sprintf("listing Links: %v", err)}
	}
	var links []skupper.Link
	for i := range items {
		l, err := skupper.ParseLink(&items[i])
		if err != nil {
			return transport.Observed[skupper.LinkSet]{State: transport.Unknown, Reason: err.Error()}
		}
		if l.UsesCredentials(t.opts.TokenName) {
			links = append(links, *l)
		}
	}
	if len(links) == 0 {
		return transport.Observed[skupper.LinkSet]{State: transport.Absent}
	}
	set := skupper.NewLinkSet(links...)
	return transport.Observed[skupper.LinkSet]{State: transport.Present, Object: &set}
}

// observeSpoke reads a spoke as it is now, within SpokeTimeout.
// The token is read whenever the Links are not all Ready.
func (t *session) observeSpoke(ctx context.Context, spoke string) *transport.Observation {
	ctx, cancel := context.WithTimeout(ctx, t.opts.SpokeTimeout)
	defer cancel()
	o := &transport.Observation{Cluster: spoke, Fresh: true,
		Site: t.observeSite(ctx, spoke), Links: t.observeLinks(ctx, spoke), Credentials: transport.Unknown}
	if o.Links.State == transport.Present {
		// Only the Secret's existence matters: its content is dropped.
		o.Credentials = observe(ctx, t, spoke, skupper.SecretsGVR, t.opts.TokenName, func(*unstructured.Unstructured) (*struct{}, error) { return &struct{}{}, nil }).State
	}
	if o.Site.State == transport.Present && o.Links.State != transport.Unknown && !(o.Links.State == transport.Present && o.Links.Object.Ready()) {
		tok := observe(ctx, t, spoke, skupper.AccessTokensGVR, t.opts.TokenName, skupper.ParseToken)
		o.Token = &tok
	}
	return o
}

// Observe reads each spoke's Site, Links and their Secret (and the token
// when the Links are not Ready), Concurrency spokes at a time, and emits
// each spoke as soon as it is read. Reads are direct, so every observation
// is fresh.
func (t *session) Observe(ctx context.Context, q transport.Query, emit func(*transport.Observation)) error {
	var g errgroup.Group
	g.SetLimit(t.opts.Concurrency)
	for _, s := range q.Spokes {
		g.Go(func() error {
			emit(t.observeSpoke(ctx, s))
			return nil
		})
	}
	return g.Wait()
}
