// Package skuppertest helps the tests that check the grant code never
// leaves vanlink by accident: Renderings gives every way a caller might
// print, log or marshal a value.
package skuppertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"sigs.k8s.io/yaml"
)

// Renderings returns v as fmt prints it (%v, %+v, %#v, %s, %q), as JSON and
// YAML, and as slog's JSON and text handlers log it under the key "value";
// a marshalling error fails the test.
func Renderings(t testing.TB, v any) []string {
	t.Helper()
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out = append(out, fmt.Sprintf(verb, v))
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	y, err := yaml.Marshal(v)
	if err != nil {
		t.Fatalf("yaml.Marshal: %v", err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("render", "value", v)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("render", "value", v)
	return append(out, string(js), string(y), logs.String())
}
