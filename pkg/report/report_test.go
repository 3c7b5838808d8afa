package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vanlink/vanlink/pkg/reconcile"
)

func result(at time.Time, changes ...reconcile.Change) *reconcile.Result {
	return &reconcile.Result{Started: at, Duration: 2 * time.Second,
		Grant:   reconcile.GrantSummary{Namespace: "service-interconnect", Name: "spoke-link", UID: "g1"},
		Budget:  reconcile.Budget{Allowed: 10, Used: 2, Left: 8, Expires: at.Add(720 * time.Hour)},
		Changes: changes}
}

func change(cluster string, o reconcile.Outcome, errMsg string) reconcile.Change {
	return reconcile.Change{Step: reconcile.Step{Cluster: cluster, Action: reconcile.Push, Reason: "no AccessToken"}, Outcome: o, Error: errMsg}
}

func TestHubReport(t *testing.T) {
	cs := fake.NewClientset()
	hub := Hub{
		Events: EventRecorder{Events: cs.CoreV1().Events("service-interconnect"), Component: "vanlink"},
		Status: StatusStore{ConfigMaps: cs.CoreV1().ConfigMaps("service-interconnect"), Name: "vanlink-status"},
	}
	t1 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	require.NoError(t, hub.Report(t.Context(), result(t1, change("east", reconcile.OutcomePushed, ""), change("west", reconcile.OutcomeFailed, "cluster west: agent did not answer"))))
	rec, err := hub.Status.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, t1, *rec.Spokes["east"].LastPush)
	require.Equal(t, "cluster west: agent did not answer", rec.Spokes["west"].LastError)
	require.False(t, rec.Linked())

	t2 := t1.Add(30 * time.Minute)
	linked := change("east", reconcile.OutcomeLinked, "")
	linked.Action = reconcile.InSync
	require.NoError(t, hub.Report(t.Context(), result(t2, linked, change("west", reconcile.OutcomePending, ""))))
	rec, err = hub.Status.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, t1, *rec.Spokes["east"].LastPush, "the last push is kept across passes")
	require.Equal(t, "cluster west: agent did not answer", rec.Spokes["west"].LastError, "the last error is kept while the spoke is not linked")
	require.Equal(t, 1, rec.Summary[reconcile.OutcomeLinked])

	evs, err := cs.CoreV1().Events("service-interconnect").List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	reasons := map[string]int{}
	for _, e := range evs.Items {
		reasons[e.Reason]++
		require.Equal(t, "AccessGrant", e.InvolvedObject.Kind)
		require.Equal(t, "spoke-link", e.InvolvedObject.Name)
	}
	require.Equal(t, map[string]int{ReasonTokenPushed: 1, ReasonPushFailed: 1}, reasons)
}

func TestEventsStayBoundedOnLargeFleets(t *testing.T) {
	var changes []reconcile.Change
	for i := range 1000 {
		changes = append(changes, change(strings.Repeat("s", 1)+string(rune('a'+i%26))+time.Duration(i).String(), reconcile.OutcomePushed, ""))
	}
	evs := EventsFor(result(time.Now(), changes...))
	require.Len(t, evs, 1, "one event per reason, not per spoke")
	require.Contains(t, evs[0].Message, "and 980 more")
}

func TestBlockedAndRotatedEvents(t *testing.T) {
	r := result(time.Now(), reconcile.Change{Step: reconcile.Step{Cluster: "east", Action: reconcile.Blocked, Reason: "grant exhausted"}, Outcome: reconcile.OutcomeBlocked})
	r.Grant.Rotated, r.Grant.PreviousUID = true, "g0"
	var reasons []string
	for _, e := range EventsFor(r) {
		reasons = append(reasons, e.Reason)
	}
	require.ElementsMatch(t, []string{ReasonGrantRotated, ReasonGrantExhausted}, reasons)
	rec := Merge(nil, r)
	require.NotNil(t, rec.Grant.LastRotated)
	require.Equal(t, "grant exhausted", rec.Spokes["east"].LastError)
}

