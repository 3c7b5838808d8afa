// Package acm implements transport.Transport with Red Hat ACM's
// ManagedClusterAction (writes) and ManagedClusterView (reads).
//
// Reads. Each spoke has persistent views, refreshed by the agent every
// ViewInterval: one of its Site, and one per name its token's Links have
// (the token's name, or <token>-1 and <token>-2 behind an HA hub: see
// skupper.LinkNames). They are labelled, so a pass reads the whole fleet
// with one LIST (plus a WATCH) and a steady pass writes nothing. At 1,000
// spokes that is 2,000 small objects and, with the default 300 s interval,
// about 7 agent GETs per second spread over the fleet; views created per
// check would instead cost 2,000 creates and 2,000 deletes on the hub every
// pass plus a wait for the agent on every spoke. Every view names its object
// by kind, version and apiGroup: the agent resolves a bare plural the way
// kubectl does, to the first group discovery lists, so `links` could read
// Linkerd's Links (upstream: stolostron/multicloud-operators-foundation
// pkg/klusterlet/view/view_controller.go, queryResource).
//
// A persistent view can be a refresh interval old, and it reads its Site by
// name, so the session reads a spoke as it is now (refresh) through views
// made for that read and deleted right after it, whenever the spoke is not
// linked (any push or removal rests on such a read) or the session is
// fresh. The Site, whatever its name, is found through the router ConfigMap
// skupper-router that the Skupper controller makes for the active Site of a
// namespace, owned by it (upstream: skupperproject/skupper
// internal/kube/site/site.go, SiteRecovery.IsActive), and the persistent Site
// view is pointed at it. The AccessToken is NOT viewed persistently: a view's
// result is the whole object, including spec.code, so it is read only
// through such transient views. The agent refuses views of Secrets, so the
// Links' Secret is never observed (Observation.Credentials is Unknown).
//
// Writes. Every write is a one-shot action with a server-generated name,
// labelled, deleted as soon as its Completed condition is read (it carries
// the code). Actions name their resource fully qualified
// (<plural>.<version>.<group>). A failed GET does not clear a view's old
// result, and the hub deletes completed actions after 60 s, so results are
// never trusted without their condition, and an action that vanished before
// it was read is reported as transport.ErrOutcomeUnknown.
//
// A session's watches of its views and actions run from Open until Close
// (only in Options.Namespaces when set). A read-only session (a dry run)
// makes no view or action.
package acm

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/vanlink/vanlink/pkg/transport"
)

// Options configure the ACM transport.
type Options struct {
	// TokenName names the AccessToken, Link and Secret on each spoke.
	TokenName string
	// SpokeNamespace is the namespace of each spoke's Site.
	SpokeNamespace string
	// ViewInterval is the refresh interval of persistent views (default 300 s).
	ViewInterval time.Duration
	// Concurrency bounds the view creations of Observe, which makes the
	// views of at most twice as many spokes ahead of its caller, and the
	// spokes read again at once (default 32).
	Concurrency int
	// ResyncCheck is how often a waiter re-reads an object directly, in case
	// a watch event was missed (default 2 s).
	ResyncCheck time.Duration
	// Namespaces, when set, are the only hub namespaces (the spokes' names)
	// the transport watches and writes in, so its RBAC can be RoleBindings
	// there only; empty means every hub namespace.
	Namespaces []string
	// SpokeTimeout is how long Observe waits for a spoke's views to be
	// processed, or for a spoke to be read again, before it emits the spoke
	// as it is, Unknown (default 2 min).
	SpokeTimeout time.Duration
}

// Transport is the ACM implementation of transport.Transport: it opens
// sessions over a hub dynamic client.
type Transport struct {
	dyn  dynamic.Interface
	opts Options
}

// session is one session's watches and background work.
type session struct {
	dyn  dynamic.Interface
	opts Options
	// readOnly (a dry run) makes no view or action; fresh reads every
	// spoke as it is now (see Observe).
	readOnly, fresh bool

	// stop ends the informers (Close).
	stop    context.CancelFunc
	views   *watched
	actions *watched
	notify  *notifier

	// cleanup tracks the deletions of transient objects (see deleteNow).
	cleanup sync.WaitGroup
	// cutShort: a transient object's create failed as its context ended.
	cutShort atomic.Bool
}

