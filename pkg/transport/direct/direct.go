// Package direct implements transport.Transport for fleets without ACM: the
// hub holds credentials for each spoke (an Argo CD cluster Secret or a
// kubeconfig Secret, see package spokecreds) and vanlink reads and writes
// the spoke's Skupper objects itself. Reads are per-spoke GETs (there is no
// hub-side cache of spoke state); writes are plain creates and deletes. A
// controller's session also watches the Links of each spoke it reads (see
// OnChange), so a broken Link is reconciled at once.
package direct

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"sync"
	"time"

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
	// Concurrency bounds the spokes read at once by Observe (default 32).
	Concurrency int
	// RequestTimeout bounds each request to a spoke (default 15 s).
	RequestTimeout time.Duration
	// SpokeTimeout bounds the observation of one spoke, all its requests
	// together (default 2 min): an unreachable spoke is emitted Unknown.
	SpokeTimeout time.Duration
	// NewClient builds a spoke client; nil uses dynamic.NewForConfig.
	NewClient func(*rest.Config) (dynamic.Interface, error)
}

// Transport is the direct implementation of transport.Transport.
type Transport struct {
	opts Options
}

// session holds a session's credentials and spoke clients.
type session struct {
	opts Options

	mu      sync.Mutex
	spokes  map[string]spokecreds.Spoke
	clients map[string]dynamic.Interface
	// onChange is the Watcher's callback (nil: nothing is watched);
	// watching the spokes whose Link watch runs until life ends (Close).
	onChange func(spoke string)
	watching map[string]bool
	life     context.Context
	stop     context.CancelFunc
}

var (
	_ transport.Transport = (*Transport)(nil)
	_ transport.Session   = (*session)(nil)
	_ transport.Pruner    = (*session)(nil)
)

// New returns a direct transport.
func New(o Options) *Transport {
	if o.Concurrency < 1 {
		o.Concurrency = 32
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = 15 * time.Second
	}
	if o.SpokeTimeout == 0 {
		o.SpokeTimeout = 2 * time.Minute
	}
	if o.NewClient == nil {
		o.NewClient = func(c *rest.Config) (dynamic.Interface, error) { return dynamic.NewForConfig(c) }
	}
	return &Transport{opts: o}
}

// Open loads the spoke credentials. The direct transport leaves nothing on
// the hub, so there is nothing to clean, and reads spokes directly, so
// every observation is fresh. A ReadOnly session reads as any other and
// refuses Apply.
func (t *Transport) Open(ctx context.Context, o transport.SessionOptions) (transport.Session, error) {
	spokes, _, err := spokecreds.Load(ctx, t.opts.Secrets, t.opts.Selector)
	if err != nil {
		return nil, err
	}
	s := &session{opts: t.opts, spokes: map[string]spokecreds.Spoke{}, clients: map[string]dynamic.Interface{}, watching: map[string]bool{}}
	s.life, s.stop = context.WithCancel(context.WithoutCancel(ctx))
	for _, sp := range spokes {
		s.spokes[sp.Name] = sp
	}
	if o.ReadOnly {
		return readOnly{s}, nil
	}
	return s, nil
}

// readOnly is a session that refuses to write (a dry run).
type readOnly struct{ *session }

func (readOnly) Apply(context.Context, string, transport.Op) error {
	return errors.New("a read-only (dry-run) session writes nothing")
}

