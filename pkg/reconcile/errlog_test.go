package reconcile

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/pkg/transport"
)

// TestASpokeErrorIsLoggedOnlyWhereItIsNotPrinted: `vanlink sync` prints
// each spoke's error in its result (a Job's log holds both that and the
// log), so with ErrorsPrinted the pass logs the failure at Info with its
// reason only; a controller, which prints no result, logs the error.
func TestASpokeErrorIsLoggedOnlyWhereItIsNotPrinted(t *testing.T) {
	const msg = "the spoke's admission webhook said no"
	for name, printed := range map[string]bool{"printed by the caller": true, "not printed (a controller)": false} {
		t.Run(name, func(t *testing.T) {
			tr := newFake(map[string]*spoke{"a": {site: true,
				pushErr: &transport.SpokeError{Cluster: "a", Op: "create AccessToken hub-link", Reason: "Forbidden", Message: msg}}})
			h := newHarness(t, newGrantHub(t, 10, 0, now.Add(720*time.Hour)), tr, selection("a"), func(o *Options) { o.ErrorsPrinted = printed })
			res := h.run(t)
			require.Equal(t, map[string]Outcome{"a": OutcomeFailed}, outcomes(res))
			require.Contains(t, res.Changes[0].Error, msg, "the result always holds the error")
			var line string
			for _, l := range strings.Split(h.logs.String(), "\n") {
				if strings.Contains(l, `"msg":"spoke failed"`) {
					line = l
				}
			}
			require.NotEmpty(t, line, "the failure is logged")
			require.Contains(t, line, `"failReason":"Forbidden"`)
			if printed {
				require.Contains(t, line, `"level":"INFO"`)
				require.NotContains(t, h.logs.String(), msg, "the error is printed once, by the caller")
			} else {
				require.Contains(t, line, `"level":"ERROR"`)
				require.Contains(t, line, msg, "the log is the only place the error shows")
			}
		})
	}
}
