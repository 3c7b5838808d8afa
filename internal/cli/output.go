package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
	"sigs.k8s.io/yaml"

	"github.com/vanlink/vanlink/pkg/reconcile"
	"github.com/vanlink/vanlink/pkg/report"
)

var outcomeOrder = []reconcile.Outcome{reconcile.OutcomeLinked, reconcile.OutcomePushed, reconcile.OutcomePending, reconcile.OutcomePlanned,
	reconcile.OutcomePruned, reconcile.OutcomeFailed, reconcile.OutcomeBlocked, reconcile.OutcomeSkipped}

// Output formats of sync and status (-o), as kubectl names them: table,
// wide (more columns), json and yaml (the same data, with the same field
// names).
var outputFormats = []string{"table", "wide", "json", "yaml"}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeData writes v as JSON or YAML and reports whether format was one of them.
func writeData(w io.Writer, format string, v any) (bool, error) {
	switch format {
	case "json":
		return true, writeJSON(w, v)
	case "yaml":
		data, err := yaml.Marshal(v)
		if err != nil {
			return true, err
		}
		_, err = w.Write(data)
		return true, err
	}
	return false, nil
}

// startedNothing reports whether a pass failed before it reached any spoke
// (no grant, no fleet, no lease): a table of it would be empty, so the
// commands print only the error, once.
func startedNothing(res *reconcile.Result) bool {
	return res.Error != "" && len(res.Changes) == 0
}

// printResult writes a pass result as a table (one line per spoke and a
// summary) or as JSON. The table leaves out the pass error: the command
// returns it, and it is printed once, on stderr, where it ends (Run, or the
// log of a pass that exits 0 anyway).
func printResult(w io.Writer, format string, res *reconcile.Result) error {
	if res.Changes == nil {
		// A pass that reached no spoke has none: "spokes": [], not null.
		r := *res
		r.Changes = []reconcile.Change{}
		res = &r
	}
	if ok, err := writeData(w, format, res); ok {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if format == "wide" {
		fmt.Fprintln(tw, "CLUSTER\tACTION\tOUTCOME\tSITE\tTOKEN\tLINK\tTOOK\tREASON\tERROR")
	} else {
		fmt.Fprintln(tw, "CLUSTER\tACTION\tOUTCOME\tSITE\tTOKEN\tLINK\tREASON")
	}
	for _, c := range res.Changes {
		if format == "wide" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Cluster, c.Action, c.Outcome, dash(c.Site), dash(c.Token), dash(c.Link),
				took(c.Duration), dash(c.Reason), dash(c.Error))
			continue
		}
		reason := c.Reason
		if c.Error != "" {
			reason += " | error: " + c.Error
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Cluster, c.Action, c.Outcome, dash(c.Site), dash(c.Token), dash(c.Link), reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	printGrant(w, res.Grant.Namespace, res.Grant.Name, string(res.Grant.UID), res.Budget)
	if res.Grant.Rotated {
		fmt.Fprintf(w, "grant rotated: uid %s replaced %s\n", res.Grant.UID, res.Grant.PreviousUID)
	}
	for _, warn := range res.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	prefix := "summary"
	if res.DryRun {
		prefix = "summary (dry run: nothing pushed, removed or recorded)"
	}
	fmt.Fprintf(w, "%s: %s in %s\n", prefix, counts(res.Counts()), res.Duration.Round(time.Millisecond))
	return nil
}

func printGrant(w io.Writer, ns, name, uid string, b reconcile.Budget) {
	exp := "unknown"
	if !b.Expires.IsZero() {
		exp = b.Expires.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(w, "grant %s/%s (uid %s): %d of %d redemptions left, %d in flight, expires %s\n", ns, name, uid, b.Left, b.Allowed, b.InFlight, exp)
}

func counts(m map[reconcile.Outcome]int) string {
	var parts []string
	for _, o := range outcomeOrder {
		if m[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[o], o))
		}
	}
	if len(parts) == 0 {
		return "no spokes"
	}
	return strings.Join(parts, ", ")
}

