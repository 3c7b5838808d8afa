package cli

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	kubefake "k8s.io/client-go/kubernetes/fake"
	clusterfake "open-cluster-management.io/api/client/cluster/clientset/versioned/fake"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/pkg/fleet"
	"github.com/vanlink/vanlink/pkg/transport/acm"
	"github.com/vanlink/vanlink/pkg/transport/direct"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
)

// TestTransportFlagChoosesTheTransport checks that each --transport value
// builds its transport and chooses spokes as it should: ManagedClusters for
// acm and manifestwork (both run on an OCM hub), credential Secrets for
// direct; --hub-namespaces is taken by the two that write hub objects.
func TestTransportFlagChoosesTheTransport(t *testing.T) {
	tests := map[string]struct {
		args          []string
		wantTransport any
		wantFleet     any
	}{
		"acm":                          {[]string{"--transport", "acm"}, &acm.Transport{}, fleet.BySelector{}},
		"manifestwork":                 {[]string{"--transport", "manifestwork"}, &manifestwork.Transport{}, fleet.BySelector{}},
		"manifestwork with namespaces": {[]string{"--transport", "manifestwork", "--hub-namespaces", "east,west"}, &manifestwork.Transport{}, fleet.BySelector{}},
		"manifestwork with placement":  {[]string{"--transport", "manifestwork", "--placement", "ns/spokes"}, &manifestwork.Transport{}, fleet.ByPlacement{}},
		"direct":                       {[]string{"--transport", "direct"}, &direct.Transport{}, fleet.BySecrets{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var o passOptions
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			o.grantOptions.AddFlags(fs)
			o.observeOptions.AddFlags(fs)
			require.NoError(t, fs.Parse(tc.args))
			require.NoError(t, o.observeOptions.Validate())
			c := &clients{kube: kubefake.NewClientset(), dyn: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()), cluster: clusterfake.NewSimpleClientset()}
			require.IsType(t, tc.wantTransport, o.transportFor(c, nil, false))
			require.IsType(t, tc.wantFleet, o.fleet(c))
			require.Equal(t, o.transport, o.transportRecord().Name, "the status record names the transport")
		})
	}
}
