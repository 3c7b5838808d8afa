package acm_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vanlink/vanlink/pkg/transport/acm"
	"github.com/vanlink/vanlink/pkg/transport/acm/acmtest"
	"github.com/vanlink/vanlink/pkg/transport/transporttest"
)

// TestConformance runs the transport suite against a hub whose agent is the
// work-manager double, over in-memory spokes that also serve Linkerd's
// links (its group sorts before skupper.io in discovery). Persistent views
// refresh every 300 s, as vanlink's default, so they go stale in the test.
func TestConformance(t *testing.T) {
	transporttest.Run(t, func(t *testing.T, spokes ...string) *transporttest.Bed {
		client := acmtest.NewFakeHub()
		agent := acmtest.New(client, acmtest.Options{Tick: 5 * time.Millisecond})
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
		bed.Hub = transporttest.NewCrashingHub(client)
		bed.Transport = acm.New(bed.Hub, acm.Options{TokenName: transporttest.TokenName, SpokeNamespace: transporttest.Namespace,
			ResyncCheck: 50 * time.Millisecond, SpokeTimeout: 10 * time.Second})
		bed.HubObjects = func(t *testing.T) []string {
			var out []string
			for _, gvr := range []schema.GroupVersionResource{acm.ActionsGVR, acm.ViewsGVR} {
				l, err := client.Resource(gvr).List(context.Background(), metav1.ListOptions{})
				require.NoError(t, err)
				for _, o := range l.Items {
					data, _ := json.Marshal(o.Object)
					out = append(out, string(data))
				}
			}
			return out
		}
		return bed
	})
}
