package layering

import (
	"bytes"
	"fmt"
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
	err := walkGoFiles(root, dirs, func(rel string, src []byte) error {
		n := bytes.Count(src, []byte("\n"))
		if len(src) > 0 && src[len(src)-1] != '\n' {
			n++
		}
		if n > max {
			long = append(long, fmt.Sprintf("%s: %d lines", rel, n))
		}
		return nil
	})
	sort.Strings(long)
	return long, err
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
	lines := func(n int) string { return strings.Repeat("//\n", n) }
	writeFiles(t, root, map[string]string{
		"pkg/a/short.go":     lines(10),
		"pkg/a/edge.go":      lines(10),
		"pkg/a/long.go":      lines(11),
		"pkg/a/long_test.go": lines(50),
		"internal/b/long.go": lines(12),
		"e2e/c/long.go":      lines(50),
	})
	long, err := longFiles(root, []string{"pkg", "internal"}, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"internal/b/long.go: 12 lines", "pkg/a/long.go: 11 lines"}
	if fmt.Sprint(long) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", long, want)
	}
}
