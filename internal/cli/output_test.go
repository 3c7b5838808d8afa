package cli

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/pkg/lease"
	"github.com/vanlink/vanlink/pkg/reconcile"
)

func TestThePassErrorIsNotRepeatedInTheTable(t *testing.T) {
	res := &reconcile.Result{Started: time.Now(), Error: "reading AccessGrant service-interconnect/spoke-link: boom",
		Grant: reconcile.GrantSummary{Namespace: "service-interconnect", Name: "spoke-link"}}
	var out bytes.Buffer
	require.NoError(t, printResult(&out, "table", res))
	require.NotContains(t, out.String(), "boom", "the command returns the pass error, and it is printed once on stderr")
	require.Contains(t, out.String(), "summary: no spokes")

	out.Reset()
	require.NoError(t, printResult(&out, "json", res))
	require.Contains(t, out.String(), `"error": "reading AccessGrant service-interconnect/spoke-link: boom"`, "JSON is data: it keeps the error field")
	require.Contains(t, out.String(), `"spokes": []`, "a pass that reached no spoke lists none, not null")
	require.Nil(t, res.Changes, "printing leaves the result as it is")

	out.Reset()
	require.NoError(t, printResult(&out, "yaml", res))
	require.Contains(t, out.String(), "spokes: []", "YAML too lists no spoke, not null")
}

func TestAPassThatExitsZeroLogsItsErrorOnce(t *testing.T) {
	tests := map[string]struct {
		err   error
		level string
		want  string
	}{
		"another pass holds the lease": {err: fmt.Errorf("pass: %w", &lease.HeldError{Namespace: "service-interconnect", Name: "vanlink-sync", Holder: "hook-abc", Waited: 2 * time.Minute}),
			level: "INFO", want: `holder=hook-abc`},
		"a pass error under --fail-on never": {err: errors.New("reading AccessGrant: boom"), level: "WARN", want: "boom"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			logPassError(slog.New(slog.NewTextHandler(&logs, nil)), "the pass did nothing", tc.err)
			require.Equal(t, 1, strings.Count(logs.String(), "\n"), "one line")
			require.Contains(t, logs.String(), "level="+tc.level)
			require.Contains(t, logs.String(), tc.want)
		})
	}
}
