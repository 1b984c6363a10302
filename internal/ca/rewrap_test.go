package ca

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-auth/rampart/internal/kms"
)

// TestRewrapCAKeyRecovery: a rotation that committed but crashed before
// the rename leaves ca.key.sealed.next; the next start with the new key
// moves it into place. A .next the current key cannot open (a rotation
// that never committed) is ignored and the CA loads as before.
func TestRewrapCAKeyRecovery(t *testing.T) {
	dir := t.TempDir()
	oldK, newK := testMasterKey(t), otherMasterKey(t)
	if _, err := AutoTLS(AutoTLSOptions{Dir: dir, Sealer: oldK}); err != nil {
		t.Fatal(err)
	}
	p, err := RewrapCAKey(dir)(oldK, newK)
	if err != nil || p.Finish == nil {
		t.Fatalf("rewrap: %v", err)
	}
	next := filepath.Join(dir, caKeyFile+nextSuffix)
	if st, err := os.Stat(next); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v", next, st, err)
	}
	// Uncommitted: the old key still loads the CA; the .next is left alone.
	if _, err := AutoTLS(AutoTLSOptions{Dir: dir, Sealer: oldK}); err != nil {
		t.Fatalf("old key with a stray .next: %v", err)
	}
	// Committed, crash before the rename: the new key recovers.
	if _, err := AutoTLS(AutoTLSOptions{Dir: dir, Sealer: newK}); err != nil {
		t.Fatalf("recovery: %v", err)
	}
	if _, err := os.Stat(next); !os.IsNotExist(err) {
		t.Fatalf(".next not moved into place: %v", err)
	}
	if _, err := AutoTLS(AutoTLSOptions{Dir: dir, Sealer: oldK}); err == nil {
		t.Fatal("the old key still opens the recovered CA key")
	}
	// No CA: nothing to do.
	if p, err := RewrapCAKey(t.TempDir())(oldK, newK); err != nil || p.Finish != nil {
		t.Fatalf("no CA: %v", err)
	}
	var _ kms.FileRewrap = RewrapCAKey(dir)
}
