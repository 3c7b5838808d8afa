package layering

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// maxLines is the most lines a non-test Go file under pkg/ or internal/ may
// have: a file that grows past it holds more than one job, and is split by
// job.
const maxLines = 300

// longFiles returns the non-test Go files under the given roots (relative to
// root) with more than max lines, as "path: N lines".
func longFiles(root string, dirs []string, max int) ([]string, error) {
	var long []string
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			n := bytes.Count(b, []byte("\n"))
			if len(b) > 0 && b[len(b)-1] != '\n' {
				n++
			}
			if n > max {
				rel, _ := filepath.Rel(root, path)
				long = append(long, fmt.Sprintf("%s: %d lines", filepath.ToSlash(rel), n))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(long)
	return long, nil
}

func TestLibraryFilesStaySmall(t *testing.T) {
	long, err := longFiles("../..", []string{"pkg", "internal"}, maxLines)
	if err != nil {
		t.Fatal(err)
	}
	if len(long) > 0 {
		t.Errorf("%d files under pkg/ and internal/ have more than %d lines; split them by job:\n%s",
			len(long), maxLines, strings.Join(long, "\n"))
	}
}

func TestTheSizeCheckCatchesALongFile(t *testing.T) {
	root := t.TempDir()
	write := func(rel string, lines int) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("//\n", lines)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pkg/a/short.go", 10)
	write("pkg/a/edge.go", 10)
	write("pkg/a/long.go", 11)
	write("pkg/a/long_test.go", 50)
	write("internal/b/long.go", 12)
	write("e2e/c/long.go", 50)
	long, err := longFiles(root, []string{"pkg", "internal"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"internal/b/long.go: 12 lines", "pkg/a/long.go: 11 lines"}
	if fmt.Sprint(long) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", long, want)
	}
}
