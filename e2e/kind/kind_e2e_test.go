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
//	VANLINK_KIND_KEEP=1     keep the clusters at the end (the next run reuses them)
//	VANLINK_KIND_LOGS=dir   where logs of failed scenarios go (default _output/kind-logs)
//	KIND_NODE_IMAGE=image   kind node image (default: kind v0.33's)

var provider *kind.Provider

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
	dir, err := os.MkdirTemp("", "vanlink-kind-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	images, err := kind.BuildImages(root, dir, "e2e-kind")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fleet := kind.NewFleet(kind.Options{Prefix: "vanlink-e2e", Dir: dir, Images: images.Archives, Log: log})
	start, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	provider, err = kind.Start(start, fleet, images, []string{"east", "west"})
	if provider != nil && os.Getenv("VANLINK_KIND_KEEP") == "" {
		defer func() {
			if err := provider.Delete(); err != nil {
				fmt.Fprintln(os.Stderr, "deleting the kind clusters:", err)
			}
		}()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e-kind: bringing up the clusters:", err)
		for _, name := range []string{"hub", "east", "west"} {
			_ = fleet.CollectLogs(name, filepath.Join(logDir(root), "setup", name))
			_ = fleet.Down(name)
		}
		return 1
	}
	return m.Run()
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
			t.Cleanup(func() {
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
