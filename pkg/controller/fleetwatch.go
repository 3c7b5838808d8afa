package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	clusterclient "open-cluster-management.io/api/client/cluster/clientset/versioned"
	clusterinformers "open-cluster-management.io/api/client/cluster/informers/externalversions"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	clusterv1beta1 "open-cluster-management.io/api/cluster/v1beta1"

	"github.com/vanlink/vanlink/pkg/fleet"
)

// ManagedClusters returns the fleet of the ManagedClusters matching
// selector (or, with a placement "namespace/name", decided by that
// Placement) over informer caches; changed is called when a cluster's
// labels, availability or deletion change, or a decision does.
func (w *Watch) ManagedClusters(cc clusterclient.Interface, selector, placement string, changed func()) (fleet.Source, error) {
	sc := &selectionCache{}
	changed = sc.invalidating(changed)
	f := clusterinformers.NewSharedInformerFactory(cc, 0)
	mc := f.Cluster().V1().ManagedClusters()
	if err := mc.Informer().SetTransform(slimCluster); err != nil {
		return nil, err
	}
	if _, err := mc.Informer().AddEventHandler(handler(func(o, n any) bool { return clusterKey(o) != clusterKey(n) }, changed)); err != nil {
		return nil, err
	}
	clusters := clusterLister{mc.Lister().List}
	if err := w.track("managedclusters", mc.Informer()); err != nil {
		return nil, err
	}
	var src fleet.Source = fleet.BySelector{Clusters: clusters, Selector: selector}
	if placement != "" {
		ns, name, _ := strings.Cut(placement, "/")
		pf := clusterinformers.NewSharedInformerFactoryWithOptions(cc, 0, clusterinformers.WithNamespace(ns),
			clusterinformers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = fleet.PlacementLabel + "=" + name }))
		pd := pf.Cluster().V1beta1().PlacementDecisions()
		if _, err := pd.Informer().AddEventHandler(handler(func(o, n any) bool {
			return fmt.Sprint(o.(*clusterv1beta1.PlacementDecision).Status) != fmt.Sprint(n.(*clusterv1beta1.PlacementDecision).Status)
		}, changed)); err != nil {
			return nil, err
		}
		if err := w.track("placementdecisions", pd.Informer()); err != nil {
			return nil, err
		}
		w.starts = append(w.starts, pf.Start)
		src = fleet.ByPlacement{Clusters: clusters, Decisions: decisionLister{pd.Lister().PlacementDecisions(ns).List}, Namespace: ns, Name: name}
	}
	w.starts = append(w.starts, f.Start)
	sc.src = src
	return sc, nil
}

// selectionCache serves the selection it last computed from the informer
// caches until one of their events says it may have changed (the handlers
// call invalidate before the controller hears of the change): a resync
// reconciles the fleet in batches, and each batch asked for the selection,
// a copy of every cached object and a new list of every spoke (at 10,000
// spokes, about 9 MB allocated per batch). A Select that races an event
// keeps nothing: the next one computes it again. The selection is shared:
// its readers do not change it.
type selectionCache struct {
	src fleet.Source
	mu  sync.Mutex
	// gen counts the events: a selection computed while one came is not
	// kept.
	gen uint64
	sel *fleet.Selection
}

var _ fleet.Source = (*selectionCache)(nil)

// invalidating returns changed, called after the cached selection is
// dropped.
func (c *selectionCache) invalidating(changed func()) func() {
	return func() {
		c.mu.Lock()
		c.gen++
		c.sel = nil
		c.mu.Unlock()
		changed()
	}
}

func (c *selectionCache) Select(ctx context.Context) (fleet.Selection, error) {
	c.mu.Lock()
	if c.sel != nil {
		sel := *c.sel
		c.mu.Unlock()
		return sel, nil
	}
	gen := c.gen
	c.mu.Unlock()
	sel, err := c.src.Select(ctx)
	if err != nil {
		return sel, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.sel = &sel
	}
	c.mu.Unlock()
	return sel, nil
}

