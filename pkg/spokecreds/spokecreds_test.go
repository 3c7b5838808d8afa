package spokecreds

import (
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: west
  cluster: {server: "https://172.18.0.4:6443", insecure-skip-tls-verify: true}
users:
- name: west
  user: {token: "west-token"}
contexts:
- name: west
  context: {cluster: west, user: west}
current-context: west
`

func TestLoad(t *testing.T) {
	argo, err := ArgoSecret("argocd", "east", "https://172.18.0.3:6443", &rest.Config{BearerToken: "east-token", TLSClientConfig: rest.TLSClientConfig{CAData: []byte("ca")}},
		map[string]string{"vanlink.io/interconnect": "spoke"})
	require.NoError(t, err)
	// An EKS cluster: Argo CD names it by its ARN, the catalog calls it south.
	eks, err := ArgoSecret("argocd", "arn:aws:eks:eu-west-1:123456789012:cluster/south", "https://south.eks.example.com", &rest.Config{BearerToken: "south-token"},
		map[string]string{"vanlink.io/interconnect": "spoke", ClusterLabel: "south"})
	require.NoError(t, err)
	inCluster, err := ArgoSecret("argocd", "in-cluster", InClusterServer, &rest.Config{BearerToken: "x"}, map[string]string{"vanlink.io/interconnect": "spoke"})
	require.NoError(t, err)
	objs := []*corev1.Secret{
		argo, eks, inCluster,
		{ObjectMeta: metav1.ObjectMeta{Name: "west-kubeconfig", Namespace: "argocd", Labels: map[string]string{"vanlink.io/interconnect": "spoke", ClusterLabel: "west"}},
			Data: map[string][]byte{KubeconfigKey: []byte(kubeconfig)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "broken", Namespace: "argocd", Labels: map[string]string{"vanlink.io/interconnect": "spoke", ArgoSecretTypeLabel: ArgoClusterType}},
			Data: map[string][]byte{"name": []byte("north"), "server": []byte("https://n:6443"), "config": []byte("{not json")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "unrelated", Namespace: "argocd"}, Data: map[string][]byte{KubeconfigKey: []byte(kubeconfig)}},
	}
	cs := fake.NewClientset()
	for _, o := range objs {
		_, err := cs.CoreV1().Secrets("argocd").Create(t.Context(), o, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	spokes, invalid, err := Load(t.Context(), cs.CoreV1().Secrets("argocd"), "vanlink.io/interconnect=spoke")
	require.NoError(t, err)
	require.Len(t, spokes, 3)
	require.Equal(t, "east", spokes[0].Name)
	require.Equal(t, "https://172.18.0.3:6443", spokes[0].Config.Host)
	require.Equal(t, "east-token", spokes[0].Config.BearerToken)
	require.Equal(t, []byte("ca"), spokes[0].Config.CAData)
	require.Equal(t, "south", spokes[1].Name, "an Argo CD cluster Secret's vanlink.io/cluster label wins over its data name (an EKS ARN), as in the ApplicationSets")
	require.Equal(t, "https://south.eks.example.com", spokes[1].Config.Host)
	require.Equal(t, "west", spokes[2].Name, "a kubeconfig Secret is named by its vanlink.io/cluster label")
	require.Equal(t, "west-token", spokes[2].Config.BearerToken)
	require.Len(t, invalid, 2)
	reasons := map[string]string{}
	for _, i := range invalid {
		reasons[i.Name] = i.Reason
		require.NotContains(t, i.Reason, "token", "errors never carry credentials")
	}
	require.Contains(t, reasons["in-cluster"], "is the hub itself")
	require.Contains(t, reasons["north"], "data config is not the Argo CD cluster JSON")

	_, _, err = Load(t.Context(), cs.CoreV1().Secrets("argocd"), "a in (")
	require.ErrorContains(t, err, "credentials selector")
}