func took(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printRecord writes the status record of the last pass. Times in the table
// are ages at now, as kubectl shows AGE: SINCE is how long the spoke has
// been in its state, LAST PUSH how long ago a token was last pushed.
func printRecord(w io.Writer, format string, rec *report.Record, now time.Time) error {
	if ok, err := writeData(w, format, rec); ok {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	// REACHABLE (only when the record holds the services' reachability):
	// how many of the spoke's catalog services hub clients reach.
	reach := ""
	if rec.Services != nil {
		reach = "\tREACHABLE"
	}
	if format == "wide" {
		fmt.Fprintln(tw, "CLUSTER\tSTATE"+reach+"\tSINCE\tLAST PUSH\tLAST ERROR\tREASON\tACTION\tERROR AGE\tRECORDED")
	} else {
		fmt.Fprintln(tw, "CLUSTER\tSTATE"+reach+"\tSINCE\tLAST PUSH\tLAST ERROR\tREASON")
	}
	for _, n := range rec.Names() {
		s := rec.Spokes[n]
		since := s.Since
		if since == nil && rec.Reduced == "" {
			// A record of an older version: the state is as old as the pass.
			since = &rec.Pass.Started
		}
		state := string(s.State)
		if rec.Services != nil {
			state += "\t" + reachable(rec.Services[n])
		}
		if format == "wide" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n, state, age(since, now), age(s.LastPush, now), dash(s.LastError), s.Reason,
				dash(string(s.Action)), age(s.LastErrorTime, now), age(s.Recorded, now))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n, state, age(since, now), age(s.LastPush, now), dash(s.LastError), s.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := printServices(w, format, rec, now); err != nil {
		return err
	}
	printGrant(w, rec.Grant.Namespace, rec.Grant.Name, string(rec.Grant.UID), rec.Grant.Budget)
	if rec.Grant.LastRotated != nil {
		fmt.Fprintf(w, "grant last rotated %s\n", rec.Grant.LastRotated.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(w, "last pass %s (%s ago, took %s): %s\n", rec.Pass.Started.UTC().Format(time.RFC3339), age(&rec.Pass.Started, now), rec.Pass.Duration, counts(rec.Summary))
	if t := rec.Transport; t != nil {
		fmt.Fprintf(w, "transport %s%s\n", t.Name, transportDetail(t))
	}
	for _, warn := range rec.Pass.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
	if rec.Reduced != "" {
		fmt.Fprintf(w, "note: the record of %d spokes is reduced to fit its ConfigMap: %s (the counts above are complete)\n", len(rec.Spokes), rec.Reduced)
	}
	if rec.Pass.Error != "" {
		fmt.Fprintln(w, "last pass failed:", rec.Pass.Error)
	}
	return nil
}

// reachable is the REACHABLE cell of a spoke: services reached / services.
func reachable(recs []report.ServiceRecord) string {
	sum := report.Summarize(recs)
	if len(sum) == 0 {
		return "-"
	}
	n := 0
	for _, s := range sum {
		if s.Reachable() {
			n++
		}
	}
	return fmt.Sprintf("%d/%d", n, len(sum))
}

// printServices prints, per spoke, its catalog services and whether each hub
// Listener has a matching Connector: one line per service (its per-pod
// Listeners counted in PODS), or one per Listener with -o wide.
func printServices(w io.Writer, format string, rec *report.Record, now time.Time) error {
	if len(rec.Services) == 0 {
		return nil
	}
	spokes := make([]string, 0, len(rec.Services))
	for s := range rec.Services {
		spokes = append(spokes, s)
	}
	sort.Strings(spokes)
	yesNo := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if format == "wide" {
		fmt.Fprintln(tw, "CLUSTER\tSERVICE\tHUB LISTENER\tPOD\tROUTING KEY\tCONNECTOR\tLISTENER STATUS")
		for _, spoke := range spokes {
			for _, r := range rec.Services[spoke] {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", spoke, r.Service, r.Listener, dash(r.Pod), r.RoutingKey, yesNo(r.Matched), dash(r.Status))
			}
		}
	} else {
		fmt.Fprintln(tw, "CLUSTER\tSERVICE\tHUB LISTENER\tCONNECTOR\tPODS\tREACHABLE")
		for _, spoke := range spokes {
			for _, s := range report.Summarize(rec.Services[spoke]) {
				conn, pods := "-", "-"
				if s.Listener != "" {
					conn = yesNo(s.Matched)
				}
				if s.Pods > 0 {
					pods = fmt.Sprintf("%d/%d", s.PodsMatched, s.Pods)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", spoke, s.Service, dash(s.Listener), conn, pods, yesNo(s.Reachable()))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "services observed %s ago: CONNECTOR is the hub Listener's hasMatchingConnector (a Connector with its routing key is active in the network); PODS counts the per-pod Listeners that have one\n\n", age(rec.ServicesObserved, now))
	return nil
}

// age is how long before now t was, as kubectl prints it (5m, 3h12m, 2d).
func age(t *time.Time, now time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return duration.HumanDuration(now.Sub(*t))
}

func transportDetail(t *report.TransportRecord) string {
	var parts []string
	for _, kv := range [][2]string{{"cluster-selector", t.ClusterSelector}, {"placement", t.Placement},
		{"credentials-namespace", t.CredentialsNamespace}, {"credentials-selector", t.CredentialsSelector}} {
		if kv[1] != "" {
			parts = append(parts, fmt.Sprintf("--%s=%s", kv[0], kv[1]))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, " ") + ")"
}
