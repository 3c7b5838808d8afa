package charts_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vanlink/vanlink/internal/charts"
)

func TestSyncSharedCopiesTheOneSourceIntoEveryChart(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, charts.SharedDir), 0o755))
	for _, c := range charts.SharedCharts {
		require.NoError(t, os.MkdirAll(filepath.Join(root, c, "templates"), 0o755))
	}
	src := []byte(`{{- define "vanlink.x" -}}x{{- end -}}` + "\n")
	require.NoError(t, os.WriteFile(filepath.Join(root, charts.SharedDir, "_vanlink.tpl"), src, 0o644))

	changed, err := charts.SyncShared(root)
	require.NoError(t, err)
	require.Len(t, changed, len(charts.SharedCharts), "a copy is written into every chart")
	for _, c := range charts.SharedCharts {
		got, err := os.ReadFile(filepath.Join(root, c, "templates", "_vanlink.tpl"))
		require.NoError(t, err)
		require.Equal(t, string(charts.SharedCopy("_vanlink.tpl", src)), string(got))
		require.Contains(t, string(got), "GENERATED from "+charts.SharedDir+"/_vanlink.tpl", "the copy names its source")
	}
	changed, err = charts.SyncShared(root)
	require.NoError(t, err)
	require.Empty(t, changed, "copies that match are left alone")
}
