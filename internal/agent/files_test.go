package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// TestWriteAtomicNeverPartial: a reader racing the writer sees the old or
// the new content, never a mixture or a truncated file, and no temporary
// file survives.
func TestWriteAtomicNeverPartial(t *testing.T) {
	dir := t.TempDir()
	a, b := bytes.Repeat([]byte("a"), 256<<10), bytes.Repeat([]byte("b"), 200<<10)
	if err := writeAtomic(dir, "f", a, 0o644); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var bad atomic.Int32
	wg.Go(func() {
		for !stop.Load() {
			got, err := os.ReadFile(filepath.Join(dir, "f"))
			if err != nil || (!bytes.Equal(got, a) && !bytes.Equal(got, b)) {
				bad.Add(1)
			}
		}
	})
	for i := range 50 {
		data := a
		if i%2 == 0 {
			data = b
		}
		if err := writeAtomic(dir, "f", data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d reads saw a partial or missing file", bad.Load())
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("directory holds %v (%v), want only f", ents, err)
	}
}

func TestWriteAtomicModes(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		mode os.FileMode
	}{{"key", 0o600}, {"public", 0o644}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := writeAtomic(dir, tc.name, []byte("x"), tc.mode); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(filepath.Join(dir, tc.name))
			if err != nil || st.Mode().Perm() != tc.mode {
				t.Fatalf("mode %v %v, want %v", st.Mode().Perm(), err, tc.mode)
			}
		})
	}
}

// TestWriteOrder: on renewal svid.key is replaced first, then svid.pem,
// then bundle.pem and crl.pem (contract.md).
func TestWriteOrder(t *testing.T) {
	ca := newFakeCA(t, testTD)
	s := issuedSVID(t, ca)
	dir := t.TempDir()
	if err := writeSVIDFiles(dir, s); err != nil {
		t.Fatal(err)
	}
	var mtimes []time.Time
	for _, name := range []string{fileKey, fileSVID, fileBundle, fileCRL} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		mtimes = append(mtimes, st.ModTime())
	}
	for i := 1; i < len(mtimes); i++ {
		if mtimes[i].Before(mtimes[i-1]) {
			t.Fatalf("file %d written before file %d", i, i-1)
		}
	}
}

func TestPrepareOutDir(t *testing.T) {
	base := t.TempDir()
	t.Run("ok/created-0700", func(t *testing.T) {
		d := filepath.Join(base, "new", "out")
		if err := prepareOutDir(d); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(d); st.Mode().Perm() != 0o700 {
			t.Fatalf("mode %v", st.Mode().Perm())
		}
	})
	t.Run("reject/group-writable", func(t *testing.T) {
		d := filepath.Join(base, "wide")
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o770); err != nil {
			t.Fatal(err)
		}
		if err := prepareOutDir(d); err == nil || !strings.Contains(err.Error(), "writable by group") {
			t.Fatalf("prepareOutDir on 0770: %v", err)
		}
	})
	t.Run("reject/file", func(t *testing.T) {
		p := filepath.Join(base, "file")
		testkit.WriteFile(t, p, []byte("x"))
		if err := prepareOutDir(p); err == nil {
			t.Fatal("a file accepted as out dir")
		}
	})
}

// TestLoadSVIDFilesRefusesMismatch: a key that does not match the
// certificate (a renewal caught half-written, or tampering) is not loaded.
func TestLoadSVIDFilesRefusesMismatch(t *testing.T) {
	ca := newFakeCA(t, testTD)
	s1, s2 := issuedSVID(t, ca), issuedSVID(t, ca)
	dir := t.TempDir()
	if err := writeSVIDFiles(dir, s1); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(dir, fileKey, s2.keyPEM, modeKey); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSVIDFiles(dir, time.Now()); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched key loaded: %v", err)
	}
	if _, err := loadSVIDFiles(t.TempDir(), time.Now()); err != errNoSVID {
		t.Fatalf("empty dir: %v", err)
	}
	// Another trust domain's bundle: the SVID does not verify.
	other := newFakeCA(t, testTD)
	if err := writeSVIDFiles(dir, s1); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(dir, fileBundle, other.bundlePEM(), modePublic); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSVIDFiles(dir, time.Now()); err == nil {
		t.Fatal("an SVID that does not verify to the bundle was loaded")
	}
}
