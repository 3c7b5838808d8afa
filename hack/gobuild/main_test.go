package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeGo writes a stand-in for the go command: `list` prints the packages
// (or fails), `build` prints package lines to stderr slowly enough for
// several progress ticks, then what go prints on failure, or writes -o.
func fakeGo(t *testing.T, list, build string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "go")
	script := "#!/bin/sh\ncase \"$1\" in\nlist) " + list + " ;;\nbuild) " + build + " ;;\nesac\n"
	require.NoError(t, os.WriteFile(path, []byte(script), 0o755))
	return path
}

func TestRunShowsTheBinaryTheTimeSoFarAndThePackages(t *testing.T) {
	const listThree = `printf 'example.com/a\nexample.com/b\nexample.com/cmd/tool\n'`
	const compileTwo = `echo example.com/a >&2; sleep 0.3; echo example.com/cmd/tool >&2; sleep 0.3; : > "$4"`
	for name, tc := range map[string]struct {
		list, build string
		wantErr     string
		want        []string
		wantNot     []string
	}{
		"a build names the binary, ticks with the time so far and the packages compiled, and says how long it took": {
			list: listThree, build: compileTwo,
			want: []string{"building tool (example.com/cmd/tool) into ", "a first build takes long", "tool: 0s so far, ", " of 3 packages compiled", "built tool in ", "(2 of 3 packages compiled)"},
			// package lines are counted, not printed
			wantNot: []string{"\nexample.com/a\n"},
		},
		"go's own messages and compile errors are passed through, and a failure says after how long": {
			list:    listThree,
			build:   `echo 'go: downloading example.com/a v1.0.0' >&2; echo example.com/a >&2; sleep 0.2; echo '# example.com/b' >&2; echo 'b/b.go:3:1: syntax error' >&2; exit 1`,
			wantErr: "building tool (example.com/cmd/tool) failed after ",
			want:    []string{"go: downloading example.com/a v1.0.0\n", "# example.com/b\n", "b/b.go:3:1: syntax error\n"},
		},
		"without the package list the count has no total": {
			list: `echo 'no such package' >&2; exit 1`, build: compileTwo,
			want: []string{"no such package\n", "built tool in ", "(2 packages compiled)"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "tool")
			o := options{Dir: t.TempDir(), Out: out, Package: "example.com/cmd/tool", Every: 50 * time.Millisecond,
				Note: "a first build takes long", Go: fakeGo(t, tc.list, tc.build)}
			var w bytes.Buffer
			err := run(context.Background(), o, &w)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
			} else {
				require.NoError(t, err, "output:\n%s", w.String())
				require.FileExists(t, out, "go build wrote -o")
			}
			for _, s := range tc.want {
				require.Contains(t, w.String(), s, "the output says %q", s)
			}
			for _, s := range tc.wantNot {
				require.NotContains(t, w.String(), s)
			}
		})
	}
}

func TestCompleteValidates(t *testing.T) {
	for name, tc := range map[string]struct {
		o       options
		args    []string
		wantErr string
	}{
		"one package and -o is enough": {o: options{Out: "bin/x", Every: time.Second}, args: []string{"example.com/x"}},
		"-o is required":               {o: options{Every: time.Second}, args: []string{"example.com/x"}, wantErr: "-o is required"},
		"exactly one package":          {o: options{Out: "bin/x", Every: time.Second}, args: []string{"a", "b"}, wantErr: "exactly one package"},
		"a positive interval":          {o: options{Out: "bin/x"}, args: []string{"a"}, wantErr: "-every must be positive"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.o.Complete(tc.args)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, tc.args[0], tc.o.Package)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestIsPackageLine(t *testing.T) {
	for line, want := range map[string]bool{
		"k8s.io/kubernetes/pkg/apis/core":       true,
		"go: downloading k8s.io/api v0.37.0":    false,
		"# k8s.io/kubernetes/pkg/apis/core":     false,
		"core/types.go:12:3: undefined: Foo":    false,
		"":                                      false,
		"\tnote: module requires Go 1.27":       false,
		"go.etcd.io/etcd/server/v3":             true,
		"runtime/internal/sys":                  true,
		"vendor/golang.org/x/net/http/httpguts": true,
	} {
		require.Equal(t, want, isPackageLine(line), "line %q", line)
	}
}
