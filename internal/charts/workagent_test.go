package charts_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestSpokeWorkAgentRBAC: with workAgent.rbac the spoke chart renders one
// ClusterRole that the klusterlet aggregates into its work agent's role,
// with what the hub's ManifestWork transport has the agent do and nothing
// more; off by default.
func TestSpokeWorkAgentRBAC(t *testing.T) {
	require.Empty(t, render(t, eastRelease, nil).Find("ClusterRole"), "no ClusterRole unless asked")
	out := render(t, eastRelease, map[string]any{"workAgent": map[string]any{"rbac": true}})
	roles := out.Find("ClusterRole")
	require.Len(t, roles, 1)
	require.Equal(t, "true", roles[0].GetLabels()["open-cluster-management.io/aggregate-to-work"], "aggregated into the work agent's role")
	var r rbacv1.ClusterRole
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(roles[0].Object, &r))
	require.ElementsMatch(t, []rbacv1.PolicyRule{
		{APIGroups: []string{"skupper.io"}, Resources: []string{"sites"}, Verbs: []string{"get"}},
		{APIGroups: []string{"skupper.io"}, Resources: []string{"accesstokens"}, Verbs: []string{"get", "create", "patch", "delete"}},
		{APIGroups: []string{"skupper.io"}, Resources: []string{"links"}, Verbs: []string{"get", "patch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "patch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}},
	}, r.Rules)
}
