package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vanlink/vanlink/pkg/version"
)

func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main(args, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, noExit)
	return code, out.String(), errOut.String()
}

// noExit stands for os.Exit in tests: no test sends a second signal.
func noExit(code int) { panic(fmt.Sprintf("vanlink exited the process with code %d", code)) }

func TestVersionCommand(t *testing.T) {
	old := version.Version
	t.Cleanup(func() { version.Version = old })
	version.Version = "v9.8.7"

	code, out, _ := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "vanlink v9.8.7 ") {
		t.Fatalf("expected exit 0 and the linked version, got %d %q", code, out)
	}
	code, out, _ = run(t, "version", "-o", "json")
	var info version.Info
	if err := json.Unmarshal([]byte(out), &info); err != nil || code != 0 || info.Version != "v9.8.7" {
		t.Fatalf("expected JSON with the linked version, got %d %q (%v)", code, out, err)
	}
	code, out, _ = run(t, "version", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "version: v9.8.7") {
		t.Fatalf("expected YAML with the linked version, got %d %q", code, out)
	}
	code, _, errOut := run(t, "version", "-o", "xml")
	if code != 1 || !strings.Contains(errOut, `invalid argument "xml" for "-o, --output" flag: must be one of text, json, yaml`) {
		t.Fatalf("expected a clear error naming --output, got %d %q", code, errOut)
	}
}

func TestTheRootHelpNamesEveryTransport(t *testing.T) {
	code, out, _ := run(t, "--help")
	if code != 0 {
		t.Fatalf("expected exit 0, got %d", code)
	}
	for _, want := range []string{"ManagedClusterAction", "ManifestWork", "upstream Open Cluster Management", "spoke credentials"} {
		if !strings.Contains(out, want) {
			t.Errorf("expected the root help to name %q (a way spokes are reached), got:\n%s", want, out)
		}
	}
}
