package skupper

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TokenRequest is an AccessToken to push: the grant it redeems and the
// token's name, namespace and link cost. The engine hands it to a
// transport, which builds the AccessToken (Reveal) only when it sends it, so
// nothing upstream of a transport holds the raw code. It prints (fmt %v, %+v,
// %s, %#v), logs (slog) and marshals (JSON, text) without the code: the grant
// is named, the code is Redacted.
type TokenRequest struct {
	Grant *Grant
	TokenOptions
}

// NewTokenRequest returns the request of a token built from g (which must
// have passed Validate) as o shapes it.
func NewTokenRequest(g *Grant, o TokenOptions) *TokenRequest {
	return &TokenRequest{Grant: g, TokenOptions: o}
}

// Reveal builds the AccessToken the spoke redeems: it carries the code.
// Only a transport sending it, and `vanlink token` printing it, call this;
// hand the result to no logger, error or status.
func (r TokenRequest) Reveal() *unstructured.Unstructured {
	return newAccessToken(r.Grant, r.TokenOptions)
}

// String names the token and its grant, the code redacted.
func (r TokenRequest) String() string {
	return fmt.Sprintf("AccessToken %s/%s from %s (code %s)", r.Namespace, r.Name, r.grantName(), Redacted)
}

// GoString is String (%#v).
func (r TokenRequest) GoString() string { return r.String() }

// LogValue is a group of the token's name, namespace and grant, the code
// redacted.
func (r TokenRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", r.Name), slog.String("namespace", r.Namespace),
		slog.String("grant", r.grantName()), slog.String("code", Redacted))
}

// MarshalJSON is an object of the token's name, namespace, link cost and
// grant, the code redacted.
func (r TokenRequest) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
		LinkCost  int64  `json:"linkCost,omitempty"`
		Grant     string `json:"grant"`
		Code      string `json:"code"`
	}{r.Name, r.Namespace, r.LinkCost, r.grantName(), Redacted})
}

// MarshalText is String (YAML and text encoders, slog's text handler).
func (r TokenRequest) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

func (r TokenRequest) grantName() string {
	if r.Grant == nil {
		return "no grant"
	}
	return fmt.Sprintf("AccessGrant %s/%s (uid %s)", r.Grant.Namespace, r.Grant.Name, r.Grant.UID)
}
