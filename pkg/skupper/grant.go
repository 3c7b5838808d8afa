package skupper

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// Grant is a typed view of an AccessGrant.
type Grant struct {
	Name, Namespace string
	UID             types.UID
	// RedemptionsAllowed is spec.redemptionsAllowed; Skupper treats 0 or unset as 1.
	RedemptionsAllowed int64
	ExpirationWindow   string

	Status         string
	Message        string
	URL            string
	CA             string
	Redemptions    int64
	ExpirationTime time.Time
	Conditions     []metav1.Condition
	// Code is status.code, the grant code: a secret that prints, logs and
	// marshals redacted (see Code.Reveal).
	Code Code
}

// ParseGrant reads an AccessGrant. Malformed fields give a *FieldError.
func ParseGrant(obj *unstructured.Unstructured) (*Grant, error) {
	f := &fields{obj: obj}
	g := &Grant{Name: obj.GetName(), Namespace: obj.GetNamespace(), UID: obj.GetUID()}
	g.RedemptionsAllowed, _ = f.int("spec", "redemptionsAllowed")
	g.ExpirationWindow = f.str("spec", "expirationWindow")
	g.Status = f.str("status", "status")
	g.Message = f.str("status", "message")
	g.URL = f.str("status", "url")
	g.CA = f.str("status", "ca")
	g.Code = Code(f.str("status", "code"))
	g.Redemptions, _ = f.int("status", "redemptions")
	g.ExpirationTime = f.time("status", "expirationTime")
	g.Conditions = f.conditions()
	if f.err != nil {
		return nil, f.err
	}
	return g, nil
}

// String describes the grant without its code.
func (g *Grant) String() string {
	return fmt.Sprintf("AccessGrant %s/%s (uid %s, status %q)", g.Namespace, g.Name, g.UID, g.Status)
}

func (g *Grant) fieldError(field, reason string) error {
	return &InvalidGrantError{Err: &FieldError{Kind: "AccessGrant", Namespace: g.Namespace, Name: g.Name, Field: field, Reason: reason}}
}

// Validate refuses a grant that cannot be used to build working tokens: it
// must be Ready, with an https url, a code, and a CA that parses as one or
// more PEM certificates. The error names the field and never the code.
func (g *Grant) Validate() error {
	if g.Status != StatusReady {
		reason := fmt.Sprintf("is %q, want %q", g.Status, StatusReady)
		if g.Status == "" {
			reason = "is empty: the Skupper controller has not processed the grant yet (is the controller running with grants enabled?)"
		}
		if g.Message != "" {
			reason += " (message: " + g.Message + ")"
		}
		return fmt.Errorf("%w: %w", ErrGrantNotReady, g.fieldError("status.status", reason))
	}
	u, err := url.Parse(g.URL)
	switch {
	case g.URL == "":
		return g.fieldError("status.url", "is empty")
	case err != nil:
		return g.fieldError("status.url", "is not a URL: "+err.Error())
	case u.Scheme != "https":
		return g.fieldError("status.url", fmt.Sprintf("must use https, not %q", u.Scheme))
	case u.Host == "":
		return g.fieldError("status.url", "has no host")
	}
	if g.Code == "" {
		return g.fieldError("status.code", "is empty")
	}
	if err := checkPEMCertificates(g.CA); err != nil {
		return g.fieldError("status.ca", err.Error())
	}
	return nil
}

// checkPEMCertificates requires one or more PEM CERTIFICATE blocks that parse
// as X.509 certificates, and nothing else but white space.
func checkPEMCertificates(data string) error {
	if strings.TrimSpace(data) == "" {
		return fmt.Errorf("is empty")
	}
	rest := []byte(data)
	n := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("holds a PEM block of type %q, want CERTIFICATE", block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("certificate %d does not parse: %v", n+1, err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("holds no PEM certificate")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return fmt.Errorf("has trailing data after %d certificate(s)", n)
	}
	return nil
}

// Health is what a grant can still do.
type Health struct {
	// Allowed is the effective redemptionsAllowed (at least 1).
	Allowed int64
	// Used is status.redemptions.
	Used int64
	// Left is Allowed - Used, never negative.
	Left int64
	// Expires is status.expirationTime (zero when unknown).
	Expires time.Time
	// Expired is true once Expires has passed.
	Expired bool
}

// Health computes the redemptions left and the expiry at time now. An
// exhausted or expired grant still reports Ready, so callers must check this.
func (g *Grant) Health(now time.Time) Health {
	h := Health{Allowed: g.RedemptionsAllowed, Used: g.Redemptions, Expires: g.ExpirationTime}
	if h.Allowed < 1 {
		h.Allowed = 1
	}
	if h.Left = h.Allowed - h.Used; h.Left < 0 {
		h.Left = 0
	}
	h.Expired = !h.Expires.IsZero() && !now.Before(h.Expires)
	return h
}

// ExpiresWithin reports whether the grant expires before now+margin.
func (h Health) ExpiresWithin(now time.Time, margin time.Duration) bool {
	return !h.Expires.IsZero() && h.Expires.Before(now.Add(margin))
}
