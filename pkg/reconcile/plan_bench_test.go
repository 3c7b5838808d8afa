package reconcile

import (
	"fmt"
	"testing"
	"time"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/transport"
)

// BenchmarkPlan10000 plans a fleet of 10,000 spokes in mixed states (linked,
// pending, needing a push) and measures the grant budget over them.
func BenchmarkPlan10000(b *testing.B) {
	const n = 10000
	observations := make([]*transport.Observation, n)
	tokens := make([]*transport.Observed[skupper.Token], n)
	for i := range n {
		o := obs(func(o *transport.Observation) { o.Cluster = fmt.Sprintf("spoke-%05d", i) })
		switch i % 4 {
		case 0, 1:
			link("Ready", "OK")(o)
		case 2:
			link("Pending", "Not Operational")(o)
			tokens[i] = tok(true, "Ready", "", currentUID)
		default:
			tokens[i] = absentToken
		}
		observations[i] = o
	}
	health := skupper.Health{Allowed: 20000, Left: 20000, Expires: now.Add(720 * time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		steps := make([]Step, n)
		for i := range n {
			observations[i].Token = tokens[i]
			steps[i] = PlanSpoke(observations[i], PlanInput{GrantUID: currentUID, Now: now})
		}
		bud := budgetFor(steps, health, now, 72*time.Hour)
		applyBudget(steps, bud)
	}
}
