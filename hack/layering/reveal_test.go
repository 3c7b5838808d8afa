package layering

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// revealAllowed are the only places outside tests that may call a Reveal
// method (skupper.Code.Reveal, skupper.TokenRequest.Reveal: the grant code
// in the clear): the package that defines them, the transports that send
// the AccessToken, and `vanlink token`, which prints it. A path ending in /
// is a directory and everything under it.
var revealAllowed = []string{"pkg/skupper/", "pkg/transport/", "internal/cli/token.go"}

// revealCalls returns the calls of a method named Reveal in the non-test Go
// files under dirs (relative to root) outside allowed, as "path:line".
func revealCalls(root string, dirs, allowed []string) ([]string, error) {
	var calls []string
	fset := token.NewFileSet()
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			rel = filepath.ToSlash(rel)
			for _, a := range allowed {
				if rel == a || strings.HasSuffix(a, "/") && strings.HasPrefix(rel, a) {
					return nil
				}
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					if s, ok := c.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "Reveal" {
						calls = append(calls, fmt.Sprintf("%s:%d", rel, fset.Position(c.Pos()).Line))
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(calls)
	return calls, nil
}

// TestOnlyTheTransportsAndTheTokenCommandRevealTheCode: the grant code is
// read in the clear only where it leaves vanlink (issue 14, item 5).
func TestOnlyTheTransportsAndTheTokenCommandRevealTheCode(t *testing.T) {
	calls, err := revealCalls("../..", []string{"cmd", "internal", "jobs", "pkg"}, revealAllowed)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) > 0 {
		t.Errorf("the grant code is revealed outside the transports and `vanlink token` (%s); hand a skupper.TokenRequest on instead:\n%s",
			strings.Join(revealAllowed, ", "), strings.Join(calls, "\n"))
	}
}

func TestTheRevealCheckCatchesACall(t *testing.T) {
	root := t.TempDir()
	write := func(rel, src string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const call = "package x\n\nfunc f(c interface{ Reveal() string }) string {\n\treturn c.Reveal()\n}\n"
	write("pkg/reconcile/leak.go", call)
	write("pkg/reconcile/leak_test.go", call)
	write("pkg/transport/acm/push.go", call)
	write("internal/cli/token.go", call)
	write("internal/cli/sync.go", "package cli\n\n// Reveal is named here, in a comment only.\nvar reveal = 1\n")
	calls, err := revealCalls(root, []string{"pkg", "internal"}, revealAllowed)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"pkg/reconcile/leak.go:4"}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", calls, want)
	}
}
