// Package direct implements transport.Transport for fleets without ACM: the
// hub holds credentials for each spoke (an Argo CD cluster Secret or a
// kubeconfig Secret, see package spokecreds) and vanlink reads and writes
// the spoke's Skupper objects itself. Reads are per-spoke GETs (there is no
// hub-side cache of spoke state); writes are plain creates and deletes.
package direct

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/spokecreds"
	"github.com/vanlink/vanlink/pkg/transport"
)

// Options configure the direct transport.
type Options struct {
	// Secrets lists the credential Secrets; Selector picks them.
	Secrets  spokecreds.SecretLister
	Selector string
	// TokenName names the AccessToken, Link and Secret on each spoke.
	TokenName string
	// SpokeNamespace is the namespace of each spoke's Site.
	SpokeNamespace string
	// SiteName returns the Site name of a spoke; nil means the cluster name.
	SiteName func(cluster string) string
	// Concurrency bounds the spokes read at once by Observe (default 32).
	Concurrency int
	// RequestTimeout bounds each request to a spoke (default 15 s).
	RequestTimeout time.Duration
	// NewClient builds a spoke client; nil uses dynamic.NewForConfig.
	NewClient func(*rest.Config) (dynamic.Interface, error)
}

// Transport is the direct implementation of transport.Transport.
type Transport struct {
	opts Options

	mu      sync.Mutex
	loaded  bool
	spokes  map[string]spokecreds.Spoke
	clients map[string]dynamic.Interface
}

var _ transport.Transport = (*Transport)(nil)

// New returns a direct transport.
func New(o Options) *Transport {
	if o.Concurrency < 1 {
		o.Concurrency = 32
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 15 * time.Second
	}
	if o.SiteName == nil {
		o.SiteName = func(c string) string { return c }
	}
	if o.NewClient == nil {
		o.NewClient = func(c *rest.Config) (dynamic.Interface, error) { return dynamic.NewForConfig(c) }
	}
	return &Transport{opts: o, clients: map[string]dynamic.Interface{}}
}

// Prepare loads the credentials; the direct transport leaves nothing on the
// hub, so there is nothing to clean.
func (t *Transport) Prepare(ctx context.Context) error { return t.load(ctx) }

// Finish has nothing to wait for: every write is done when it returns.
func (t *Transport) Finish(context.Context) error { return nil }

func (t *Transport) load(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.loaded {
		return nil
	}
	spokes, _, err := spokecreds.Load(ctx, t.opts.Secrets, t.opts.Selector)
	if err != nil {
		return err
	}
	t.spokes = map[string]spokecreds.Spoke{}
	for _, s := range spokes {
		t.spokes[s.Name] = s
	}
	t.loaded = true
	return nil
}

// client returns the spoke's client, built once per pass.
func (t *Transport) client(ctx context.Context, spoke string) (dynamic.Interface, error) {
	if err := t.load(ctx); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.clients[spoke]; ok {
		return c, nil
	}
	s, ok := t.spokes[spoke]
	if !ok {
		return nil, fmt.Errorf("cluster %s: no credentials Secret matches %q", spoke, t.opts.Selector)
	}
	cfg := rest.CopyConfig(s.Config)
	cfg.Timeout = t.opts.RequestTimeout
	cfg.UserAgent = "vanlink"
	c, err := t.opts.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: a client from Secret %s: %w", spoke, s.Secret, err)
	}
	t.clients[spoke] = c
	return c, nil
}

func (t *Transport) get(ctx context.Context, spoke string, gvr schema.GroupVersionResource, name string) (*unstructured.Unstructured, error) {
	c, err := t.client(ctx, spoke)
	if err != nil {
		return nil, err
	}
	return c.Resource(gvr).Namespace(t.opts.SpokeNamespace).Get(ctx, name, metav1.GetOptions{})
}

