package testkit

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestGoldenUpdateThenCompare(t *testing.T) {
	dir := t.TempDir()
	got := []byte("config OK: <config>\n  issuer http://127.0.0.1:8080\n")
	golden(t, dir, "sub/check.golden", got, true) // -update creates the directories
	b, err := os.ReadFile(filepath.Join(dir, "sub", "check.golden"))
	if err != nil || string(b) != string(got) {
		t.Fatalf("written %q, %v", b, err)
	}
	golden(t, dir, "sub/check.golden", got, false) // the same output passes

	f := &fakeTB{TB: t}
	golden(f, dir, "sub/check.golden", []byte("config OK: <config>\n  issuer https://other\n"), false)
	if len(f.errs) != 1 || !strings.Contains(f.errs[0], "line 2") || !strings.Contains(f.errs[0], "-update") {
		t.Fatalf("a changed output reported %q, want one error naming line 2 and -update", f.errs)
	}
}

func TestGoldenRefusals(t *testing.T) {
	dir := t.TempDir()
	for name, path := range map[string]string{
		"reject/missing-file": "nope.golden",
		"reject/parent-dir":   "../escape.golden",
		"reject/absolute":     filepath.Join(dir, "abs.golden"),
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeTB{TB: t}
			golden(f, dir, path, []byte("x"), false)
			if len(f.fatal) != 1 {
				t.Fatalf("Fatalf calls %q, want one", f.fatal)
			}
		})
	}
	f := &fakeTB{TB: t}
	golden(f, dir, "../escape.golden", []byte("x"), true) // not even with -update
	if len(f.fatal) != 1 {
		t.Fatalf("an escaping update was allowed: %q", f.fatal)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "escape.golden")); err == nil {
		t.Fatal("a file was written outside the directory")
	}
}

func TestGoldenFlagRegistered(t *testing.T) {
	if f := flag.Lookup("update"); f == nil || f.Value.String() != strconv.FormatBool(*update) {
		t.Fatal("-update is not registered on the test binary's command line")
	}
}