// learn adds the spokes whose credentials appeared since the session
// opened; the ones it knows keep theirs (a spoke that left the selection
// can still be pruned).
func (t *session) learn(ctx context.Context) {
	spokes, _, err := spokecreds.Load(ctx, t.opts.Secrets, t.opts.Selector)
	if err != nil {
		return // the caller reports the spoke as having no credentials
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, sp := range spokes {
		if _, ok := t.spokes[sp.Name]; !ok {
			t.spokes[sp.Name] = sp
		}
	}
}

// Close ends the Link watches (see OnChange); it has nothing else to wait
// for: every write is done when Apply returns.
func (t *session) Close(context.Context) error {
	t.stop()
	return nil
}

// client returns the spoke's client, built once per session.
func (t *session) client(ctx context.Context, spoke string) (dynamic.Interface, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.clients[spoke]; ok {
		return c, nil
	}
	s, ok := t.spokes[spoke]
	if !ok {
		// A spoke that joined after the session opened (a controller's
		// session lives for a leadership term): its Secret is read now.
		t.mu.Unlock()
		t.learn(ctx)
		t.mu.Lock()
		s, ok = t.spokes[spoke]
	}
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
	t.watchLocked(spoke, s)
	return c, nil
}

func (t *session) get(ctx context.Context, spoke string, gvr schema.GroupVersionResource, name string) (*unstructured.Unstructured, error) {
	c, err := t.client(ctx, spoke)
	if err != nil {
		return nil, err
	}
	return c.Resource(gvr).Namespace(t.opts.SpokeNamespace).Get(ctx, name, metav1.GetOptions{})
}

// Apply removes what op says, then creates its token.
func (t *session) Apply(ctx context.Context, spoke string, op transport.Op) error {
	if err := t.remove(ctx, spoke, op.Name, op.Remove); err != nil {
		return err
	}
	if op.Push == nil {
		return nil
	}
	return t.push(ctx, spoke, op.Push)
}

// push creates the AccessToken on the spoke, built (the code read) only here.
func (t *session) push(ctx context.Context, spoke string, req *skupper.TokenRequest) error {
	op := "create AccessToken " + req.Name
	c, err := t.client(ctx, spoke)
	if err != nil {
		return err
	}
	_, err = c.Resource(skupper.AccessTokensGVR).Namespace(t.opts.SpokeNamespace).Create(ctx, req.Reveal(), metav1.CreateOptions{})
	switch {
	case err == nil:
		return nil
	case apierrors.IsAlreadyExists(err):
		return fmt.Errorf("cluster %s: %s: %w", spoke, op, transport.ErrAlreadyExists)
	}
	return spokeError(spoke, op, err)
}

// remove deletes the chosen objects; absent ones count as removed. The
// token's Links are every Link that uses its credentials, and every name the
// grant server can give them.
func (t *session) remove(ctx context.Context, spoke, name string, what transport.RemoveOptions) error {
	if what == (transport.RemoveOptions{}) {
		return nil
	}
	c, err := t.client(ctx, spoke)
	if err != nil {
		return err
	}
	type target struct {
		gvr        schema.GroupVersionResource
		kind, name string
	}
	var targets []target
	if what.Token {
		targets = append(targets, target{skupper.AccessTokensGVR, "AccessToken", name})
	}
	if what.Link {
		names := skupper.AllLinkNames(name)
		items, err := t.list(ctx, spoke, skupper.LinksGVR)
		if err != nil {
			return spokeError(spoke, "list Links", err)
		}
		for i := range items {
			if l, err := skupper.ParseLink(&items[i]); err == nil && l.UsesCredentials(name) && !slices.Contains(names, l.Name) {
				names = append(names, l.Name)
			}
		}
		for _, n := range names {
			targets = append(targets, target{skupper.LinksGVR, "Link", n})
		}
	}
	if what.Secret {
		targets = append(targets, target{skupper.SecretsGVR, "Secret", name})
	}
	var errs []error
	bg := metav1.DeletePropagationBackground
	for _, tg := range targets {
		err := c.Resource(tg.gvr).Namespace(t.opts.SpokeNamespace).Delete(ctx, tg.name, metav1.DeleteOptions{PropagationPolicy: &bg})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, spokeError(spoke, "delete "+tg.kind+" "+tg.name, err))
		}
	}
	return errors.Join(errs...)
}

// Known returns the spokes that have credentials.
func (t *session) Known(context.Context) ([]string, error) {
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
func (t *session) Forget(context.Context, string) error { return nil }

// spokeError classifies a failed request: an unreachable spoke is an agent
// timeout in transport terms; anything else a SpokeError with the API reason.
func spokeError(spoke, op string, err error) error {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cluster %s: %s: %w: %w", spoke, op, err, transport.ErrAgentTimeout)
	}
	return &transport.SpokeError{Cluster: spoke, Op: op, Reason: string(apierrors.ReasonForError(err)), Message: err.Error(), Err: err}
}
