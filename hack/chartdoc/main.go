// Command chartdoc regenerates the values table of every chart README from
// the chart's values.yaml comments, and copies the template code the charts
// share (charts/_shared) into each chart. Run it through `make docs`.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vanlink/vanlink/internal/charts"
)

func main() {
	dirs, err := filepath.Glob("charts/*/values.yaml")
	if err != nil || len(dirs) == 0 {
		fmt.Fprintln(os.Stderr, "chartdoc: run from the repository root (no charts/*/values.yaml found)")
		os.Exit(1)
	}
	copies, err := charts.SyncShared(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chartdoc:", err)
		os.Exit(1)
	}
	for _, f := range copies {
		fmt.Println("updated", f)
	}
	for _, v := range dirs {
		dir := filepath.Dir(v)
		changed, err := charts.UpdateReadme(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "chartdoc:", err)
			os.Exit(1)
		}
		if changed {
			fmt.Println("updated", filepath.Join(dir, "README.md"))
		}
	}
}
