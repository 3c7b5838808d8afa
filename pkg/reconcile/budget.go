package reconcile

import (
	"fmt"
	"time"

	"github.com/vanlink/vanlink/pkg/skupper"
)

// Budget is what the grant can still redeem against what the plan needs.
type Budget struct {
	Allowed int64     `json:"redemptionsAllowed"`
	Used    int64     `json:"redemptions"`
	Left    int64     `json:"redemptionsLeft"`
	Expires time.Time `json:"expires,omitzero"`
	// InFlight counts tokens of this grant still being redeemed: each will
	// use one redemption.
	InFlight int `json:"inFlight"`
	// Pushes is the number of tokens the plan wants to push.
	Pushes       int  `json:"pushes"`
	Expired      bool `json:"expired,omitempty"`
	ExpiringSoon bool `json:"expiringSoon,omitempty"`
}

// Short reports whether the grant cannot serve the plan: expired, expiring
// within the margin, or not enough redemptions left.
func (b Budget) Short() bool {
	return b.Pushes > 0 && (b.Expired || b.ExpiringSoon || int64(b.Pushes) > b.Left-int64(b.InFlight))
}

// budgetFor measures the grant against the steps.
func budgetFor(steps []Step, h skupper.Health, now time.Time, margin time.Duration) Budget {
	b := Budget{Allowed: h.Allowed, Used: h.Used, Left: h.Left, Expires: h.Expires, Expired: h.Expired}
	b.ExpiringSoon = !h.Expired && margin > 0 && h.ExpiresWithin(now, margin)
	for _, s := range steps {
		if s.inflight {
			b.InFlight++
		}
		if s.Action == Push {
			b.Pushes++
		}
	}
	return b
}

// applyBudget blocks the pushes the grant cannot serve: all of them when it
// has expired, the ones beyond the redemptions left otherwise (steps are in
// cluster order, so the same spokes are served first on every pass). It
// returns warnings for the report; an expiring grant is still used.
func applyBudget(steps []Step, b Budget) []string {
	var warnings []string
	if b.ExpiringSoon && !b.Expired {
		warnings = append(warnings, fmt.Sprintf("grant expiring: it expires at %s", b.Expires.UTC().Format(time.RFC3339)))
	}
	capacity := b.Left - int64(b.InFlight)
	if b.Expired {
		capacity = 0
	}
	served := int64(0)
	blocked := 0
	for i := range steps {
		if steps[i].Action != Push {
			continue
		}
		if served < capacity {
			served++
			continue
		}
		blocked++
		steps[i].Action = Blocked
		if b.Expired {
			steps[i].Reason = fmt.Sprintf("grant expired at %s (needed: %s)", b.Expires.UTC().Format(time.RFC3339), steps[i].Reason)
		} else {
			steps[i].Reason = fmt.Sprintf("grant exhausted: %d redemption(s) left, %d in flight, %d push(es) needed (needed: %s)", b.Left, b.InFlight, b.Pushes, steps[i].Reason)
		}
	}
	if blocked > 0 {
		if b.Expired {
			warnings = append(warnings, fmt.Sprintf("grant expired: %d push(es) blocked", blocked))
		} else {
			warnings = append(warnings, fmt.Sprintf("grant exhausted: %d push(es) blocked", blocked))
		}
	}
	return warnings
}
