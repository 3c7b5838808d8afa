package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vanlink/vanlink/pkg/reconcile"
)

const fleetSize = 10000

func spokeName(i int) string { return fmt.Sprintf("prod-eu-west-cluster-%05d", i) }

// fleetPass builds the result of a pass over fleetSize spokes: outcome(i)
// says what happened to spoke i.
func fleetPass(at time.Time, uid string, outcome func(i int) reconcile.Change) *reconcile.Result {
	res := result(at)
	res.Grant.UID = types.UID("3f8a6c1e-4b2d-4e6f-9a1b-" + uid)
	for i := range fleetSize {
		c := outcome(i)
		c.Cluster = spokeName(i)
		res.Changes = append(res.Changes, c)
	}
	return res
}

func step(a reconcile.Action, reason string, o reconcile.Outcome, errMsg string) reconcile.Change {
	return reconcile.Change{Step: reconcile.Step{Action: a, Reason: reason}, Outcome: o, Error: errMsg}
}

// realistic is a fleet some weeks in: most spokes linked, some waiting for
// their Site or router, some failing with errors that name them, a few
// blocked by the grant's budget, a few skipped.
func realistic(i int) reconcile.Change {
	switch {
	case i%100 < 85:
		return step(reconcile.InSync, "", reconcile.OutcomeLinked, "")
	case i%100 < 90:
		return step(reconcile.Pending, "no Site in namespace service-interconnect yet", reconcile.OutcomePending, "")
	case i%100 < 94:
		return step(reconcile.Pending, "Link hub-link configured, router coming up (Link not Ready: Pending)", reconcile.OutcomePending, "")
	case i%100 < 98:
		return step(reconcile.Push, "AccessToken hub-link failed: redemption refused", reconcile.OutcomeFailed,
			fmt.Sprintf("cluster %s: pushing AccessToken service-interconnect/hub-link: ManagedClusterAction vanlink-push-%05d-x7k2p did not complete within 2m0s: the work agent did not answer (is the cluster's klusterlet running?)", spokeName(i), i))
	case i%100 < 99:
		return step(reconcile.Blocked, "grant exhausted: 0 redemption(s) left of 500 and rotation is off (--rotate-grant)", reconcile.OutcomeBlocked, "")
	default:
		return step(reconcile.Skip, "ManagedCluster is not available (ManagedClusterConditionAvailable=Unknown)", reconcile.OutcomeSkipped, "")
	}
}

func encodedSize(t *testing.T, rec *Record) int {
	t.Helper()
	data, err := Encode(rec)
	require.NoError(t, err)
	return len(data)
}

