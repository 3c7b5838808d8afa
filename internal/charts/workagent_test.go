package charts_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/vanlink/vanlink/internal/charts"
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

// TestHubReadmeStatesTheWorkAgentRights: the hub README's sentence on what
// the work agent needs on each spoke lists exactly what the spoke chart's
// workAgent.rbac grants, verb by resource.
func TestHubReadmeStatesTheWorkAgentRights(t *testing.T) {
	data, err := os.ReadFile(repo(t, charts.HubChart+"/README.md"))
	require.NoError(t, err)
	text := strings.Join(strings.Fields(string(data)), " ")
	const start, end = "On each spoke the work agent needs these rights in `token.spokeNamespace`:", "The spoke chart's `workAgent.rbac: true` renders exactly these"
	i, j := strings.Index(text, start), strings.Index(text, end)
	require.True(t, i >= 0 && j > i, "the hub README states the work agent's rights and points to workAgent.rbac")
	verbs := map[string]bool{"get": true, "list": true, "watch": true, "create": true, "update": true, "patch": true, "delete": true}
	resources := map[string]bool{"sites": true, "accesstokens": true, "links": true, "secrets": true, "configmaps": true}
	said := map[string]bool{}
	for _, clause := range strings.Split(text[i+len(start):j], ";") {
		clause, _, _ = strings.Cut(clause, "(")
		words := strings.FieldsFunc(clause, func(r rune) bool { return r == ' ' || r == ',' || r == '.' || r == '`' })
		var vs, rs []string
		for _, w := range words {
			if verbs[w] {
				vs = append(vs, w)
			}
			if resources[w] {
				rs = append(rs, w)
			}
		}
		for _, v := range vs {
			for _, r := range rs {
				said[r+" "+v] = true
			}
		}
	}
	out := render(t, eastRelease, map[string]any{"workAgent": map[string]any{"rbac": true}})
	var r rbacv1.ClusterRole
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(out.Find("ClusterRole")[0].Object, &r))
	granted := map[string]bool{}
	for _, rule := range r.Rules {
		for _, res := range rule.Resources {
			for _, v := range rule.Verbs {
				granted[res+" "+v] = true
			}
		}
	}
	require.Equal(t, granted, said, "the README's rights are the ClusterRole's")
}
