package devicelogin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckIssuer: https anywhere, http only on loopback, nothing else.
func TestCheckIssuer(t *testing.T) {
	for _, ok := range []string{"https://auth.example.test", "https://auth.example.test/tenant", "http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:9000", "http://127.9.9.9"} {
		if err := CheckIssuer(ok); err != nil {
			t.Errorf("accept %q: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://auth.example.test", "http://127.0.0.1.evil.example", "http://localhost.evil.example", "ftp://auth.example.test",
		"auth.example.test", "https://", "https://user:pw@auth.example.test", "https://auth.example.test?x=1", "https://auth.example.test#f", "javascript:alert(1)", ""} {
		var ue *UsageError
		if err := CheckIssuer(bad); !errors.As(err, &ue) {
			t.Errorf("accepted %q (%v)", bad, err)
		}
	}
}

// TestCleanDropsTerminalEscapes: server text printed to a terminal loses
// control characters (an ANSI escape in error_description cannot rewrite
// the screen) and is bounded.
func TestCleanDropsTerminalEscapes(t *testing.T) {
	if got := clean("bad\x1b]0;owned\x07\x1b[2J request\r\n\u009b"); got != "bad]0;owned[2J request" {
		t.Fatalf("clean = %q", got)
	}
	if got := clean(strings.Repeat("a", 500)); len(got) != 203 {
		t.Fatalf("not bounded: %d", len(got))
	}
}

// TestWriteFileMode: the tokens land in a 0600 file, whatever mode the
// file had; a symlink at the path is replaced, not followed; a failed
// write leaves no temporary file.
func TestWriteFileMode(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil { // #nosec G306 -- the looser mode is the test's point
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tokens.json")
	if err := os.Symlink(victim, out); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(out, []byte(`{"access_token":"x"}`)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(out)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file %v %v", fi.Mode(), err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("the symlink's target was written: %q", b)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "t.json"), []byte("{}")); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".rampart-login-") {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
}

// TestFormat: the token response is printed as indented JSON; anything
// else is refused.
func TestFormat(t *testing.T) {
	got, err := Format([]byte(`{"access_token":"x","token_type":"Bearer"}`))
	if err != nil || string(got) != "{\n  \"access_token\": \"x\",\n  \"token_type\": \"Bearer\"\n}\n" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := Format([]byte("<html>")); err == nil {
		t.Fatal("non-JSON formatted")
	}
}
