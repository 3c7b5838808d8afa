package charts

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// SharedDir holds the template code both charts share, one source file each.
// `make docs` (SyncShared) copies every file into templates/ of each chart,
// behind a header that names its source; a test fails when a copy differs.
// The copies are committed, so `helm install charts/<chart>` works from a
// checkout, with no `helm dependency build` (which a library chart needs).
const SharedDir = "charts/_shared"

// SharedCharts are the charts that receive the shared templates.
var SharedCharts = []string{HubChart, SpokeChart}

// SharedCopy returns what templates/<name> of a chart holds for the shared
// source src.
func SharedCopy(name string, src []byte) []byte {
	header := fmt.Sprintf("{{- /* GENERATED from %s/%s by `make docs`: edit that file, not this copy. */ -}}\n", SharedDir, name)
	return append([]byte(header), src...)
}

// SyncShared writes the copies of the shared templates into each chart
// under root (the repository root) and returns the files it changed.
func SyncShared(root string) ([]string, error) {
	srcs, err := filepath.Glob(filepath.Join(root, SharedDir, "*.tpl"))
	if err != nil {
		return nil, err
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("no shared templates in %s", filepath.Join(root, SharedDir))
	}
	var changed []string
	for _, src := range srcs {
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(src)
		for _, chart := range SharedCharts {
			dst := filepath.Join(root, chart, "templates", name)
			want := SharedCopy(name, data)
			if have, err := os.ReadFile(dst); err == nil && bytes.Equal(have, want) {
				continue
			}
			if err := os.WriteFile(dst, want, 0o644); err != nil {
				return nil, err
			}
			changed = append(changed, filepath.Join(chart, "templates", name))
		}
	}
	return changed, nil
}
