// Package manifestwork implements transport.Transport with Open Cluster
// Management's ManifestWork (work.open-cluster-management.io/v1), the way
// upstream OCM (and ACM, which ships the same work agent) puts objects on
// spokes: the work agent on each spoke applies the manifests of the works
// in the spoke's hub namespace and reports back through status feedback.
//
// One work per spoke, vanlink-<token>, holds at rest only read-only
// manifests (the agent never writes them): the router ConfigMap
// skupper-router (its owner is the namespace's active Site, whatever its
// name: upstream skupperproject/skupper internal/kube/site/site.go,
// SiteRecovery.IsActive), the Site, the AccessToken, the token's Secret and
// the token's Links (named as the hub makes them: skupper.LinkNames). Their
// feedback (JSONPaths rules, never the token's spec.code) and Available
// conditions are the observation. The work is watched, so a steady pass
// reads a linked fleet from the watch cache and writes nothing; the agent
// syncs feedback every --status-sync-interval (10 s by default).
//
// Fresh reads. The agent applies a work and reads every manifest again
// whenever the work changes (its status controller is queued by the work
// informer: upstream pkg/work/spoke/controllers/statuscontroller/
// availablestatus_controller.go), and stamps the work's aggregated
// Available condition with the generation it read (conditions
// AggregateManifestConditions). A read of the spoke as it is now is
// therefore one write that changes the spec (a counter on the ConfigMap's
// read-only manifest) and a wait for Applied and Available at the new
// generation.
//
// Writes. A push turns the token's manifest into a CreateOnly manifest
// with the whole token, then, as soon as the agent reported on it, back to
// read-only, so the code is on the hub only while Apply runs (it is taken
// out again on every exit path, by Close if a write failed, and by the next
// session's Open after a crash). The token is orphaned by a SelectivelyOrphan
// rule that is in the work from its first version on: the agent gives it
// the removal key of its owner reference (manifestwork_reconciler.go,
// manageOwnerRef: the AppliedManifestWork's uid plus "-"), which the same
// apply strips (create_only_apply.go, helper.ApplyOwnerReferences), so it
// ends without an owner and stays on the spoke when its manifest changes or
// leaves the work. A token
// that was there already is not touched (CreateOnly), and is told from the
// pushed one by the push id annotation in its feedback. Removal adopts the
// objects (see mode adopt), then takes their manifests out, and reads them
// again to confirm they are gone.
//
// A read-only session (a dry run) writes no work: it reads what the works
// already report.
package manifestwork

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/vanlink/vanlink/pkg/transport"
)

// Options configure the ManifestWork transport.
type Options struct {
	// TokenName names the AccessToken, Link and Secret on each spoke.
	TokenName string
	// SpokeNamespace is the namespace of each spoke's Site.
	SpokeNamespace string
	// Concurrency bounds the spokes read again (a work written and waited
	// for) at once (default 32).
	Concurrency int
	// ResyncCheck is how often a waiter re-reads a work directly, in case a
	// watch event was missed (default 2 s).
	ResyncCheck time.Duration
	// Namespaces, when set, are the only hub namespaces (the spokes' names)
	// the transport watches and writes in, so its RBAC can be RoleBindings
	// there only; empty means every hub namespace.
	Namespaces []string
	// SpokeTimeout is how long Observe waits for the agent to report on a
	// spoke's work before it emits the spoke as it is, Unknown (default 2 min).
	SpokeTimeout time.Duration
}

// Transport is the ManifestWork implementation of transport.Transport.
type Transport struct {
	dyn  dynamic.Interface
	opts Options
}

var (
	_ transport.Transport = (*Transport)(nil)
	_ transport.Session   = (*session)(nil)
	_ transport.Pruner    = (*session)(nil)
	_ transport.Watcher   = (*session)(nil)
)

// New returns a ManifestWork transport over a hub dynamic client.
func New(dyn dynamic.Interface, opts Options) *Transport {
	if opts.Concurrency < 1 {
		opts.Concurrency = 32
	}
	if opts.ResyncCheck == 0 {
		opts.ResyncCheck = 2 * time.Second
	}
	if opts.SpokeTimeout == 0 {
		opts.SpokeTimeout = 2 * time.Minute
	}
	return &Transport{dyn: dyn, opts: opts}
}