// slimCluster keeps in the cache what choosing a spoke reads of a
// ManagedCluster (name, labels, deletion, the Joined and Available
// conditions): an ACM cluster also carries managed fields, capacity,
// allocatable, versions and a few dozen cluster claims, kilobytes per
// cluster that a fleet of thousands would keep for nothing.
func slimCluster(o any) (any, error) {
	mc, ok := o.(*clusterv1.ManagedCluster)
	if !ok {
		return o, nil // a tombstone
	}
	out := &clusterv1.ManagedCluster{ObjectMeta: metav1.ObjectMeta{Name: mc.Name, UID: mc.UID, ResourceVersion: mc.ResourceVersion,
		Labels: mc.Labels, DeletionTimestamp: mc.DeletionTimestamp}}
	for _, c := range mc.Status.Conditions {
		if c.Type == clusterv1.ManagedClusterConditionJoined || c.Type == clusterv1.ManagedClusterConditionAvailable {
			out.Status.Conditions = append(out.Status.Conditions, c)
		}
	}
	return out, nil
}

// clusterKey is what choosing a spoke reads of a ManagedCluster.
func clusterKey(o any) string {
	mc, ok := o.(*clusterv1.ManagedCluster)
	if !ok {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v|%t|", mc.Labels, mc.DeletionTimestamp.IsZero())
	for _, c := range mc.Status.Conditions {
		if c.Type == clusterv1.ManagedClusterConditionJoined || c.Type == clusterv1.ManagedClusterConditionAvailable {
			fmt.Fprintf(&b, "%s=%s:%s|", c.Type, c.Status, c.Message)
		}
	}
	return b.String()
}

type clusterLister struct {
	list func(labels.Selector) ([]*clusterv1.ManagedCluster, error)
}

func (l clusterLister) List(_ context.Context, o metav1.ListOptions) (*clusterv1.ManagedClusterList, error) {
	items, err := fromCache(l.list, o)
	return &clusterv1.ManagedClusterList{Items: items}, err
}

// fromCache lists the objects an informer's lister holds for the options'
// label selector, as the API server's LIST would return them.
func fromCache[T any](list func(labels.Selector) ([]*T, error), o metav1.ListOptions) ([]T, error) {
	sel, err := labels.Parse(o.LabelSelector)
	if err != nil {
		return nil, err
	}
	items, err := list(sel)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(items))
	for _, i := range items {
		out = append(out, *i)
	}
	return out, nil
}

type decisionLister struct {
	list func(labels.Selector) ([]*clusterv1beta1.PlacementDecision, error)
}

func (l decisionLister) List(_ context.Context, o metav1.ListOptions) (*clusterv1beta1.PlacementDecisionList, error) {
	items, err := fromCache(l.list, o)
	return &clusterv1beta1.PlacementDecisionList{Items: items}, err
}

// Secrets returns the fleet of the credential Secrets (the direct
// transport) of namespace ns matching selector, over an informer cache;
// changed is called when one changes.
func (w *Watch) Secrets(kube kubernetes.Interface, ns, selector string, changed func()) (fleet.Source, error) {
	sc := &selectionCache{}
	changed = sc.invalidating(changed)
	f := informers.NewSharedInformerFactoryWithOptions(kube, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	inf := f.Core().V1().Secrets()
	if _, err := inf.Informer().AddEventHandler(handler(func(o, n any) bool {
		a, b := o.(*corev1.Secret), n.(*corev1.Secret)
		return a.ResourceVersion != b.ResourceVersion
	}, changed)); err != nil {
		return nil, err
	}
	if err := w.track("secrets", inf.Informer()); err != nil {
		return nil, err
	}
	w.starts = append(w.starts, f.Start)
	sc.src = fleet.BySecrets{Secrets: secretLister{inf.Lister().Secrets(ns).List}, Selector: selector}
	return sc, nil
}

type secretLister struct {
	list func(labels.Selector) ([]*corev1.Secret, error)
}

func (l secretLister) List(_ context.Context, o metav1.ListOptions) (*corev1.SecretList, error) {
	items, err := fromCache(l.list, o)
	return &corev1.SecretList{Items: items}, err
}