func TestTheLastErrorBelongsToThePushAndGrantThatProducedIt(t *testing.T) {
	t1 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	failed := Merge(nil, result(t1, change("west", reconcile.OutcomeFailed, "cluster west: agent did not answer")))
	require.Equal(t, "cluster west: agent did not answer", failed.Spokes["west"].LastError)
	require.EqualValues(t, "g1", failed.Spokes["west"].LastErrorGrant)
	otherGrant := func(r *reconcile.Result) *reconcile.Result { r.Grant.UID = "g2"; return r }
	tests := map[string]struct {
		next      *reconcile.Result
		wantError string
	}{
		"a later pass still pending with the same grant keeps it": {
			next: result(t1.Add(time.Hour), change("west", reconcile.OutcomePending, "")), wantError: "cluster west: agent did not answer"},
		"a later successful push clears it": {
			next: result(t1.Add(time.Hour), change("west", reconcile.OutcomePushed, ""))},
		"a later link clears it": {
			next: result(t1.Add(time.Hour), change("west", reconcile.OutcomeLinked, ""))},
		"a pass with a re-created grant drops the old grant's error": {
			next: otherGrant(result(t1.Add(time.Hour), change("west", reconcile.OutcomePending, "")))},
		"a new failure replaces it": {
			next: result(t1.Add(time.Hour), change("west", reconcile.OutcomeFailed, "removing the old token: forbidden")), wantError: "removing the old token: forbidden"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Merge(failed, tc.next).Spokes["west"]
			require.Equal(t, tc.wantError, got.LastError)
			if tc.wantError == "" {
				require.Nil(t, got.LastErrorTime, "no time without an error")
			}
		})
	}
}

func TestTheRecordKeepsWhenEachSpokeEnteredItsState(t *testing.T) {
	t1 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	t2, t3 := t1.Add(30*time.Minute), t1.Add(time.Hour)
	rec := Merge(nil, result(t1, change("east", reconcile.OutcomePushed, "")))
	rec = Merge(rec, result(t2, change("east", reconcile.OutcomeLinked, "")))
	rec = Merge(rec, result(t3, change("east", reconcile.OutcomeLinked, "")))
	east := rec.Spokes["east"]
	require.Equal(t, t2, *east.Since, "linked since the first pass that saw it linked")
	require.Equal(t, t3, *east.Recorded, "recorded by the latest pass")
	require.Equal(t, t1, *east.LastPush)
}

func TestAFailedPassRecordsTheSpokesItReachedAndKeepsTheOthers(t *testing.T) {
	t1 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	prev := Merge(nil, result(t1, change("east", reconcile.OutcomeLinked, ""), change("west", reconcile.OutcomeLinked, "")))
	r := result(t1.Add(time.Hour), change("east", reconcile.OutcomePushed, ""))
	r.Error = "observing spokes: the hub API server did not answer"
	rec := Merge(prev, r)
	require.Equal(t, reconcile.OutcomePushed, rec.Spokes["east"].State, "a push is recorded whatever happens after it")
	require.Equal(t, reconcile.OutcomeLinked, rec.Spokes["west"].State, "a spoke the pass did not reach keeps its state")
	require.Equal(t, map[reconcile.Outcome]int{reconcile.OutcomePushed: 1, reconcile.OutcomeLinked: 1}, rec.Summary)
	require.False(t, rec.Linked())
}

func TestTheRecordSaysHowThePassReachedTheSpokes(t *testing.T) {
	cs := fake.NewClientset()
	hub := Hub{
		Events:    EventRecorder{Events: cs.CoreV1().Events("service-interconnect"), Component: "vanlink"},
		Status:    StatusStore{ConfigMaps: cs.CoreV1().ConfigMaps("service-interconnect"), Name: "vanlink-status"},
		Transport: &TransportRecord{Name: "direct", CredentialsNamespace: "argocd", CredentialsSelector: "env=demo"},
	}
	require.NoError(t, hub.Report(t.Context(), result(time.Now(), change("east", reconcile.OutcomePushed, ""))))
	rec, err := hub.Status.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, hub.Transport, rec.Transport)
}
