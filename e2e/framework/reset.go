package framework

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// A bed is expensive to start (an etcd and an API server per cluster, their
// bootstrap and the CRDs: about 8 s of CPU for a hub and two spokes) and
// cheap to empty. Checkpoint and Reset let one bed serve scenario after
// scenario: Reset deletes what was made since the checkpoint, as a fresh bed
// would not have it, and refuses (ErrNotResettable) when the bed cannot be
// brought back exactly, so that the caller starts a new one instead.

// ErrNotResettable: the bed cannot be brought back to its checkpoint (a
// cluster was added or is stopped, an object of the checkpoint was changed
// or removed, or objects could not be deleted); stop it and start another.
var ErrNotResettable = errors.New("the test bed cannot be reset to its checkpoint")

// checkpoint is what every cluster held at Checkpoint: resourceVersion by uid.
type checkpoint struct {
	clusters []string
	objects  map[string]map[types.UID]objectRef
}

type objectRef struct {
	gvr             schema.GroupVersionResource
	namespace, name string
	resourceVersion string
}

func (o objectRef) String() string {
	r := o.gvr.Resource
	if o.gvr.Group != "" {
		r += "." + o.gvr.Group
	}
	if o.namespace != "" {
		return r + " " + o.namespace + "/" + o.name
	}
	return r + " " + o.name
}

// Reset leaves alone what the API servers keep for themselves: their
// system namespaces (kube-system holds each server's identity Lease, renewed
// every 10 s), the default/kubernetes Service, the APIServices that the
// CRDs' groups register and remove on their own, and the objects that
// admission or allocation make (IP addresses, service CIDRs).
var (
	systemNamespaces = []string{metav1.NamespaceSystem, metav1.NamespacePublic, "kube-node-lease"}
	keptResources    = map[schema.GroupResource]bool{
		{Group: "apiregistration.k8s.io", Resource: "apiservices"}:                       true,
		{Group: "networking.k8s.io", Resource: "ipaddresses"}:                            true,
		{Group: "networking.k8s.io", Resource: "servicecidrs"}:                           true,
		{Group: "flowcontrol.apiserver.k8s.io", Resource: "flowschemas"}:                 true,
		{Group: "flowcontrol.apiserver.k8s.io", Resource: "prioritylevelconfigurations"}: true,
		// The same Events as the core group's, which Reset deletes.
		{Group: "events.k8s.io", Resource: "events"}: true,
	}
)

func kept(gr schema.GroupResource, namespace, name string) bool {
	if keptResources[gr] || slices.Contains(systemNamespaces, namespace) {
		return true
	}
	if namespace == metav1.NamespaceDefault && name == "kubernetes" {
		switch gr {
		case schema.GroupResource{Resource: "services"}, schema.GroupResource{Resource: "endpoints"},
			schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"}:
			return true
		}
	}
	return false
}

// Checkpoint records the objects of every cluster of the bed (by uid and
// resourceVersion), the state Reset brings the bed back to. Call it once
// the bed is up and before anything is made in it.
func (e *Env) Checkpoint(ctx context.Context) error {
	cp := &checkpoint{objects: map[string]map[types.UID]objectRef{}}
	for _, c := range e.All() {
		objs, err := c.objects(ctx)
		if err != nil {
			return fmt.Errorf("checkpoint of %s: %w", c.Name, err)
		}
		cp.clusters = append(cp.clusters, c.Name)
		cp.objects[c.Name] = objs
	}
	e.mu.Lock()
	e.checkpoint = cp
	e.mu.Unlock()
	return nil
}

