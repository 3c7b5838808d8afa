package skupper

import "log/slog"

// Redacted is what a Code prints, logs and marshals as.
const Redacted = "[redacted]"

// Code is an AccessGrant's code: whoever holds it can redeem the grant. It
// prints (fmt, %v and %#v), logs (slog) and marshals (JSON) as Redacted, so a
// struct that holds it can be printed or recorded without leaking it; only
// Reveal gives the value, for the AccessToken a transport pushes (built from
// a TokenRequest when it is sent) and for `vanlink token` (hack/layering
// checks that nothing else calls it).
type Code string

// Reveal returns the code itself.
func (c Code) Reveal() string { return string(c) }

// String is Redacted.
func (c Code) String() string { return Redacted }

// GoString is Redacted (%#v).
func (c Code) GoString() string { return Redacted }

// LogValue is Redacted.
func (c Code) LogValue() slog.Value { return slog.StringValue(Redacted) }

// MarshalJSON is Redacted, as a JSON string.
func (c Code) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText is Redacted (YAML and text encoders).
func (c Code) MarshalText() ([]byte, error) { return []byte(Redacted), nil }
