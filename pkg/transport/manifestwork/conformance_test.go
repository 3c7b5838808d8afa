package manifestwork_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork"
	"github.com/vanlink/vanlink/pkg/transport/manifestwork/worktest"
	"github.com/vanlink/vanlink/pkg/transport/transporttest"
)

// TestConformance runs the transport suite against the work agent double
// over in-memory spokes that also serve Linkerd's links. The integration
// tier runs the same suite against the real agent (integration_test.go),
// which checks the double on the same cases.
func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T, spokes ...string) *transporttest.Bed {
		hub := worktest.NewFakeHub()
		agent := worktest.New(hub, worktest.Options{StatusSync: 50 * time.Millisecond})
		bed := &transporttest.Bed{Spokes: map[string]transporttest.Spoke{}}
		for _, c := range spokes {
			s := acmtest.NewMemorySpoke(c)
			s.Mapper = acmtest.StaticMapper(acmtest.CoreGroup, acmtest.LinkerdMulticlusterGroup, acmtest.SkupperGroup)
			agent.AddSpoke(c, s)
			bed.Spokes[c] = s
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		go func() { _ = agent.Run(ctx) }()
		bed.Hub = transporttest.NewCrashingHub(hub)
		bed.Transport = manifestwork.New(bed.Hub, manifestwork.Options{TokenName: transporttest.TokenName, SpokeNamespace: transporttest.Namespace,
			ResyncCheck: 50 * time.Millisecond, SpokeTimeout: 10 * time.Second})
		bed.HubObjects = func(t *testing.T) []string {
			l, err := hub.Resource(manifestwork.WorksGVR).List(context.Background(), metav1.ListOptions{})
			require.NoError(t, err)
			var out []string
			for _, o := range l.Items {
				data, _ := json.Marshal(o.Object)
				out = append(out, string(data))
			}
			return out
		}
		return bed
	})
}