func observe[T any](ctx context.Context, t *Transport, spoke string, gvr schema.GroupVersionResource, name string, parse func(*unstructured.Unstructured) (*T, error)) transport.Observed[T] {
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

// Observe reads each spoke's Site and Link, Concurrency spokes at a time,
// and emits each spoke as soon as both are read.
func (t *Transport) Observe(ctx context.Context, spokes []string, emit func(*transport.Observation)) error {
	if err := t.load(ctx); err != nil {
		return err
	}
	var g errgroup.Group
	g.SetLimit(t.opts.Concurrency)
	for _, s := range spokes {
		g.Go(func() error {
			emit(&transport.Observation{Cluster: s,
				Site: observe(ctx, t, s, skupper.SitesGVR, t.opts.SiteName(s), skupper.ParseSite),
				Link: observe(ctx, t, s, skupper.LinksGVR, t.opts.TokenName, skupper.ParseLink)})
			return nil
		})
	}
	return g.Wait()
}

// ObserveToken reads the spoke's AccessToken (its code is not kept).
func (t *Transport) ObserveToken(ctx context.Context, spoke string) (transport.Observed[skupper.Token], error) {
	return observe(ctx, t, spoke, skupper.AccessTokensGVR, t.opts.TokenName, skupper.ParseToken), nil
}

// ObserveLink reads the spoke's Link.
func (t *Transport) ObserveLink(ctx context.Context, spoke string) (transport.Observed[skupper.Link], error) {
	return observe(ctx, t, spoke, skupper.LinksGVR, t.opts.TokenName, skupper.ParseLink), nil
}

// Push creates the AccessToken on the spoke.
func (t *Transport) Push(ctx context.Context, spoke string, token *unstructured.Unstructured) error {
	op := "create AccessToken " + token.GetName()
	c, err := t.client(ctx, spoke)
	if err != nil {
		return err
	}
	_, err = c.Resource(skupper.AccessTokensGVR).Namespace(t.opts.SpokeNamespace).Create(ctx, token, metav1.CreateOptions{})
	switch {
	case err == nil:
		return nil
	case apierrors.IsAlreadyExists(err):
		return fmt.Errorf("cluster %s: %s: %w", spoke, op, transport.ErrAlreadyExists)
	}
	return spokeError(spoke, op, err)
}

// Remove deletes the chosen objects; absent ones count as removed.
func (t *Transport) Remove(ctx context.Context, spoke, name string, what transport.RemoveOptions) error {
	c, err := t.client(ctx, spoke)
	if err != nil {
		return err
	}
	var errs []error
	bg := metav1.DeletePropagationBackground
	for _, target := range []struct {
		on   bool
		gvr  schema.GroupVersionResource
		kind string
	}{{what.Token, skupper.AccessTokensGVR, "AccessToken"}, {what.Link, skupper.LinksGVR, "Link"}, {what.Secret, skupper.SecretsGVR, "Secret"}} {
		if !target.on {
			continue
		}
		err := c.Resource(target.gvr).Namespace(t.opts.SpokeNamespace).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, spokeError(spoke, "delete "+target.kind+" "+name, err))
		}
	}
	return errors.Join(errs...)
}

// Known returns the spokes that have credentials.
func (t *Transport) Known(ctx context.Context) ([]string, error) {
	if err := t.load(ctx); err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.spokes))
	for n := range t.spokes {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// Forget has nothing to drop: the direct transport keeps no hub-side state.
func (t *Transport) Forget(context.Context, string) error { return nil }

// spokeError classifies a failed request: an unreachable spoke is an agent
// timeout in transport terms; anything else a SpokeError with the API reason.
func spokeError(spoke, op string, err error) error {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cluster %s: %s: %v: %w", spoke, op, err, transport.ErrAgentTimeout)
	}
	return &transport.SpokeError{Cluster: spoke, Op: op, Reason: string(apierrors.ReasonForError(err)), Message: err.Error()}
}
