package notes_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLibraryImports holds the sample to what a real service outside this
// module could do: its non-test files import the standard library, the
// public jwtauth package, the two database drivers and x/crypto, and
// nothing under internal/.
func TestLibraryImports(t *testing.T) {
	allowed := []string{"github.com/rampart-auth/rampart/jwtauth", "modernc.org/sqlite", "github.com/jackc/pgx/v5", "golang.org/x/crypto/"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		n++
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
				continue // standard library
			}
			ok := false
			for _, a := range allowed {
				ok = ok || p == a || strings.HasPrefix(p, strings.TrimSuffix(a, "/")+"/")
			}
			if !ok {
				t.Errorf("%s imports %s", name, p)
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d source files found", n)
	}
}
