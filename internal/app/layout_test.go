package app_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/testkit"
)

const module = "github.com/rampart-auth/rampart/"

// imports returns, for every package directory of the module (relative
// path), the module packages its non-test files import.
func imports(t *testing.T) map[string]map[string]bool {
	t.Helper()
	out := map[string]map[string]bool{}
	testkit.SourceFiles(t, filepath.Join("..", ".."), parser.ImportsOnly, 50, func(_ *token.FileSet, rel string, f *ast.File) {
		dir := path.Dir(rel)
		if out[dir] == nil {
			out[dir] = map[string]bool{}
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if r, ok := strings.CutPrefix(p, module); ok {
				out[dir][r] = true
			} else if !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
				out[dir]["std:"+p] = true
			} else {
				out[dir]["ext:"+p] = true
			}
		}
	})
	if len(out) < 15 {
		t.Fatalf("only %d packages found: the walk did not find the module", len(out))
	}
	return out
}

// TestImportDirection holds the layout of docs/architecture.md: the
// public packages import no private code, the domains never import the
// wiring or the storage adapter, and the test kit is standard library
// only. A change that breaks one of these is an architecture change, to
// be made in that document first.
func TestImportDirection(t *testing.T) {
	deps := imports(t)
	public := []string{"jwtauth", "ratelimit", "mtls"}
	domains := []string{"internal/oauth", "internal/identity", "internal/keys", "internal/audit", "internal/kms",
		"internal/ca", "internal/web", "internal/httpx", "internal/config", "internal/admin", "internal/gateway", "internal/secrets"}
	wiring := []string{"internal/app", "internal/store/sqlstore", "cmd/rampart"}
	for _, p := range public {
		for d := range deps[p] {
			if strings.HasPrefix(d, "internal/") {
				t.Errorf("public package %s imports %s", p, d)
			}
		}
	}
	for _, p := range domains {
		for _, w := range wiring {
			if deps[p][w] {
				t.Errorf("domain package %s imports %s (storage adapters and wiring import the domains, never the reverse)", p, w)
			}
		}
	}
	for dir, ds := range deps {
		if deps[dir]["cmd/rampart"] {
			t.Errorf("%s imports cmd/rampart", dir)
		}
		if ds["internal/store/sqlstore"] && dir != "internal/app" && dir != "cmd/rampart" && !strings.HasPrefix(dir, "internal/testkit/") {
			t.Errorf("%s imports the storage adapter: only internal/app wires it", dir)
		}
	}
	for d := range deps["internal/testkit"] {
		if !strings.HasPrefix(d, "std:") {
			t.Errorf("internal/testkit imports %s: it must stay standard library only, so every package's tests can use it", d)
		}
	}
}
