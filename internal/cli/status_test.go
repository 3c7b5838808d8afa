package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/report"
)

func TestStatusTableShowsHowOldEachStateIs(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	rec := report.Merge(nil, &reconcile.Result{Started: t0, Grant: reconcile.GrantSummary{Namespace: "service-interconnect", Name: "spoke-link", UID: "g1"},
		Changes: []reconcile.Change{
			{Step: reconcile.Step{Cluster: "east", Action: reconcile.Push, Reason: "no AccessToken"}, Outcome: reconcile.OutcomePushed},
			{Step: reconcile.Step{Cluster: "west", Action: reconcile.Push, Reason: "no AccessToken"}, Outcome: reconcile.OutcomeFailed, Error: "agent did not answer"},
		}})
	rec = report.Merge(rec, &reconcile.Result{Started: t0.Add(30 * time.Minute), Grant: reconcile.GrantSummary{Namespace: "service-interconnect", Name: "spoke-link", UID: "g1"},
		Changes: []reconcile.Change{
			{Step: reconcile.Step{Cluster: "east", Action: reconcile.InSync}, Outcome: reconcile.OutcomeLinked},
			{Step: reconcile.Step{Cluster: "west", Action: reconcile.Push, Reason: "no AccessToken"}, Outcome: reconcile.OutcomeFailed, Error: "agent did not answer"},
		}})
	rec.Transport = &report.TransportRecord{Name: "direct", CredentialsNamespace: "argocd", CredentialsSelector: "env=demo"}
	var out bytes.Buffer
	require.NoError(t, printRecord(&out, "table", rec, t0.Add(2*time.Hour)))
	got := out.String()
	require.Contains(t, got, "CLUSTER  STATE   SINCE  LAST PUSH  LAST ERROR")
	require.Regexp(t, `east +linked +90m +120m +- `, got, "east linked 90 minutes ago, pushed 2 hours ago")
	require.Regexp(t, `west +failed +120m +- +agent did not answer`, got, "west failed since the first pass")
	require.Contains(t, got, "(90m ago, took")
	require.Contains(t, got, "transport direct (--credentials-namespace=argocd --credentials-selector=env=demo)")
}

func TestStatusLiveUsesTheRecordedTransport(t *testing.T) {
	direct := &report.TransportRecord{Name: "direct", CredentialsNamespace: "argocd", CredentialsSelector: "env=demo"}
	placed := &report.TransportRecord{Name: "acm", Placement: "openshift-gitops/vanlink-spokes"}
	tests := map[string]struct {
		record  *report.TransportRecord
		args    []string
		want    string
		wantNS  string
		wantSel string
		wantPl  string
	}{
		"no record: the flags' defaults":           {want: "acm", wantNS: "service-interconnect", wantSel: "vanlink.io/interconnect=spoke"},
		"a direct record with no flags":            {record: direct, want: "direct", wantNS: "argocd", wantSel: "env=demo"},
		"a direct record and an explicit selector": {record: direct, args: []string{"--credentials-selector", "env=prod"}, want: "direct", wantNS: "argocd", wantSel: "env=prod"},
		"a direct record and --transport acm":      {record: direct, args: []string{"--transport", "acm"}, want: "acm", wantNS: "service-interconnect", wantSel: "vanlink.io/interconnect=spoke"},
		"an acm record with a placement":           {record: placed, want: "acm", wantNS: "service-interconnect", wantSel: "vanlink.io/interconnect=spoke", wantPl: "openshift-gitops/vanlink-spokes"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			o := &passOptions{}
			fs := pflag.NewFlagSet("status", pflag.ContinueOnError)
			o.AddFlags(fs)
			require.NoError(t, fs.Parse(tc.args))
			o.useRecorded(tc.record, fs.Changed)
			require.Equal(t, tc.want, o.transport)
			require.Equal(t, tc.wantNS, o.credentialsNamespace())
			require.Equal(t, tc.wantSel, o.credsSelector)
			require.Equal(t, tc.wantPl, o.placement)
			require.NoError(t, o.Validate())
		})
	}
}

func TestStatusSaysWhatAReducedRecordLeftOut(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	linked := reconcile.Change{Step: reconcile.Step{Cluster: "east", Action: reconcile.InSync}, Outcome: reconcile.OutcomeLinked}
	rec := report.Merge(nil, &reconcile.Result{Started: t0, Grant: reconcile.GrantSummary{Namespace: "service-interconnect", Name: "spoke-link", UID: "g1"},
		Changes: []reconcile.Change{linked,
			{Step: reconcile.Step{Cluster: "west", Action: reconcile.Push, Reason: "no AccessToken"}, Outcome: reconcile.OutcomeFailed, Error: "agent did not answer"}}})
	rec.Spokes["east"] = &report.SpokeRecord{State: reconcile.OutcomeLinked, Action: reconcile.InSync}
	rec.Reduced = report.ReducedLinked
	var out bytes.Buffer
	require.NoError(t, printRecord(&out, "table", rec, t0.Add(time.Hour)))
	got := out.String()
	require.Regexp(t, `east +linked +- +- +- `, got, "a linked spoke of a reduced record has no SINCE or LAST PUSH")
	require.Regexp(t, `west +failed +60m +- +agent did not answer`, got, "a spoke that is not linked keeps its detail")
	require.Contains(t, got, "note: the record of 2 spokes is reduced to fit its ConfigMap: linked spokes keep only their state")
}
