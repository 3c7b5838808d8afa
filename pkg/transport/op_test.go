package transport_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/pkg/skupper"
	"github.com/vanlink/vanlink/pkg/skupper/skuppertest"
	"github.com/vanlink/vanlink/pkg/transport"
)

// TestAnOpNeverPrintsTheGrantCode prints, logs and marshals an Op that
// pushes a token, in every way a caller might: it holds the grant (and so
// the code) until the transport builds the AccessToken.
func TestAnOpNeverPrintsTheGrantCode(t *testing.T) {
	const code = "op-grant-c0de-never-printed"
	g := &skupper.Grant{Name: "link-fleet", Namespace: "hub", UID: "uid", URL: "https://grants.hub:9090/uid", CA: "pem", Code: code}
	op := transport.Op{Name: "hub-link", Remove: transport.All,
		Push: skupper.NewTokenRequest(g, skupper.TokenOptions{Name: "hub-link", Namespace: "service-interconnect"})}
	for name, v := range map[string]any{"an op": op, "a pointer to an op": &op, "a slice of ops": []transport.Op{op}} {
		t.Run(name, func(t *testing.T) {
			out := skuppertest.Renderings(t, v)
			for _, o := range out {
				require.NotContains(t, o, code, "the code must never print: %s", o)
			}
			js, err := json.Marshal(v)
			require.NoError(t, err)
			require.Contains(t, string(js), skupper.Redacted, "the request says the code is there, redacted")
		})
	}
}
