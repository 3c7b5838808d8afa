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
// rule that is in the work from its first version on: the agent creates it
// without an owner (manifestwork_reconciler.go, manageOwnerRef), so it
// stays on the spoke when its manifest changes or leaves the work. A token
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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

func (t *session) start(ctx, life context.Context) error {
	namespaces := t.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var factories []dynamicinformer.DynamicSharedInformerFactory
	for _, ns := range namespaces {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(t.dyn, 0, ns, func(o *metav1.ListOptions) {
			o.LabelSelector = ManagedByLabel + "=" + ManagedByValue + "," + TokenNameLabel + "=" + t.opts.TokenName
		})
		inf := f.ForResource(WorksGVR).Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    t.notifyObj,
			UpdateFunc: func(_, o any) { t.notifyObj(o) },
			DeleteFunc: t.notifyObj,
		}); err != nil {
			return err
		}
		t.infs = append(t.infs, inf)
		factories = append(factories, f)
	}
	for _, f := range factories {
		f.Start(life.Done())
	}
	synced := make(chan struct{})
	go func() {
		defer close(synced)
		for _, f := range factories {
			f.WaitForCacheSync(life.Done())
		}
	}()
	select {
	case <-synced:
		for _, inf := range t.infs {
			if !inf.HasSynced() {
				return errors.New("listing vanlink's ManifestWorks on the hub: the session was closed")
			}
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("listing vanlink's ManifestWorks on the hub: %w", context.Cause(ctx))
	}
}

func (t *session) notifyObj(o any) {
	if d, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	if u, ok := o.(*unstructured.Unstructured); ok {
		t.notify.notify(u.GetNamespace())
	}
}

// cached returns the spoke's work from the watch cache.
func (t *session) cached(spoke string) *unstructured.Unstructured {
	for _, inf := range t.infs {
		if o, ok, err := inf.GetStore().GetByKey(spoke + "/" + WorkName(t.opts.TokenName)); err == nil && ok {
			if u, ok := o.(*unstructured.Unstructured); ok {
				return u
			}
		}
	}
	return nil
}

func (t *session) lock(spoke string) func() {
	t.mu.Lock()
	l := t.locks[spoke]
	if l == nil {
		l = &sync.Mutex{}
		t.locks[spoke] = l
	}
	t.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// sweep puts back at rest every work that holds a code or is not at rest
