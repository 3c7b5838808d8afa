//go:build e2e

package local_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/e2e/local"
	"github.com/vanlink/vanlink/e2e/scenarios"
)

var binary string

// TestMain builds the real vanlink binary once for every scenario.
func TestMain(m *testing.M) {
	root, err := framework.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "vanlink-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "vanlink")
	build := exec.Command("go", "build", "-o", binary, "./cmd/vanlink")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building vanlink:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// TestScenarios runs every scenario on a local hub, east and west, once
// with each transport, at most `go test -parallel` at a time (make test-e2e
// sets E2E_PARALLEL). A scenario gets a test bed (one etcd, three API
// servers) of its own while it runs: a passed scenario's bed is cleared
// and populated afresh for the next one (local.Beds), a failed one's is
// closed; the doubles are new for each scenario.
func TestScenarios(t *testing.T) {
	beds := &local.Beds{Spokes: []string{"east", "west"}}
	t.Cleanup(func() {
		st := beds.Close()
		t.Logf("test beds: %d started (%s), %d scenarios on a cleared bed (clearing took %s in all), %d closed after a failure or a refused clear",
			st.Started, st.StartTime.Round(time.Millisecond), st.Reused, st.ClearTime.Round(time.Millisecond), st.Discarded)
	})
	for _, tr := range []string{"acm", "manifestwork", "direct"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			runScenarios(t, beds, tr)
		})
	}
}

func runScenarios(t *testing.T, beds *local.Beds, transport string) {
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios.All {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			p, err := beds.Get(context.Background(), t, local.Options{Transport: transport})
			if err != nil {
				t.Fatalf("starting the local provider: %v", err)
			}
			t.Cleanup(func() {
				if t.Failed() {
					p.DumpLogs(t, 20)
				}
				beds.Put(context.Background(), t, p, !t.Failed())
			})
			sc.Run(t, scenarios.NewHarness(t, p, root, binary))
		})
	}
}
