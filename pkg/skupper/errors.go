package skupper

import (
	"errors"
	"fmt"
)

// FieldError reports a field of a Skupper object that is missing, malformed or
// unacceptable. It never carries the field's value when the field is secret.
type FieldError struct {
	Kind, Namespace, Name string
	// Field is the path of the field, e.g. "status.url".
	Field string
	// Reason says what is wrong, e.g. "must use https".
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s %s/%s: %s %s", e.Kind, e.Namespace, e.Name, e.Field, e.Reason)
}

// ErrGrantNotReady is wrapped by the error of a grant whose status is not Ready.
var ErrGrantNotReady = errors.New("grant not ready")

// InvalidGrantError is returned by Grant.Validate: the grant cannot be used to
// build tokens. It wraps a *FieldError naming the field.
type InvalidGrantError struct {
	Err *FieldError
}

func (e *InvalidGrantError) Error() string { return "invalid grant: " + e.Err.Error() }

// Unwrap returns the field error.
func (e *InvalidGrantError) Unwrap() error { return e.Err }
