//go:build e2e_kind

package kind_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vanlink/vanlink/e2e/framework"
	"github.com/vanlink/vanlink/e2e/kind"
	"github.com/vanlink/vanlink/e2e/scenarios"
)

// The kind tier: the same scenarios as e2e/local, on kind clusters with the
// real Skupper, run with `make e2e-kind` where a Docker engine runs.
//
// Environment:
//
//	VANLINK_KIND_KEEP=1     keep the clusters at the end (the next run reuses them), with
//	                        their kubeconfigs in _output/kind-e2e, printed at the end
//	VANLINK_KIND_LOGS=dir   where logs of failed scenarios go (default _output/kind-logs)
//	KIND_NODE_IMAGE=image   kind node image (default: kind v0.33's)

var (
	provider *kind.Provider
	// resetFailed is set when the clusters could not be reset after a
	// scenario: the next scenarios fail at once instead of on dirty clusters.
	resetFailed error
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	if err := kind.RequireDocker(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "e2e-kind:", err)
		return 1
	}
	root, err := framework.RepoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	keep := os.Getenv("VANLINK_KIND_KEEP") != ""
	// The image archives are only needed while the run loads them.
	tmp, err := os.MkdirTemp("", "vanlink-kind-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	// Kubeconfigs: in the temporary directory, or where they outlive the run.
	dir := tmp
	if keep {
		dir = filepath.Join(root, "_output", "kind-e2e")
	}
	images, err := kind.BuildImages(root, tmp, "e2e-kind")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fleet := kind.NewFleet(kind.Options{Prefix: "vanlink-e2e", Dir: dir, Images: images.Archives, Log: log})
	start, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	provider, err = kind.Start(start, fleet, images, []string{"east", "west"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e-kind: bringing up the clusters:", err)
		for _, name := range []string{"hub", "east", "west"} {
			_ = fleet.CollectLogs(name, filepath.Join(logDir(root), "setup", name))
			if !keep {
				_ = fleet.Down(name)
			}
		}
		if keep {
			fmt.Fprintf(os.Stderr, "e2e-kind: VANLINK_KIND_KEEP is set: the clusters are kept, kubeconfigs in %s\n", dir)
		}
		return 1
	}
	code := m.Run()
	if err := provider.Finish(keep, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "e2e-kind: ending the run:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func logDir(root string) string {
	if d := os.Getenv("VANLINK_KIND_LOGS"); d != "" {
		return d
	}
	return filepath.Join(root, "_output", "kind-logs")
}

// TestScenarios runs every scenario that applies to real clusters, one after
// the other on the same clusters, reset in between.
func TestScenarios(t *testing.T) {
	root, err := framework.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	binary := "" // vanlink runs in hub pods (provider.StartVanlink)
	for _, sc := range scenarios.All {
		t.Run(sc.Name, func(t *testing.T) {
			if sc.LocalOnly != "" {
				t.Skip("local tier only: " + sc.LocalOnly)
			}
			if resetFailed != nil {
				t.Fatalf("not run: the clusters could not be reset after an earlier scenario: %v", resetFailed)
			}
			t.Cleanup(func() {
				// A spoke the scenario paused and left paused would make
				// the log export and the reset hang on its API server.
				if paused := provider.Paused(); len(paused) > 0 {
					t.Logf("resuming the spokes the scenario left paused: %v", paused)
					if err := provider.ResumePaused(); err != nil {
						t.Errorf("%v", err)
					}
				}
				if t.Failed() {
					dir := filepath.Join(logDir(root), filepath.Base(t.Name()))
					if err := provider.CollectLogs(dir); err != nil {
						t.Logf("exporting logs: %v", err)
					} else {
						t.Logf("cluster logs exported to %s", dir)
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				if err := provider.Reset(ctx); err != nil {
					resetFailed = fmt.Errorf("after %s: %w", sc.Name, err)
					t.Errorf("%v", err)
				}
			})
			h := scenarios.NewHarness(t, provider, root, binary)
			// Real routers take seconds to link; pods take seconds to start.
			h.Timeout = 4 * time.Minute
			sc.Run(t, h)
		})
	}
}
