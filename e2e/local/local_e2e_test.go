//go:build e2e

package local_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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

// TestScenarios runs every scenario on a fresh local hub, east and west,
// once with each transport. Each scenario has a test bed of its own (one
// etcd, three API servers, the doubles), so scenarios run in parallel, at
// most `go test -parallel` at a time (make test-e2e sets E2E_PARALLEL).
func TestScenarios(t *testing.T) {
	for _, tr := range []string{"acm", "manifestwork", "direct"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			runScenarios(t, tr)
		})
	}
}

func runScenarios(t *testing.T, transport string) {
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios.All {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			p, err := local.Start(context.Background(), local.Options{Spokes: []string{"east", "west"}, Transport: transport})
			if err != nil {
				t.Fatalf("starting the local provider: %v", err)
			}
			t.Cleanup(func() {
				if t.Failed() {
					p.DumpLogs(t, 20)
				}
				p.Close()
			})
			sc.Run(t, scenarios.NewHarness(t, p, root, binary))
		})
	}
}
