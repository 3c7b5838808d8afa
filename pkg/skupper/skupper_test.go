package skupper

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const testCode = "s3cr3t-c0de-0123456789ab"

func testCA(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "skupper-grant-server-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// grantObj builds an AccessGrant fixture; mods edit it.
func grantObj(t testing.TB, mods ...func(map[string]any)) *unstructured.Unstructured {
	o := map[string]any{
		"apiVersion": "skupper.io/v2alpha1", "kind": "AccessGrant",
		"metadata": map[string]any{"name": "spoke-link", "namespace": "service-interconnect", "uid": "1111-2222"},
		"spec":     map[string]any{"redemptionsAllowed": int64(10), "expirationWindow": "720h"},
		"status": map[string]any{
			"status": "Ready", "message": "OK", "url": "https://grants.hub.example:9090/1111-2222",
			"code": testCode, "ca": testCA(t), "redemptions": int64(3), "expirationTime": "2026-12-21T00:00:00Z",
		},
	}
	for _, m := range mods {
		m(o)
	}
	return &unstructured.Unstructured{Object: o}
}

func setStatus(k string, v any) func(map[string]any) {
	return func(o map[string]any) { o["status"].(map[string]any)[k] = v }
}

func TestGrantValidation(t *testing.T) {
	ca := testCA(t)
	tests := map[string]struct {
		mods      []func(map[string]any)
		wantField string
		notReady  bool
	}{
		"a Ready grant with https url, code and CA is valid": {},
		"two concatenated CA certificates are valid":         {mods: []func(map[string]any){setStatus("ca", ca+ca)}},
		"a grant not processed yet is not ready":             {mods: []func(map[string]any){setStatus("status", "")}, wantField: "status.status", notReady: true},
		"a grant in error is not ready":                      {mods: []func(map[string]any){setStatus("status", "Error")}, wantField: "status.status", notReady: true},
		"an http url is refused":                             {mods: []func(map[string]any){setStatus("url", "http://grants.hub.example:9090/x")}, wantField: "status.url"},
		"an empty url is refused":                            {mods: []func(map[string]any){setStatus("url", "")}, wantField: "status.url"},
		"a url without host is refused":                      {mods: []func(map[string]any){setStatus("url", "https:///x")}, wantField: "status.url"},
		"an empty code is refused":                           {mods: []func(map[string]any){setStatus("code", "")}, wantField: "status.code"},
		"an empty CA is refused":                             {mods: []func(map[string]any){setStatus("ca", "")}, wantField: "status.ca"},
		"a garbage CA is refused":                            {mods: []func(map[string]any){setStatus("ca", "not a certificate")}, wantField: "status.ca"},
		"a PEM block that is not a certificate is refused": {
			mods: []func(map[string]any){setStatus("ca", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})))}, wantField: "status.ca"},
		"a certificate block with broken DER is refused": {
			mods: []func(map[string]any){setStatus("ca", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})))}, wantField: "status.ca"},
		"trailing garbage after the CA is refused": {mods: []func(map[string]any){setStatus("ca", ca+"garbage")}, wantField: "status.ca"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g, err := ParseGrant(grantObj(t, tc.mods...))
			require.NoError(t, err)
			err = g.Validate()
			if tc.wantField == "" {
				require.NoError(t, err)
				return
			}
			var inv *InvalidGrantError
			require.ErrorAs(t, err, &inv, "a typed error")
			require.Equal(t, tc.wantField, inv.Err.Field, "the error must name the field")
			require.Equal(t, tc.notReady, errors.Is(err, ErrGrantNotReady))
			require.NotContains(t, err.Error(), testCode, "the error must never carry the code")
		})
	}
}

func TestParseGrantReportsMalformedFields(t *testing.T) {
	tests := map[string]struct {
		mod       func(map[string]any)
		wantField string
	}{
		"redemptions as a string":    {setStatus("redemptions", "three"), "status.redemptions"},
		"url as a number":            {setStatus("url", int64(7)), "status.url"},
		"expirationTime not RFC3339": {setStatus("expirationTime", "tomorrow"), "status.expirationTime"},
		"conditions not a list":      {setStatus("conditions", "Ready"), "status.conditions"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseGrant(grantObj(t, tc.mod))
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.wantField, fe.Field)
		})
	}
}

func TestGrantHealth(t *testing.T) {
	now := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		allowed, used int64
		expires       string
		wantLeft      int64
		wantExpired   bool
		within        time.Duration
		wantWithin    bool
	}{
		"budget left and far from expiry":        {allowed: 10, used: 3, expires: "2026-12-21T00:00:00Z", wantLeft: 7, within: 72 * time.Hour},
		"exhausted grant has none left":          {allowed: 10, used: 10, expires: "2026-12-21T00:00:00Z", wantLeft: 0},
		"over-used grant never goes below zero":  {allowed: 2, used: 5, expires: "2026-12-21T00:00:00Z", wantLeft: 0},
		"unset redemptionsAllowed counts as one": {allowed: 0, used: 0, expires: "2026-12-21T00:00:00Z", wantLeft: 1},
		"expired grant":                          {allowed: 10, used: 0, expires: "2026-11-20T00:00:00Z", wantLeft: 10, wantExpired: true, wantWithin: true},
		"expiring within the margin":             {allowed: 10, used: 0, expires: "2026-11-22T00:00:00Z", wantLeft: 10, within: 72 * time.Hour, wantWithin: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g, err := ParseGrant(grantObj(t, func(o map[string]any) {
				o["spec"].(map[string]any)["redemptionsAllowed"] = tc.allowed
				setStatus("redemptions", tc.used)(o)
				setStatus("expirationTime", tc.expires)(o)
			}))
			require.NoError(t, err)
			h := g.Health(now)
			require.Equal(t, tc.wantLeft, h.Left)
			require.Equal(t, tc.wantExpired, h.Expired)
			require.Equal(t, tc.wantWithin, h.ExpiresWithin(now, tc.within))
		})
	}
}

