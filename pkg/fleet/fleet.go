// Package fleet decides which spokes a pass handles (a Source):
//   - BySelector: the ManagedClusters matching a label selector;
//   - ByPlacement: the clusters decided by an OCM Placement (its
//     PlacementDecisions, merged);
//   - BySecrets: the spokes whose credentials the hub holds (Argo CD cluster
//     Secrets or kubeconfig Secrets), for the direct transport.
//
// With ManagedClusters, the hub itself (label local-cluster=true) and clusters
// that are not joined and available are reported as skipped, with the reason.
package fleet

import (
	"context"
	"fmt"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	clusterv1beta1 "open-cluster-management.io/api/cluster/v1beta1"
)

// LocalClusterLabel marks the hub's own ManagedCluster.
const LocalClusterLabel = "local-cluster"

// PlacementLabel labels the PlacementDecisions of a Placement.
const PlacementLabel = "cluster.open-cluster-management.io/placement"

// Cluster is a spoke to link.
type Cluster struct {
	Name   string
	Labels map[string]string
}

// Skipped is a cluster the pass does not handle, and why.
type Skipped struct {
	Name   string
	Reason string
}

// Selection is the outcome of discovery, sorted by name.
type Selection struct {
	Clusters []Cluster
	Skipped  []Skipped
}

// Names returns the names of the selected clusters.
func (s Selection) Names() []string {
	out := make([]string, len(s.Clusters))
	for i, c := range s.Clusters {
		out[i] = c.Name
	}
	return out
}

// ManagedClusterLister lists ManagedClusters; the typed OCM clientset's
// ClusterV1().ManagedClusters() satisfies it.
type ManagedClusterLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*clusterv1.ManagedClusterList, error)
}

// PlacementDecisionLister lists PlacementDecisions of one namespace; the typed
// clientset's ClusterV1beta1().PlacementDecisions(ns) satisfies it.
type PlacementDecisionLister interface {
	List(ctx context.Context, opts metav1.ListOptions) (*clusterv1beta1.PlacementDecisionList, error)
}

// Source says where the spokes come from.
type Source interface {
	Select(ctx context.Context) (Selection, error)
}

// BySelector selects the usable ManagedClusters matching a label selector.
type BySelector struct {
	Clusters ManagedClusterLister
	// Selector is a label selector; empty selects every cluster.
	Selector string
}

var _ Source = BySelector{}

// Select lists the ManagedClusters once and sorts them into usable and skipped.
func (s BySelector) Select(ctx context.Context) (Selection, error) {
	if _, err := labels.Parse(s.Selector); err != nil {
		return Selection{}, fmt.Errorf("cluster selector %q: %w", s.Selector, err)
	}
	list, err := listAll(ctx, s.Clusters, s.Selector)
	if err != nil {
		return Selection{}, err
	}
	var sel Selection
	for i := range list {
		classify(&sel, &list[i])
	}
	sortSelection(&sel)
	return sel, nil
}

// ByPlacement selects the clusters decided by an OCM Placement.
type ByPlacement struct {
	Clusters  ManagedClusterLister
	Decisions PlacementDecisionLister
	// Namespace and Name of the Placement.
	Namespace, Name string
}

var _ Source = ByPlacement{}

// Select lists the Placement's decisions (at most 100 clusters per
// PlacementDecision, so they are merged) and checks each decided cluster.
func (p ByPlacement) Select(ctx context.Context) (Selection, error) {
	decided := map[string]bool{}
	opts := metav1.ListOptions{LabelSelector: PlacementLabel + "=" + p.Name}
	for {
		list, err := p.Decisions.List(ctx, opts)
		if err != nil {
			return Selection{}, fmt.Errorf("listing PlacementDecisions of Placement %s/%s: %w", p.Namespace, p.Name, err)
		}
		for _, d := range list.Items {
			for _, dec := range d.Status.Decisions {
				if dec.ClusterName != "" {
					decided[dec.ClusterName] = true
				}
			}
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	all, err := listAll(ctx, p.Clusters, "")
	if err != nil {
		return Selection{}, err
	}
	var sel Selection
	for i := range all {
		if decided[all[i].Name] {
			classify(&sel, &all[i])
			delete(decided, all[i].Name)
		}
	}
	for name := range decided {
		sel.Skipped = append(sel.Skipped, Skipped{Name: name, Reason: "decided by the Placement but no ManagedCluster has this name"})
	}
	sortSelection(&sel)
	return sel, nil
}

func listAll(ctx context.Context, l ManagedClusterLister, selector string) ([]clusterv1.ManagedCluster, error) {
	var out []clusterv1.ManagedCluster
	opts := metav1.ListOptions{LabelSelector: selector, Limit: 500}
	for {
		list, err := l.List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("listing ManagedClusters: %w", err)
		}
		out = append(out, list.Items...)
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

// classify adds mc to the clusters or the skipped list of sel.
func classify(sel *Selection, mc *clusterv1.ManagedCluster) {
	if mc.Labels[LocalClusterLabel] == "true" {
		sel.Skipped = append(sel.Skipped, Skipped{Name: mc.Name, Reason: "the hub itself (label local-cluster=true)"})
		return
	}
	if !mc.DeletionTimestamp.IsZero() {
		sel.Skipped = append(sel.Skipped, Skipped{Name: mc.Name, Reason: "being deleted"})
		return
	}
	for _, t := range []string{clusterv1.ManagedClusterConditionJoined, clusterv1.ManagedClusterConditionAvailable} {
		c := findCondition(mc.Status.Conditions, t)
		if c == nil {
			sel.Skipped = append(sel.Skipped, Skipped{Name: mc.Name, Reason: t + " is not reported"})
			return
		}
		if c.Status != metav1.ConditionTrue {
			reason := fmt.Sprintf("%s is %s", t, c.Status)
			if c.Message != "" {
				reason += ": " + c.Message
			}
			sel.Skipped = append(sel.Skipped, Skipped{Name: mc.Name, Reason: reason})
			return
		}
	}
	sel.Clusters = append(sel.Clusters, Cluster{Name: mc.Name, Labels: mc.Labels})
}

func findCondition(conds []metav1.Condition, t string) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

func sortSelection(sel *Selection) {
	sort.Slice(sel.Clusters, func(i, j int) bool { return sel.Clusters[i].Name < sel.Clusters[j].Name })
	sort.Slice(sel.Skipped, func(i, j int) bool { return sel.Skipped[i].Name < sel.Skipped[j].Name })
}
