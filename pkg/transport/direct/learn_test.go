package direct

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/spokecreds"
	"github.com/vanlink/vanlink/pkg/transport"
)

func TestALongSessionLearnsASpokeThatJoinedAndKeepsOneThatLeft(t *testing.T) {
	east, north := spoke(obj("Site", "east", nil)), spoke(obj("Site", "north", nil))
	tr := newTransport(t, map[string]*dynamicfake.FakeDynamicClient{"east": east, "north": north})
	// north's credentials Secret is not there when the session opens.
	cs := fake.NewClientset()
	mk := func(name string) {
		s, err := spokecreds.ArgoSecret("argocd", name, "https://"+name+":6443", &rest.Config{BearerToken: "t"}, map[string]string{"vanlink.io/interconnect": "spoke"})
		require.NoError(t, err)
		_, err = cs.CoreV1().Secrets("argocd").Create(t.Context(), s, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	mk("east")
	tr.opts.Secrets = cs.CoreV1().Secrets("argocd")
	sess, err := tr.Open(t.Context(), transport.SessionOptions{})
	require.NoError(t, err)

	mk("north")
	obs, err := transport.ObserveAll(t.Context(), sess, transport.Query{Spokes: []string{"north"}, LinkNames: []string{"hub-link"}})
	require.NoError(t, err)
	require.Equal(t, transport.Present, obs["north"].Site.State, "a spoke whose Secret appeared after the session opened is read")

	require.NoError(t, cs.CoreV1().Secrets("argocd").DeleteCollection(t.Context(), metav1.DeleteOptions{}, metav1.ListOptions{}))
	known, err := sess.(transport.Pruner).Known(t.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"east", "north"}, known, "a spoke that left keeps its credentials for the session, so it can be pruned")
	require.NoError(t, sess.Apply(t.Context(), "north", transport.Op{Name: "hub-link", Remove: transport.All}), "a departed spoke is still reachable")
	_, err = north.Resource(skupper.SitesGVR).Namespace(ns).Get(t.Context(), "north", metav1.GetOptions{})
	require.NoError(t, err, "a removal takes the token's objects, never the Site")
}
