package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/skupper"
)

// ErrGrantNotFound: the AccessGrant does not exist.
var ErrGrantNotFound = errors.New("AccessGrant not found")

// ReadGrant reads, parses and validates the grant.
func (e *Engine) ReadGrant(ctx context.Context) (*skupper.Grant, error) {
	obj, err := e.Grants.Get(ctx, e.Opts.GrantName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: %s/%s", ErrGrantNotFound, e.Opts.GrantNamespace, e.Opts.GrantName)
	}
	if err != nil {
		return nil, fmt.Errorf("reading AccessGrant %s/%s: %w", e.Opts.GrantNamespace, e.Opts.GrantName, err)
	}
	g, err := skupper.ParseGrant(obj)
	if err != nil {
		return nil, err
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}

// hubState is what the hub Site allows: the router groups spokes link to
// (one Link each), or why no link can be issued now.
type hubState struct {
	groups  int
	blocked string
}

// linkNames are the names the hub gives the Links of the token: none when
// the hub is blocked, its router groups unknown (a Site without endpoints
// says nothing of its HA), so the transports keep reading the names they
// read and delete no view of an HA hub's working Links.
func (h hubState) linkNames(token string) []string {
	if h.blocked != "" {
		return nil
	}
	return skupper.LinkNames(token, h.groups)
}

// ErrHubNotReady is wrapped by CheckHub's error when the hub Site cannot
// issue links yet.
var ErrHubNotReady = errors.New("the hub cannot issue links yet")

// readHub reads the Site in the grant's namespace. A redemption is counted
// before the grant server looks for the granting Site's endpoints, then
// fails with HTTP 500 when there are none, and the spoke controller retries
// it about every 30 s, each time spending one more: so while the hub Site is
// not Ready with link endpoints, no token is pushed (upstream:
// skupperproject/skupper internal/kube/grants/grants.go and tokens.go).
// An error is returned only when the Sites cannot be read.
func (e *Engine) readHub(ctx context.Context) (hubState, error) {
	if e.Sites == nil {
		return hubState{groups: 1}, nil
	}
	list, err := e.Sites.List(ctx, metav1.ListOptions{})
	if err != nil {
		return hubState{}, fmt.Errorf("reading the hub Site in namespace %s: %w", e.Opts.GrantNamespace, err)
	}
	if len(list.Items) == 0 {
		return hubState{blocked: fmt.Sprintf("no Site in namespace %s: the grant server has no Site to issue links for", e.Opts.GrantNamespace)}, nil
	}
	var reasons []string
	for i := range list.Items {
		site, err := skupper.ParseSite(&list.Items[i])
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		if err := site.CanIssueLinks(); err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		return hubState{groups: site.LinkGroups()}, nil
	}
	return hubState{blocked: strings.Join(reasons, "; ")}, nil
}

// CheckHub returns nil when the hub Site can issue links, or an error
// wrapping ErrHubNotReady that names the Site and says why not.
func (e *Engine) CheckHub(ctx context.Context) error {
	e.defaults()
	h, err := e.readHub(ctx)
	if err != nil {
		return err
	}
	if h.blocked != "" {
		return fmt.Errorf("%w: %s", ErrHubNotReady, h.blocked)
	}
	return nil
}

// margin is the expiry margin for this grant: ExpiryMargin, at most half of
// the grant's expiration window (10 minutes when unset, as upstream), so a
// grant is never "expiring" for most of its life.
func (e *Engine) margin(g *skupper.Grant) time.Duration {
	window := 10 * time.Minute
	if w, err := time.ParseDuration(g.ExpirationWindow); err == nil && w > 0 {
		window = w
	}
	return min(e.Opts.ExpiryMargin, window/2)
}

// streams reports whether the pass can push each spoke as soon as it is
// observed instead of observing the whole fleet first: the grant can redeem a
// token for every selected spoke (so no plan can exceed it, whatever is
// observed), it is not expired, it needs no rotation, and the pass is not a
// dry run. Otherwise the pass observes everything, then checks the budget.
func (e *Engine) streams(grant *skupper.Grant, spokes int) bool {
	now := e.Clock.Now()
	h := grant.Health(now)
	margin := e.margin(grant)
	expiring := margin > 0 && h.ExpiresWithin(now, margin)
	return !e.Opts.DryRun && !h.Expired && h.Left >= int64(spokes) && !(e.Opts.Rotate && expiring)
}

// rotate deletes the grant and re-creates it with the same spec, labels and
// annotations (so Helm and Argo CD still own it), then waits for the
// controller to make the new one usable.
func (e *Engine) rotate(ctx context.Context, old *skupper.Grant) (*skupper.Grant, error) {
	cur, err := e.Grants.Get(ctx, old.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("rotating AccessGrant %s/%s: %w", old.Namespace, old.Name, err)
	}
	fresh := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": cur.GetAPIVersion(), "kind": cur.GetKind(),
		"metadata": map[string]any{"name": cur.GetName(), "namespace": cur.GetNamespace()},
	}}
	fresh.SetLabels(cur.GetLabels())
	fresh.SetAnnotations(cur.GetAnnotations())
	if spec, ok, _ := unstructured.NestedMap(cur.Object, "spec"); ok {
		_ = unstructured.SetNestedMap(fresh.Object, spec, "spec")
	}
	uid := cur.GetUID()
	if err := e.Grants.Delete(ctx, old.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("rotating AccessGrant %s/%s: deleting it: %w", old.Namespace, old.Name, err)
	}
	rctx, cancel := context.WithTimeout(ctx, e.Opts.RotationTimeout)
	defer cancel()
	created := false
	var last error
	for {
		if !created {
			_, err := e.Grants.Create(rctx, fresh, metav1.CreateOptions{})
			switch {
			case err == nil:
				created = true
			case apierrors.IsAlreadyExists(err):
				// The old one is still being deleted.
			default:
				last = err
			}
		}
		if created {
			g, err := e.ReadGrant(rctx)
			if err == nil && g.UID != old.UID {
				return g, nil
			}
			last = err
		}
		select {
		case <-rctx.Done():
			return nil, fmt.Errorf("rotating AccessGrant %s/%s: the new grant was not usable within %s: %w", old.Namespace, old.Name, e.Opts.RotationTimeout, errors.Join(last, rctx.Err()))
		case <-time.After(250 * time.Millisecond):
		}
	}
}
