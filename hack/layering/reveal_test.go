package layering

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
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
	err := walkGoFiles(root, dirs, func(rel string, src []byte) error {
		for _, a := range allowed {
			if rel == a || strings.HasSuffix(a, "/") && strings.HasPrefix(rel, a) {
				return nil
			}
		}
		f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
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
	sort.Strings(calls)
	return calls, err
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
	const call = "package x\n\nfunc f(c interface{ Reveal() string }) string {\n\treturn c.Reveal()\n}\n"
	writeFiles(t, root, map[string]string{
		"pkg/reconcile/leak.go":      call,
		"pkg/reconcile/leak_test.go": call,
		"pkg/transport/acm/push.go":  call,
		"internal/cli/token.go":      call,
		"internal/cli/sync.go":       "package cli\n\n// Reveal is named here, in a comment only.\nvar reveal = 1\n",
	})
	calls, err := revealCalls(root, []string{"pkg", "internal"}, revealAllowed)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"pkg/reconcile/leak.go:4"}; fmt.Sprint(calls) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", calls, want)
	}
}
