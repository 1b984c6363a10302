package testkit

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// update is registered on the test binary's command line by every package
// whose tests import testkit: `go test ./cmd/rampart -run Golden -update`.
var update = flag.Bool("update", false, "testkit: rewrite the golden files under testdata with today's output instead of comparing")

// Golden compares got with the golden file testdata/<path> (relative to the
// package directory, where go test runs) and reports a mismatch with
// t.Errorf. With -update it writes got to that file instead, creating its
// directories. path must be relative and stay inside testdata.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	golden(t, "testdata", path, got, *update)
}

// golden is Golden with the directory and the update switch explicit.
func golden(t testing.TB, dir, path string, got []byte, rewrite bool) {
	t.Helper()
	if !filepath.IsLocal(path) {
		t.Fatalf("testkit: golden path %q must be relative and stay inside %s", path, dir)
		return
	}
	file := filepath.Join(dir, path)
	if rewrite {
		if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
			t.Fatalf("testkit: %v", err)
			return
		}
		if err := os.WriteFile(file, got, 0o600); err != nil {
			t.Fatalf("testkit: %v", err)
		}
		return
	}
	want, err := os.ReadFile(file) // #nosec G304 -- a test's own golden file; IsLocal keeps it inside dir.
	if err != nil {
		t.Fatalf("testkit: %v (create it with go test -run %s -update)", err, t.Name())
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("testkit: output differs from %s (if the change is intended, rerun with -update and review the diff)\n%s",
			file, firstDifference(string(want), string(got)))
	}
}

// firstDifference describes the first line where want and got differ, with
// both texts in full after it.
func firstDifference(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	line := 0
	for line < len(wl) && line < len(gl) && wl[line] == gl[line] {
		line++
	}
	at := func(l []string) string {
		if line < len(l) {
			return l[line]
		}
		return "<end of text>"
	}
	var b strings.Builder
	b.WriteString("first difference at line " + strconv.Itoa(line+1) + ":\n  want: " + at(wl) + "\n  got:  " + at(gl) + "\n")
	b.WriteString("--- want\n" + want + "\n--- got\n" + got + "\n")
	return b.String()
}
