package layering

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/vanlink/vanlink"

// layers ranks the top-level directories: a package may depend on its own
// rank or a lower one.
var layers = map[string]int{"pkg": 0, "jobs": 1, "internal": 2, "cmd": 3, "e2e": 4, "hack": 4}

// allTags are every build tag of the repository, so that tagged tests and
// tools are checked too.
const allTags = "integration,e2e,e2e_kind,images"

type pkg struct {
	ImportPath string
	ForTest    string
	Deps       []string
	Imports    []string
	Error      *struct{ Err string }
}

// list runs go list over the module, tests included, with the build tags.
func list(t *testing.T, tags string) []pkg {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the layering check runs go list and needs the go command: %v", err)
	}
	cmd := exec.Command(gobin, "list", "-e", "-test", "-tags", tags, "-json=ImportPath,ForTest,Deps,Imports,Error", "./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list named only %d packages: is the module root ../..?", len(pkgs))
	}
	return pkgs
}

// dir returns the module-relative path of an import path, without the test
// variant's suffix, and whether it belongs to this module.
func dir(importPath string) (string, bool) {
	importPath, _, _ = strings.Cut(importPath, " ")
	importPath = strings.TrimSuffix(importPath, ".test")
	if importPath == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(importPath, module+"/")
	return rel, ok
}

func layer(rel string) (string, int, bool) {
	top, _, _ := strings.Cut(rel, "/")
	rank, ok := layers[top]
	return top, rank, ok
}

// violations lists the dependencies of each package of this module that
// break the rules of the package doc. With testBed, tests of every layer
// may use e2e/ (the tagged integration tests run on its local API servers);
// without it, tests of pkg/ may not.
func violations(pkgs []pkg, testBed bool) []string {
	var bad []string
	for _, p := range pkgs {
		rel, ok := dir(p.ImportPath)
		if !ok {
			continue
		}
		top, rank, ok := layer(rel)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s: top-level directory %q has no layer in hack/layering", p.ImportPath, top))
			continue
		}
		// Unit tests of pkg/ are held to pkg/'s rule (go list -test -deps
		// ./pkg/... names no e2e/ package); tests of the layers above, and
		// tagged tests, may use e2e/'s test bed.
		isTest := p.ForTest != "" || strings.HasSuffix(p.ImportPath, ".test")
		mayUseE2E := isTest && (testBed || top != "pkg")
		for _, d := range p.Deps {
			drel, ok := dir(d)
			if !ok {
				continue
			}
			dtop, drank, ok := layer(drel)
			if !ok {
				continue
			}
			switch {
			case mayUseE2E && dtop == "e2e":
				// the test bed
			case top == "pkg" && drank > rank:
				bad = append(bad, fmt.Sprintf("%s imports %s: pkg/ must not depend on %s/", p.ImportPath, d, dtop))
			case drank > rank:
				bad = append(bad, fmt.Sprintf("%s imports %s: %s/ must not depend on %s/, a higher layer", p.ImportPath, d, top, dtop))
			case top == "jobs" && dtop == "jobs":
				from, _, _ := strings.Cut(strings.TrimPrefix(rel, "jobs/"), "/")
				to, _, _ := strings.Cut(strings.TrimPrefix(drel, "jobs/"), "/")
				if from != to && from != "exitcode" && to != "exitcode" && from != "jobs" && to != "jobs" {
					bad = append(bad, fmt.Sprintf("%s imports %s: the job policies do not import each other (share code through jobs/exitcode or pkg/)", p.ImportPath, d))
				}
			}
		}
	}
	sort.Strings(bad)
	return slices.Compact(bad)
}

func TestLayersOnlyPointDown(t *testing.T) {
	for name, tc := range map[string]struct {
		tags    string
		testBed bool
	}{
		"unit build: no test of pkg/ uses e2e/":              {tags: "", testBed: false},
		"every build tag: tagged tests may use the test bed": {tags: allTags, testBed: true},
	} {
		t.Run(name, func(t *testing.T) {
			pkgs := list(t, tc.tags)
			for _, p := range pkgs {
				if p.Error != nil {
					t.Logf("go list: %s: %s", p.ImportPath, p.Error.Err)
				}
			}
			if bad := violations(pkgs, tc.testBed); len(bad) > 0 {
				t.Errorf("%d imports point up a layer (see hack/layering/doc.go):\n%s", len(bad), strings.Join(bad, "\n"))
			}
		})
	}
}

