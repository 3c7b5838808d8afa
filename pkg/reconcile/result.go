package reconcile

import (
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Outcome is what happened to one spoke in a pass.
type Outcome string

const (
	OutcomeLinked  Outcome = "linked"  // in sync, nothing written
	OutcomePending Outcome = "pending" // on its way, nothing written
	OutcomePushed  Outcome = "pushed"  // a token was pushed
	OutcomePruned  Outcome = "pruned"  // token, Link and Secret removed
	OutcomeFailed  Outcome = "failed"  // a push or prune failed
	OutcomeBlocked Outcome = "blocked" // the grant could not cover a push
	OutcomeSkipped Outcome = "skipped" // not handled
	OutcomePlanned Outcome = "planned" // dry run: the step was not executed
)

// Change is the per-spoke entry of a pass's change set.
type Change struct {
	Step
	Outcome Outcome `json:"outcome"`
	Error   string  `json:"error,omitempty"`
	// FailReason sorts a failure for metrics: AgentTimeout, OutcomeUnknown,
	// Timeout, the spoke's reason (a transport.SpokeError's), or Error.
	FailReason string        `json:"failReason,omitempty"`
	Duration   time.Duration `json:"durationNanos,omitempty"`
}

// GrantSummary describes the grant a pass used (never its code).
type GrantSummary struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	UID       types.UID `json:"uid,omitempty"`
	// Rotated is set when the pass re-created the grant; PreviousUID is the old one.
	Rotated     bool      `json:"rotated,omitempty"`
	PreviousUID types.UID `json:"previousUid,omitempty"`
}

// Result is the outcome of a pass.
type Result struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"durationNanos"`
	DryRun   bool          `json:"dryRun,omitempty"`
	Grant    GrantSummary  `json:"grant"`
	Budget   Budget        `json:"budget"`
	Changes  []Change      `json:"spokes"`
	Warnings []string      `json:"warnings,omitempty"`
	// Error is a pass-level failure (e.g. an invalid grant); no spoke was touched.
	Error string `json:"error,omitempty"`
}

// Counts returns how many spokes had each outcome.
func (r *Result) Counts() map[Outcome]int {
	m := map[Outcome]int{}
	for _, c := range r.Changes {
		m[c.Outcome]++
	}
	return m
}

// AllLinked reports whether every handled spoke is linked.
func (r *Result) AllLinked() bool {
	for _, c := range r.Changes {
		if c.Outcome != OutcomeLinked && c.Outcome != OutcomeSkipped {
			return false
		}
	}
	return r.Error == ""
}

func (r *Result) sort() {
	sort.Slice(r.Changes, func(i, j int) bool { return r.Changes[i].Cluster < r.Changes[j].Cluster })
}

// FailOn is the exit policy of a pass.
type FailOn string

const (
	// FailOnError fails for real errors: a pass-level error, a failed or
	// blocked spoke. Pending spokes are not errors.
	FailOnError FailOn = "error"
	// FailOnPending also fails when any spoke is not linked yet.
	FailOnPending FailOn = "pending"
	// FailOnNever never fails.
	FailOnNever FailOn = "never"
)

// Failed applies the policy to a result.
func (f FailOn) Failed(r *Result) bool {
	if f == FailOnNever {
		return false
	}
	if r.Error != "" {
		return true
	}
	c := r.Counts()
	if c[OutcomeFailed] > 0 || c[OutcomeBlocked] > 0 {
		return true
	}
	return f == FailOnPending && (c[OutcomePending] > 0 || c[OutcomePushed] > 0 || c[OutcomePlanned] > 0)
}