// TestTheStatusRecordFitsAConfigMapAt10000Spokes measures the encoded record
// of a 10,000-spoke fleet through its history.
func TestTheStatusRecordFitsAConfigMapAt10000Spokes(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	var rec *Record
	history := []struct {
		name    string
		res     *reconcile.Result
		reduced bool
	}{
		{"the first pass pushes to every spoke", fleetPass(t0, "000000000001", func(int) reconcile.Change {
			return step(reconcile.Push, "no AccessToken", reconcile.OutcomePushed, "")
		}), false},
		{"a pass some weeks in: linked, pending, failing with errors, blocked, skipped", fleetPass(t0.Add(30*time.Minute), "000000000001", realistic), false},
		{"spokes linked in as many different passes: few records are equal", nil, true},
		{"every spoke failing with its own long error", fleetPass(t0.Add(24*time.Hour), "000000000001", func(i int) reconcile.Change {
			return step(reconcile.Push, "no AccessToken", reconcile.OutcomeFailed, fmt.Sprintf("cluster %s: %s", spokeName(i), strings.Repeat("the work agent did not answer; ", 20)))
		}), true},
	}
	for _, h := range history {
		t.Run(h.name, func(t *testing.T) {
			if h.res == nil {
				// Each linked spoke was pushed and linked in its own pass,
				// so their SINCE and LAST PUSH all differ.
				for i := range fleetSize {
					if s := rec.Spokes[spokeName(i)]; s.State == reconcile.OutcomeLinked {
						since, push := t0.Add(-time.Duration(i)*time.Minute), t0.Add(-time.Duration(i)*time.Minute-time.Hour)
						s.Since, s.LastPush = &since, &push
					}
				}
			} else {
				rec = Merge(rec, h.res)
			}
			data, err := Encode(rec)
			require.NoError(t, err)
			v1, err := json.MarshalIndent(rec, "", "  ")
			require.NoError(t, err)
			t.Logf("%s: %d spokes, %d bytes (%.0f KiB, %.1f bytes a spoke; version 1 stored %.0f KiB)", h.name, len(rec.Spokes), len(data), float64(len(data))/1024, float64(len(data))/fleetSize, float64(len(v1))/1024)
			require.Less(t, len(data), 900*1024, "the record fits a ConfigMap with room for its metadata")

			back, err := Decode(data)
			require.NoError(t, err)
			require.Equal(t, rec.Summary, back.Summary, "the summary counts every spoke")
			require.Len(t, back.Spokes, fleetSize, "every spoke is named")
			if h.reduced {
				require.NotEmpty(t, back.Reduced, "the record says what it left out")
			} else {
				require.Empty(t, back.Reduced)
			}
			for name, want := range rec.Spokes {
				got := back.Spokes[name]
				require.Equal(t, want.State, got.State, name)
				if want.State == reconcile.OutcomeLinked && back.Reduced == "" {
					require.Equal(t, want.Since, got.Since, name)
					require.Equal(t, want.LastPush, got.LastPush, name)
				}
				if want.State == reconcile.OutcomeLinked || back.Reduced == ReducedAll {
					continue
				}
				// What vanlink status shows of a spoke that is not linked.
				require.Equal(t, want.Reason, got.Reason, name)
				require.Equal(t, want.Since, got.Since, name)
				require.Equal(t, want.LastPush, got.LastPush, name)
				require.Equal(t, want.LastErrorGrant, got.LastErrorGrant, name)
				require.Equal(t, want.LastErrorTime, got.LastErrorTime, name)
				if back.Reduced == "" {
					require.Equal(t, want.LastError, got.LastError, name)
				} else {
					require.True(t, strings.HasPrefix(want.LastError, strings.TrimSuffix(got.LastError, "…")), "%s: the error is shortened, not changed", name)
				}
			}
		})
	}
}

func TestARecordOfTheFirstVersionIsStillRead(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	old := Merge(nil, result(t0, change("east", reconcile.OutcomePushed, ""), change("west", reconcile.OutcomeFailed, "cluster west: agent did not answer")))
	v1, err := json.MarshalIndent(old, "", "  ") // how versions before 2 stored it
	require.NoError(t, err)
	cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "vanlink-status", Namespace: "service-interconnect"}, Data: map[string]string{StatusKey: string(v1)}})
	store := StatusStore{ConfigMaps: cs.CoreV1().ConfigMaps("service-interconnect"), Name: "vanlink-status"}
	rec, err := store.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, t0, *rec.Spokes["east"].LastPush)
	require.Equal(t, "cluster west: agent did not answer", rec.Spokes["west"].LastError)

	// The next pass writes version 2 on top of it, keeping the history.
	require.NoError(t, store.Write(t.Context(), Merge(rec, result(t0.Add(time.Hour), change("west", reconcile.OutcomePending, "")))))
	cm, err := cs.CoreV1().ConfigMaps("service-interconnect").Get(t.Context(), "vanlink-status", metav1.GetOptions{})
	require.NoError(t, err)
	require.Contains(t, cm.Data[StatusKey], `"version":2`)
	rec, err = store.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, "cluster west: agent did not answer", rec.Spokes["west"].LastError, "LAST ERROR survives the change of version")
}

func TestARecordOfANewerVersionSaysSo(t *testing.T) {
	cs := fake.NewClientset(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "vanlink-status", Namespace: "service-interconnect"}, Data: map[string]string{StatusKey: `{"version":3,"shards":2}`}})
	_, err := StatusStore{ConfigMaps: cs.CoreV1().ConfigMaps("service-interconnect"), Name: "vanlink-status"}.Read(t.Context())
	require.ErrorContains(t, err, "the record has version 3; this vanlink reads versions 1 to 2: use a newer vanlink")
	require.ErrorContains(t, err, "status ConfigMap vanlink-status")
}
