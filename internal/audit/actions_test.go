package audit_test

import (
	"go/ast"
	"go/token"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestActionsComeFromTheCatalogue walks every non-test Go file of the
// module and fails on an audit event whose Action is a string literal: the
// catalogue (actions.go) is the one vocabulary of the evidence.
func TestActionsComeFromTheCatalogue(t *testing.T) {
	testkit.SourceFiles(t, filepath.Join("..", ".."), 0, 50, func(fset *token.FileSet, _ string, f *ast.File) {
		ast.Inspect(f, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "Action" {
				if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					t.Errorf("%s: audit action %s is a string literal; add it to internal/audit/actions.go and use the constant", fset.Position(lit.Pos()), lit.Value)
				}
			}
			return true
		})
	})
}

// TestCatalogueIsWellFormed: every action is a lowercase dotted verb,
// listed once, and fits the event's action limit.
func TestCatalogueIsWellFormed(t *testing.T) {
	re := regexp.MustCompile(`^[a-z][a-z_]*\.[a-z][a-z_]*$`)
	seen := map[string]bool{}
	for _, a := range audit.Actions() {
		if !re.MatchString(a) || len(a) > 64 {
			t.Errorf("action %q is not a dotted lowercase verb of at most 64 bytes", a)
		}
		if seen[a] {
			t.Errorf("action %q listed twice", a)
		}
		seen[a] = true
	}
}
