package fsx_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/fsx"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "svid.key")
	for i, tc := range []struct {
		data string
		mode os.FileMode
	}{{"first", 0o600}, {"second, longer", 0o644}, {"3", 0o600}} {
		if err := fsx.WriteFileAtomic(path, []byte(tc.data), tc.mode); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != tc.data {
			t.Fatalf("write %d: read %q %v", i, got, err)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != tc.mode {
			t.Fatalf("write %d: mode %v, want %v", i, st.Mode().Perm(), tc.mode)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temporary files left: %v", entries)
	}
}

// TestWriteFileAtomicSymlinkReplaced: a symlink planted at the path is
// replaced, never followed (the target keeps its content).
func TestWriteFileAtomicSymlinkReplaced(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "out")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := fsx.WriteFileAtomic(link, []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("symlink followed: target now %q", b)
	}
	if st, _ := os.Lstat(link); st.Mode()&os.ModeSymlink != 0 {
		t.Fatal("the symlink is still there")
	}
}

// TestWriteFileAtomicFailureLeavesNothing: a missing directory fails
// with the path named, and nothing is created.
func TestWriteFileAtomicFailureLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "f")
	err := fsx.WriteFileAtomic(path, []byte("x"), 0o600)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err %v", err)
	}
}