func TestATokenRequestRevealsTheAccessToken(t *testing.T) {
	g, err := ParseGrant(grantObj(t))
	require.NoError(t, err)
	tok := NewTokenRequest(g, TokenOptions{Name: "hub-link", Namespace: "service-interconnect", LinkCost: 2}).Reveal()
	require.Equal(t, "AccessToken", tok.GetKind())
	require.Equal(t, "skupper.io/v2alpha1", tok.GetAPIVersion())
	spec, _, _ := unstructured.NestedMap(tok.Object, "spec")
	require.Equal(t, g.URL, spec["url"])
	require.Equal(t, testCode, spec["code"])
	require.Equal(t, g.CA, spec["ca"])
	require.EqualValues(t, 2, spec["linkCost"])
	require.Equal(t, ManagedByValue, tok.GetLabels()[ManagedByLabel], "vanlink marks itself as manager")
	require.Equal(t, "1111-2222", tok.GetAnnotations()[GrantUIDAnnotation])
	for k, v := range tok.GetAnnotations() {
		require.NotContains(t, k+v, testCode, "annotations must never carry the code")
	}
	tok = NewTokenRequest(g, TokenOptions{Name: "hub-link", Namespace: "ns"}).Reveal()
	_, has, _ := unstructured.NestedFieldNoCopy(tok.Object, "spec", "linkCost")
	require.False(t, has, "linkCost is left to Skupper when not set")

	parsed, err := ParseToken(tok)
	require.NoError(t, err)
	require.Equal(t, g.UID, parsed.GrantUID)
	require.NotContains(t, parsed.String(), testCode)
}

func TestTokenStates(t *testing.T) {
	token := func(status map[string]any, annotations map[string]any) *unstructured.Unstructured {
		meta := map[string]any{"name": "hub-link", "namespace": "service-interconnect"}
		if annotations != nil {
			meta["annotations"] = annotations
		}
		return &unstructured.Unstructured{Object: map[string]any{"kind": "AccessToken", "metadata": meta,
			"spec": map[string]any{"url": "https://h:9090/old-uid", "code": testCode, "ca": "x"}, "status": status}}
	}
	tests := map[string]struct {
		obj          *unstructured.Unstructured
		redeemed     bool
		failed       bool
		grantUID     string
		wantInString string
	}{
		"a fresh token is neither redeemed nor failed": {obj: token(map[string]any{}, nil), grantUID: "old-uid", wantInString: "not redeemed"},
		"Redeemed=True means redeemed": {obj: token(map[string]any{"status": "Ready", "redeemed": true,
			"conditions": []any{map[string]any{"type": "Redeemed", "status": "True", "reason": "Ready"}}}, nil), redeemed: true, grantUID: "old-uid"},
		"a 404 from the grant server is a failure": {obj: token(map[string]any{"status": "Error", "message": "Controller got failed response: 404 (Not Found) No such claim",
			"conditions": []any{map[string]any{"type": "Redeemed", "status": "False", "reason": "Error"}}}, nil), failed: true, grantUID: "old-uid", wantInString: "No such claim"},
		"the vanlink annotation names the grant": {obj: token(map[string]any{}, map[string]any{GrantUIDAnnotation: "new-uid"}), grantUID: "new-uid"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tok, err := ParseToken(tc.obj)
			require.NoError(t, err)
			require.Equal(t, tc.redeemed, tok.Redeemed)
			require.Equal(t, tc.failed, tok.Failed())
			require.EqualValues(t, tc.grantUID, tok.GrantUID)
			require.True(t, strings.Contains(tok.String(), tc.wantInString))
			require.NotContains(t, tok.String(), testCode)
		})
	}
}

func TestLinkReadiness(t *testing.T) {
	link := func(status map[string]any) *Link {
		l, err := ParseLink(&unstructured.Unstructured{Object: map[string]any{"kind": "Link", "metadata": map[string]any{"name": "hub-link"}, "status": status}})
		require.NoError(t, err)
		return l
	}
	require.False(t, link(nil).Ready(), "a Link right after redemption has no status")
	require.False(t, link(map[string]any{"status": "Pending", "message": "Not Operational"}).Ready())
	require.True(t, link(map[string]any{"status": "Ready"}).Ready())
	require.True(t, link(map[string]any{"conditions": []any{map[string]any{"type": "Ready", "status": "True"}}}).Ready())
	require.True(t, link(map[string]any{"status": "Error"}).Failed())
}