// Reset brings every cluster back to the Checkpoint: it deletes every object
// made since (finalizers removed first: no controller of the bed would
// remove them), namespaces included (finalized as the namespace controller
// would), and waits until they are gone; spokes added since (AddSpoke) are
// stopped and removed from the bed. It returns ErrNotResettable, with the
// reason, when a cluster of the checkpoint is missing or its API server
// stopped, a work agent still runs, or an object of the checkpoint was
// changed or removed; the bed is then no longer the one checkpointed.
// Clearing a bed after a scenario takes about a second, and about 1.5 s of
// CPU, most of it the API servers answering the lists.
func (e *Env) Reset(ctx context.Context) error {
	e.mu.Lock()
	cp, agents := e.checkpoint, len(e.agents)
	e.mu.Unlock()
	if cp == nil {
		return fmt.Errorf("%w: no checkpoint", ErrNotResettable)
	}
	if agents > 0 {
		return fmt.Errorf("%w: %d work agents run (StopWorkAgents first)", ErrNotResettable, agents)
	}
	all := e.All()
	var names []string
	for _, c := range all {
		names = append(names, c.Name)
	}
	if len(names) < len(cp.clusters) || !slices.Equal(names[:len(cp.clusters)], cp.clusters) {
		return fmt.Errorf("%w: clusters %v, checkpointed %v", ErrNotResettable, names, cp.clusters)
	}
	kept, added := all[:len(cp.clusters)], all[len(cp.clusters):]
	for _, c := range kept {
		if !c.running {
			return fmt.Errorf("%w: the API server of %s is stopped", ErrNotResettable, c.Name)
		}
	}
	// Spokes added since (AddSpoke) are stopped and forgotten; one added
	// again later starts empty, under a new etcd prefix.
	var wg sync.WaitGroup
	for _, c := range added {
		wg.Go(func() { c.Stop() })
	}
	wg.Wait()
	e.mu.Lock()
	e.Spokes = e.Spokes[:len(cp.clusters)-1]
	e.mu.Unlock()
	errs := make([]error, len(kept))
	for i, c := range kept {
		wg.Go(func() { errs[i] = c.reset(ctx, cp.objects[c.Name]) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// StopWorkAgents stops every work agent of the bed and forgets them.
func (e *Env) StopWorkAgents() {
	e.mu.Lock()
	agents := e.agents
	e.agents = nil
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, a := range agents {
		wg.Go(a.Stop)
	}
	wg.Wait()
}

// resources lists the resources of the cluster that can be listed and
// deleted, in their preferred version.
func (c *Cluster) resources() ([]metav1.APIResource, []schema.GroupVersionResource, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(c.Config)
	if err != nil {
		return nil, nil, err
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		// A group whose CRD was just deleted can fail discovery; the others
		// are listed.
		return nil, nil, err
	}
	var res []metav1.APIResource
	var gvrs []schema.GroupVersionResource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			if keptResources[gv.WithResource(r.Name).GroupResource()] {
				continue
			}
			res = append(res, r)
			gvrs = append(gvrs, gv.WithResource(r.Name))
		}
	}
	return res, gvrs, nil
}

// objects lists every object Reset may delete, by uid.
func (c *Cluster) objects(ctx context.Context) (map[types.UID]objectRef, error) {
	_, gvrs, err := c.resources()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	out := map[types.UID]objectRef{}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, gvr := range gvrs {
		g.Go(func() error {
			list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
			if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
				return nil // a CRD going away
			}
			if err != nil {
				return fmt.Errorf("listing %s: %w", gvr, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for i := range list.Items {
				o := &list.Items[i]
				if kept(gvr.GroupResource(), o.GetNamespace(), o.GetName()) {
					continue
				}
				out[o.GetUID()] = objectRef{gvr: gvr, namespace: o.GetNamespace(), name: o.GetName(), resourceVersion: o.GetResourceVersion()}
			}
			return nil
		})
	}
	return out, g.Wait()
}

// resetOrder deletes namespaced objects first, CRDs and namespaces last:
// a CRD's deletion removes its objects in the API server, and a namespace
// is finalized once empty.
func resetOrder(r objectRef) int {
	switch {
	case r.namespace != "":
		return 0
	case r.gvr.Resource == "customresourcedefinitions", r.gvr.Resource == "namespaces" && r.gvr.Group == "":
		return 2
	default:
		return 1
	}
}

// reset deletes what the cluster holds beyond base and waits until it is gone.
func (c *Cluster) reset(ctx context.Context, base map[types.UID]objectRef) error {
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	kc, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	var last []objectRef
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		now, err := c.objects(ctx)
		if err != nil {
			return false, err
		}
		for uid, ref := range base {
			cur, ok := now[uid]
			if !ok {
				return false, fmt.Errorf("%w: %s: %s was removed", ErrNotResettable, c.Name, ref)
			}
			if cur.resourceVersion != ref.resourceVersion {
				return false, fmt.Errorf("%w: %s: %s was changed", ErrNotResettable, c.Name, ref)
			}
		}
		last = last[:0]
		for uid, ref := range now {
			if _, ok := base[uid]; !ok {
				last = append(last, ref)
			}
		}
		if len(last) == 0 {
			return true, nil
		}
		sort.SliceStable(last, func(i, j int) bool { return resetOrder(last[i]) < resetOrder(last[j]) })
		for _, ref := range last {
			if err := deleteObject(ctx, dyn, kc, ref); err != nil {
				return false, fmt.Errorf("%s: deleting %s: %w", c.Name, ref, err)
			}
		}
		return false, nil
	})
	if err != nil && wait.Interrupted(err) {
		var left []string
		for _, r := range last {
			left = append(left, r.String())
		}
		return fmt.Errorf("%w: %s still holds %s", ErrNotResettable, c.Name, strings.Join(left, ", "))
	}
	return err
}

// deleteObject removes an object's finalizers, deletes it and, for a
// namespace, finalizes it as the namespace controller does once the
// namespace is empty (its spec.finalizers emptied through the finalize
// subresource). NotFound is success.
func deleteObject(ctx context.Context, dyn dynamic.Interface, kc kubernetes.Interface, ref objectRef) error {
	r := dyn.Resource(ref.gvr).Namespace(ref.namespace)
	o, err := r.Get(ctx, ref.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// A CRD keeps its finalizer: the API server's own controller removes it
	// once the CRD's objects are gone (deleted before it, see resetOrder).
	if len(o.GetFinalizers()) > 0 && ref.gvr.Resource != "customresourcedefinitions" {
		if _, err := r.Patch(ctx, ref.name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if o.GetDeletionTimestamp() == nil {
		if err := r.Delete(ctx, ref.name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	if ref.gvr.Group == "" && ref.gvr.Resource == "namespaces" {
		return finalizeNamespace(ctx, kc, ref.name)
	}
	return nil
}

func finalizeNamespace(ctx context.Context, kc kubernetes.Interface, name string) error {
	ns, err := kc.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(ns.Spec.Finalizers) == 0 {
		return nil
	}
	ns.Spec.Finalizers = nil
	// Its objects were deleted first (resetOrder); a conflict is retried by
	// the next poll.
	if _, err := kc.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return err
	}
	return nil
}
