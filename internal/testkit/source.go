package testkit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// SourceFiles parses every non-test Go file below root (skipping .git and
// testdata) with mode and calls fn with its path relative to root. It is
// for tests that hold a rule over the whole module's source (the audit
// action catalogue, the direction of imports). It fails the test when
// fewer than minFiles were found, so a wrong root cannot pass silently.
func SourceFiles(t testing.TB, root string, mode parser.Mode, minFiles int, fn func(fset *token.FileSet, rel string, f *ast.File)) {
	t.Helper()
	fset := token.NewFileSet()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, mode)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		n++
		fn(fset, filepath.ToSlash(rel), f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < minFiles {
		t.Fatalf("only %d Go files found below %s: the walk did not find the module", n, root)
	}
}
