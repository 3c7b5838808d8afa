package fleet

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	fakecluster "open-cluster-management.io/api/client/cluster/clientset/versioned/fake"
	clusterv1 "open-cluster-management.io/api/cluster/v1"
	clusterv1beta1 "open-cluster-management.io/api/cluster/v1beta1"
)

// managedCluster builds a joined, available ManagedCluster; mods edit it.
func managedCluster(name string, mods ...func(*clusterv1.ManagedCluster)) *clusterv1.ManagedCluster {
	mc := &clusterv1.ManagedCluster{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"name": name}},
		Status: clusterv1.ManagedClusterStatus{Conditions: []metav1.Condition{
			{Type: clusterv1.ManagedClusterConditionJoined, Status: metav1.ConditionTrue},
			{Type: clusterv1.ManagedClusterConditionAvailable, Status: metav1.ConditionTrue},
		}},
	}
	for _, m := range mods {
		m(mc)
	}
	return mc
}

func label(k, v string) func(*clusterv1.ManagedCluster) {
	return func(mc *clusterv1.ManagedCluster) { mc.Labels[k] = v }
}

func available(s metav1.ConditionStatus) func(*clusterv1.ManagedCluster) {
	return func(mc *clusterv1.ManagedCluster) {
		mc.Status.Conditions[1].Status = s
		mc.Status.Conditions[1].Message = "Registration agent stopped updating its lease."
	}
}

func decision(name string, clusters ...string) *clusterv1beta1.PlacementDecision {
	d := &clusterv1beta1.PlacementDecision{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "openshift-gitops",
		Labels: map[string]string{PlacementLabel: "vanlink-spokes"}}}
	for _, c := range clusters {
		d.Status.Decisions = append(d.Status.Decisions, clusterv1beta1.ClusterDecision{ClusterName: c})
	}
	return d
}

func TestBySelector(t *testing.T) {
	tests := map[string]struct {
		clusters    []runtime.Object
		selector    string
		wantNames   []string
		wantSkipped map[string]string
	}{
		"joined and available clusters are selected, the hub is skipped by its label": {
			clusters:    []runtime.Object{managedCluster("west"), managedCluster("east"), managedCluster("hub-renamed", label("local-cluster", "true"))},
			wantNames:   []string{"east", "west"},
			wantSkipped: map[string]string{"hub-renamed": "the hub itself"},
		},
		"an unavailable cluster is skipped with the reason": {
			clusters:    []runtime.Object{managedCluster("east"), managedCluster("west", available(metav1.ConditionUnknown))},
			wantNames:   []string{"east"},
			wantSkipped: map[string]string{"west": "ManagedClusterConditionAvailable is Unknown: Registration agent stopped"},
		},
		"a cluster that never joined is skipped": {
			clusters:    []runtime.Object{managedCluster("new", func(mc *clusterv1.ManagedCluster) { mc.Status.Conditions = nil })},
			wantSkipped: map[string]string{"new": "ManagedClusterJoined is not reported"},
		},
		"the label selector narrows the selection": {
			clusters:  []runtime.Object{managedCluster("east", label("region", "east")), managedCluster("west", label("region", "west"))},
			selector:  "region=east",
			wantNames: []string{"east"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cs := fakecluster.NewSimpleClientset(tc.clusters...)
			sel, err := BySelector{Clusters: cs.ClusterV1().ManagedClusters(), Selector: tc.selector}.Select(t.Context())
			require.NoError(t, err)
			require.Equal(t, tc.wantNames, nilIfEmpty(sel.Names()))
			require.Len(t, sel.Skipped, len(tc.wantSkipped))
			for _, s := range sel.Skipped {
				require.Contains(t, s.Reason, tc.wantSkipped[s.Name], "reason for skipping %s", s.Name)
			}
		})
	}
	t.Run("a malformed selector is a clear error", func(t *testing.T) {
		_, err := BySelector{Clusters: fakecluster.NewSimpleClientset().ClusterV1().ManagedClusters(), Selector: "region in (east"}.Select(t.Context())
		require.ErrorContains(t, err, `cluster selector "region in (east"`)
	})
}

func TestByPlacement(t *testing.T) {
	cs := fakecluster.NewSimpleClientset(
		managedCluster("east"), managedCluster("west"), managedCluster("south", available(metav1.ConditionFalse)), managedCluster("north"),
		decision("vanlink-spokes-decision-1", "east", "south"), decision("vanlink-spokes-decision-2", "west", "gone"),
		&clusterv1beta1.PlacementDecision{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "openshift-gitops", Labels: map[string]string{PlacementLabel: "other"}},
			Status: clusterv1beta1.PlacementDecisionStatus{Decisions: []clusterv1beta1.ClusterDecision{{ClusterName: "north"}}}},
	)
	sel, err := ByPlacement{Clusters: cs.ClusterV1().ManagedClusters(), Decisions: cs.ClusterV1beta1().PlacementDecisions("openshift-gitops"),
		Namespace: "openshift-gitops", Name: "vanlink-spokes"}.Select(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"east", "west"}, sel.Names(), "decisions of every PlacementDecision are merged; other placements ignored")
	require.Equal(t, []Skipped{
		{Name: "gone", Reason: "decided by the Placement but no ManagedCluster has this name"},
		{Name: "south", Reason: "ManagedClusterConditionAvailable is False: Registration agent stopped updating its lease."},
	}, sel.Skipped)
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
