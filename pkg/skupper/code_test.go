package skupper

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// TestTheGrantCodeNeverPrints prints, logs and marshals every value that
// holds the code, in every way a caller might.
func TestTheGrantCodeNeverPrints(t *testing.T) {
	g, err := ParseGrant(grantObj(t))
	require.NoError(t, err)
	require.Equal(t, testCode, g.Code.Reveal(), "Reveal gives the code")
	holders := map[string]any{"the code": g.Code, "the grant": g, "the grant value": *g, "a struct holding the code": struct{ C Code }{g.Code}}
	for name, v := range holders {
		t.Run(name, func(t *testing.T) {
			var out []string
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
				out = append(out, fmt.Sprintf(verb, v))
			}
			js, err := json.Marshal(v)
			require.NoError(t, err)
			y, err := yaml.Marshal(v)
			require.NoError(t, err)
			var logs bytes.Buffer
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("grant", "value", v)
			slog.New(slog.NewTextHandler(&logs, nil)).Info("grant", "value", v)
			out = append(out, string(js), string(y), logs.String())
			for _, o := range out {
				require.NotContains(t, o, testCode, "the code must never print: %s", o)
			}
		})
	}
}