// session is one session's watch of the works and its writes.
type session struct {
	dyn             dynamic.Interface
	opts            Options
	readOnly, fresh bool

	stop   context.CancelFunc
	infs   []cache.SharedIndexInformer
	notify *notifier

	// locks serialise the writes to one spoke's work.
	mu    sync.Mutex
	locks map[string]*sync.Mutex
	// readGen is, per spoke, the generation of its work this session wrote
	// and then waited for the agent to read: a report at that generation is
	// the spoke as it was read now.
	readGen map[string]int64
	// dirty: taking a code out of a work failed; Close sweeps.
	dirty atomic.Bool
}

// WorkName is the name of the spoke's ManifestWork for a token.
func WorkName(token string) string { return "vanlink-" + token }

// Open starts watching vanlink's works of the token, waits within ctx for
// the cache to fill and, unless read-only, takes out of every work what an
// interrupted session left (a token with its code, objects being removed).
func (tr *Transport) Open(ctx context.Context, o transport.SessionOptions) (transport.Session, error) {
	life, stop := context.WithCancel(context.Background())
	t := &session{dyn: tr.dyn, opts: tr.opts, readOnly: o.ReadOnly, fresh: o.Fresh, stop: stop,
		notify: newNotifier(), locks: map[string]*sync.Mutex{}, readGen: map[string]int64{}}
	if err := t.start(ctx, life); err != nil {
		stop()
		return nil, err
	}
	if !t.readOnly {
		if err := t.sweep(ctx, false); err != nil {
			stop()
			return nil, err
		}
	}
	return t, nil
}

// Close sweeps, when taking a code out of a work failed during the
// session, every work that still holds one, then stops the watch.
func (t *session) Close(ctx context.Context) error {
	defer t.stop()
	if t.dirty.Swap(false) {
		return t.sweep(ctx, true)
	}
	return nil
}

// (all of them when listing: Close lists from the hub, not the cache).
func (t *session) sweep(ctx context.Context, list bool) error {
	var works []*unstructured.Unstructured
	if list {
		namespaces := t.opts.Namespaces
		if len(namespaces) == 0 {
			namespaces = []string{metav1.NamespaceAll}
		}
		for _, ns := range namespaces {
			l, err := t.dyn.Resource(WorksGVR).Namespace(ns).List(ctx, metav1.ListOptions{
				LabelSelector: ManagedByLabel + "=" + ManagedByValue + "," + TokenNameLabel + "=" + t.opts.TokenName})
			if err != nil {
				return fmt.Errorf("listing vanlink's ManifestWorks to take the grant code out of them: %w", err)
			}
			for i := range l.Items {
				works = append(works, &l.Items[i])
			}
		}
	} else {
		for _, inf := range t.infs {
			for _, o := range inf.GetStore().List() {
				works = append(works, o.(*unstructured.Unstructured))
			}
		}
	}
	var errs []error
	for _, u := range works {
		w, err := toWork(u)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !carriesCode(w) && atRest(w) {
			continue
		}
		unlock := t.lock(w.Namespace)
		_, err = t.write(ctx, w.Namespace, shapeOf(w, t.opts.SpokeNamespace))
		unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("taking the grant code out of ManifestWork %s/%s: %w", w.Namespace, w.Name, err))
		}
	}
	return errors.Join(errs...)
}

// write makes the spoke's work hold s (a merge patch of the whole spec, or a
// create) and returns the work written, with its new generation.
func (t *session) write(ctx context.Context, spoke string, s *shape) (*unstructured.Unstructured, error) {
	spec, err := s.spec(t.opts.TokenName)
	if err != nil {
		return nil, err
	}
	name := WorkName(t.opts.TokenName)
	client := t.dyn.Resource(WorksGVR).Namespace(spoke)
	if t.cached(spoke) == nil {
		created, err := client.Create(ctx, newWork(spoke, name, t.opts.TokenName, spec), metav1.CreateOptions{})
		if err == nil {
			return created, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating ManifestWork %s/%s: %w", spoke, name, err)
		}
	}
	patch, err := (&unstructured.Unstructured{Object: map[string]any{"spec": spec}}).MarshalJSON()
	if err != nil {
		return nil, err
	}
	out, err := client.Patch(ctx, name, mergePatch, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		// The cache still had a work deleted since.
		out, err = client.Create(ctx, newWork(spoke, name, t.opts.TokenName, spec), metav1.CreateOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("writing ManifestWork %s/%s: %w", spoke, name, err)
	}
	return out, nil
}
