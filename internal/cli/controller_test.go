package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/report"
)

func TestControllerFlagsAreValidated(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"a resync under a second":                  {[]string{"--resync", "100ms"}, "--resync"},
		"a max backoff under the min":              {[]string{"--min-backoff", "10s", "--max-backoff", "1s"}, "--max-backoff"},
		"a renew deadline past the lease duration": {[]string{"--leader-renew-deadline", "20s"}, "--leader-retry-period"},
		"a pass flag still checked":                {[]string{"--concurrency", "0"}, "--concurrency"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := run(t, append([]string{"controller", "--kubeconfig", "/nonexistent"}, tc.args...)...)
			require.NotEqual(t, 0, code)
			require.Contains(t, errOut, tc.want)
		})
	}
}

func TestTheControllersStatusRecordIsWhatStatusReads(t *testing.T) {
	kube := fake.NewClientset()
	s := statusReporter{store: report.StatusStore{ConfigMaps: kube.CoreV1().ConfigMaps("ns"), Name: "vanlink-status"}, transport: &report.TransportRecord{Name: "acm"}}
	res := &reconcile.Result{Started: time.Now(), Grant: reconcile.GrantSummary{Namespace: "ns", Name: "spoke-link", UID: "g1"},
		Changes: []reconcile.Change{{Step: reconcile.Step{Cluster: "east", Action: reconcile.InSync}, Outcome: reconcile.OutcomeLinked}}}
	require.NoError(t, s.Report(t.Context(), res))
	rec, err := s.store.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, reconcile.OutcomeLinked, rec.Spokes["east"].State)
	require.Equal(t, "acm", rec.Transport.Name)
	events := fake.NewClientset()
	e := eventReporter{report.EventRecorder{Events: events.CoreV1().Events("ns"), Component: "vanlink"}}
	res.Changes[0].Outcome = reconcile.OutcomePushed
	require.NoError(t, e.Report(t.Context(), res))
	list, err := events.CoreV1().Events("ns").List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, list.Items, 1)
	require.Equal(t, corev1.EventTypeNormal, list.Items[0].Type)
}