// TestTheCheckCatchesWhatItMust feeds the rules imports that break them.
func TestTheCheckCatchesWhatItMust(t *testing.T) {
	m := func(rel string) string { return module + "/" + rel }
	tests := map[string]struct {
		p    pkg
		want string
	}{
		"a library that imports the CLI":          {pkg{ImportPath: m("pkg/report"), Deps: []string{m("internal/cli")}}, "pkg/ must not depend on internal/"},
		"a library that imports a job":            {pkg{ImportPath: m("pkg/reconcile"), Deps: []string{m("jobs/cron")}}, "pkg/ must not depend on jobs/"},
		"a library that imports the binary":       {pkg{ImportPath: m("pkg/lease"), Deps: []string{m("cmd/vanlink")}}, "pkg/ must not depend on cmd/"},
		"a library's test that imports e2e":       {pkg{ImportPath: m("pkg/fleet") + " [" + m("pkg/fleet.test") + "]", ForTest: m("pkg/fleet"), Deps: []string{m("e2e/framework")}}, "pkg/ must not depend on e2e/"},
		"a job that imports the CLI":              {pkg{ImportPath: m("jobs/postsync"), Deps: []string{m("internal/cli")}}, "jobs/ must not depend on internal/"},
		"a job that imports the binary":           {pkg{ImportPath: m("jobs/cron"), Deps: []string{m("cmd/vanlink")}}, "jobs/ must not depend on cmd/"},
		"a job policy that imports the other one": {pkg{ImportPath: m("jobs/cron"), Deps: []string{m("jobs/postsync")}}, "the job policies do not import each other"},
		"the CLI that imports e2e outside tests":  {pkg{ImportPath: m("internal/cli"), Deps: []string{m("e2e/framework")}}, "internal/ must not depend on e2e/"},
		"a new top-level directory":               {pkg{ImportPath: m("tools/x")}, "has no layer"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			bad := violations([]pkg{tc.p}, false)
			if len(bad) != 1 || !strings.Contains(bad[0], tc.want) {
				t.Errorf("want one violation saying %q, got %q", tc.want, bad)
			}
		})
	}
	t.Run("a tagged test of a library may use the test bed", func(t *testing.T) {
		p := pkg{ImportPath: m("pkg/transport/acm") + " [" + m("pkg/transport/acm.test") + "]", ForTest: m("pkg/transport/acm"), Deps: []string{m("e2e/framework")}}
		if bad := violations([]pkg{p}, true); len(bad) > 0 {
			t.Errorf("want no violation, got %q", bad)
		}
		p.Deps = []string{m("internal/cli")}
		if bad := violations([]pkg{p}, true); len(bad) != 1 {
			t.Errorf("but not the CLI: want one violation, got %q", bad)
		}
	})
	t.Run("imports that point down pass", func(t *testing.T) {
		ok := []pkg{
			{ImportPath: m("cmd/vanlink"), Deps: []string{m("internal/cli"), m("jobs/cron"), m("pkg/reconcile")}},
			{ImportPath: m("internal/cli"), Deps: []string{m("jobs/postsync"), m("jobs/cron"), m("jobs/exitcode"), m("pkg/report")}},
			{ImportPath: m("internal/cli") + " [" + m("internal/cli.test") + "]", ForTest: m("internal/cli"), Deps: []string{m("e2e/framework")}},
			{ImportPath: m("jobs/cron"), Deps: []string{m("jobs/exitcode"), m("pkg/lease")}},
			{ImportPath: m("e2e/scenarios"), Deps: []string{m("internal/charts"), m("cmd/vanlink")}},
			{ImportPath: "k8s.io/client-go/rest", Deps: []string{"k8s.io/apimachinery/pkg/runtime"}},
		}
		if bad := violations(ok, false); len(bad) > 0 {
			t.Errorf("want no violation, got %q", bad)
		}
	})
}