var (
	_ transport.Transport = (*Transport)(nil)
	_ transport.Session   = (*session)(nil)
	_ transport.Pruner    = (*session)(nil)
)

// New returns an ACM transport over a hub dynamic client.
func New(dyn dynamic.Interface, opts Options) *Transport {
	if opts.ViewInterval == 0 {
		opts.ViewInterval = 300 * time.Second
	}
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

// Open starts watching vanlink's views and actions on the hub, waits within
// ctx for the watch caches to fill, and, unless read-only, deletes the
// transient objects a crashed session left (actions and token views carry
// the code; the pass lease guarantees no other session uses them). The
// watches run until Close, whatever ctx does afterwards.
func (tr *Transport) Open(ctx context.Context, o transport.SessionOptions) (transport.Session, error) {
	life, stop := context.WithCancel(context.Background())
	t := &session{dyn: tr.dyn, opts: tr.opts, readOnly: o.ReadOnly, fresh: o.Fresh, stop: stop, notify: newNotifier()}
	if err := t.start(ctx, life); err != nil {
		stop()
		return nil, err
	}
	if !t.readOnly {
		if err := t.prepare(ctx); err != nil {
			stop()
			return nil, err
		}
	}
	return t, nil
}

// Close waits, within ctx, for the deletions of transient objects (and
// sweeps after a create cut short), then stops the watches.
func (t *session) Close(ctx context.Context) error {
	defer t.stop()
	return t.finish(ctx)
}

// start runs the informers of vanlink's views and actions until life ends
// and waits, within ctx, for their caches to fill.
func (t *session) start(ctx context.Context, life context.Context) error {
	namespaces := t.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	t.views, t.actions = &watched{}, &watched{}
	var factories []dynamicinformer.DynamicSharedInformerFactory
	for _, ns := range namespaces {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(t.dyn, 0, ns, func(o *metav1.ListOptions) {
			o.LabelSelector = ManagedByLabel + "=" + ManagedByValue
		})
		t.views.infs = append(t.views.infs, f.ForResource(ViewsGVR).Informer())
		t.actions.infs = append(t.actions.infs, f.ForResource(ActionsGVR).Informer())
		factories = append(factories, f)
	}
	for _, w := range []*watched{t.views, t.actions} {
		if err := w.SetTransform(compact); err != nil {
			return err
		}
		if err := w.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    t.notifyObj,
			UpdateFunc: func(_, o any) { t.notifyObj(o) },
			DeleteFunc: t.notifyObj,
		}); err != nil {
			return err
		}
	}
	return transport.StartInformers(ctx, life, "vanlink's ManagedClusterViews and Actions", factories, t.views.HasSynced, t.actions.HasSynced)
}

func (t *session) notifyObj(o any) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		t.notify.notify(d.Key)
		return
	}
	if key, err := cache.MetaNamespaceKeyFunc(o); err == nil {
		t.notify.notify(key)
	}
}

// prepare deletes the transient objects a crashed session left: actions
// (which may carry the code) and views (a token view holds it).
func (t *session) prepare(ctx context.Context) error {
	var errs []error
	for _, item := range []struct {
		kind     string
		informer *watched
		client   dynamic.NamespaceableResourceInterface
	}{{"ManagedClusterAction", t.actions, t.dyn.Resource(ActionsGVR)}, {"ManagedClusterView", t.views, t.dyn.Resource(ViewsGVR)}} {
		for _, o := range item.informer.GetStore().List() {
			r, ok := recordOf(o)
			if !ok || r.purpose != "transient" {
				continue
			}
			err := item.client.Namespace(r.namespace).Delete(ctx, r.name, metav1.DeleteOptions{PropagationPolicy: &deleteBackground})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting leftover %s %s/%s: %w", item.kind, r.namespace, r.name, err))
			}
		}
	}
	return errors.Join(errs...)
}
