package skupper

import (
	"testing"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/vanlink/vanlink/pkg/skupper/skuppertest"
)

// TestTheGrantCodeNeverPrints prints, logs and marshals every value that
// holds the code, in every way a caller might.
func TestTheGrantCodeNeverPrints(t *testing.T) {
	g, err := ParseGrant(grantObj(t))
	require.NoError(t, err)
	require.Equal(t, testCode, g.Code.Reveal(), "Reveal gives the code")
	code, _, _ := unstructured.NestedString(NewTokenRequest(g, TokenOptions{Name: "hub-link"}).Reveal().Object, "spec", "code")
	require.Equal(t, testCode, code, "a token request's Reveal builds the AccessToken with the code")
	req := NewTokenRequest(g, TokenOptions{Name: "hub-link", Namespace: "service-interconnect", LinkCost: 2})
	holders := map[string]any{"the code": g.Code, "the grant": g, "the grant value": *g, "a struct holding the code": struct{ C Code }{g.Code},
		"a token request": req, "a token request value": *req, "a struct holding a token request": struct{ R *TokenRequest }{req},
		"a slice of token requests": []*TokenRequest{req}}
	for name, v := range holders {
		t.Run(name, func(t *testing.T) {
			out := skuppertest.Renderings(t, v)
			for _, o := range out {
				require.NotContains(t, o, testCode, "the code must never print: %s", o)
			}
		})
	}
}
