package fleet

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/vanlink/vanlink/pkg/spokecreds"
)

func TestBySecrets(t *testing.T) {
	cs := fake.NewClientset()
	for _, s := range []struct{ name, server string }{{"west", "https://w:6443"}, {"east", "https://e:6443"}, {"in-cluster", spokecreds.InClusterServer}} {
		sec, err := spokecreds.ArgoSecret("argocd", s.name, s.server, &rest.Config{BearerToken: "t"}, map[string]string{"vanlink.io/interconnect": "spoke"})
		require.NoError(t, err)
		_, err = cs.CoreV1().Secrets("argocd").Create(t.Context(), sec, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	_, err := cs.CoreV1().Secrets("argocd").Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "other"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	sel, err := BySecrets{Secrets: cs.CoreV1().Secrets("argocd"), Selector: "vanlink.io/interconnect=spoke"}.Select(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"east", "west"}, sel.Names())
	require.Len(t, sel.Skipped, 1)
	require.Contains(t, sel.Skipped[0].Reason, "the hub itself")
}
