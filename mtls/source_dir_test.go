package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// writeAtomic writes b to dir/name as the agent does: a temp file, then a
// rename; the mtime is bumped so coarse timestamps still differ.
func writeAtomic(t testing.TB, dir, name string, b []byte, bumpBy int) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Add(time.Duration(bumpBy) * time.Second)
	if err := os.Chtimes(tmp, ts, ts); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// writeAgentDir writes the four agent files (crl omitted when nil).
func writeAgentDir(t testing.TB, dir string, cert *tls.Certificate, bundle []*x509.Certificate, rl *x509.RevocationList) {
	t.Helper()
	writeAtomic(t, dir, dirKeyFile, keyPEM(t, cert), 0)
	writeAtomic(t, dir, dirSVIDFile, chainPEM(cert), 0)
	writeAtomic(t, dir, dirBundleFile, certsPEM(bundle...), 0)
	if rl != nil {
		writeAtomic(t, dir, dirCRLFile, crlPEM(rl), 0)
	}
}

func TestNewDirSourceValidation(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	good := ca.leaf(t, leafSpec{})
	now := time.Now()
	cases := []struct {
		name    string
		setup   func(dir string)
		wantErr string
	}{
		{"accept/all-files", func(dir string) { writeAgentDir(t, dir, good, ca.bundle(), ca.crl(t, time.Hour)) }, ""},
		{"accept/no-crl", func(dir string) { writeAgentDir(t, dir, good, ca.bundle(), nil) }, ""},
		{"accept/forged-crl-ignored", func(dir string) {
			writeAgentDir(t, dir, good, ca.bundle(), nil)
			other := newTestCA(t, "example.test", true)
			writeAtomic(t, dir, dirCRLFile, crlPEM(other.crl(t, time.Hour, good.Leaf.SerialNumber)), 0)
		}, ""},
		{"reject/empty-dir", func(string) {}, "svid.pem"},
		{"reject/no-bundle", func(dir string) {
			writeAgentDir(t, dir, good, ca.bundle(), nil)
			os.Remove(filepath.Join(dir, dirBundleFile))
		}, "bundle.pem"},
		{"reject/key-mismatch", func(dir string) {
			writeAgentDir(t, dir, good, ca.bundle(), nil)
			writeAtomic(t, dir, dirKeyFile, keyPEM(t, ca.leaf(t, leafSpec{})), 0)
		}, "private key does not match"},
		{"reject/expired-svid", func(dir string) {
			writeAgentDir(t, dir, ca.leaf(t, leafSpec{nb: now.Add(-2 * time.Hour), na: now.Add(-time.Hour)}), ca.bundle(), nil)
		}, "expired"},
		{"reject/not-an-svid", func(dir string) { writeAgentDir(t, dir, ca.leaf(t, leafSpec{noSAN: true}), ca.bundle(), nil) }, "exactly one URI SAN"},
		{"reject/bundle-not-ca", func(dir string) {
			writeAgentDir(t, dir, good, ca.bundle(), nil)
			writeAtomic(t, dir, dirBundleFile, certsPEM(good.Leaf), 0)
		}, "not a CA"},
		{"reject/bundle-garbage", func(dir string) {
			writeAgentDir(t, dir, good, ca.bundle(), nil)
			writeAtomic(t, dir, dirBundleFile, []byte("junk"), 0)
		}, "no certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(dir)
			src, err := NewDirSource(dir, WithLogger(jsonLogger(&logBuf{}, slog.LevelError)))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c, err := src.SVID()
			if err != nil || !c.Leaf.Equal(good.Leaf) {
				t.Fatalf("SVID = %v, %v", c, err)
			}
			if _, ok := src.X509Authorities(ca.td); !ok {
				t.Fatal("no bundle")
			}
			if src.IsRevoked(ca.td, good.Leaf) {
				t.Fatal("revoked")
			}
		})
	}
}

// TestDirSourceReload: changed files are picked up at the next look after
// the interval; a half-written renewal and a bad bundle keep the previous
// state; a forged or older CRL is ignored and logged; a newer one applies.
func TestDirSourceReload(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	first := ca.leaf(t, leafSpec{})
	dir := t.TempDir()
	writeAgentDir(t, dir, first, ca.bundle(), ca.crl(t, time.Hour))
	clock := testkit.NewClock(time.Now())
	logs := &logBuf{}
	src, err := NewDirSource(dir, WithClock(clock.Now), WithLogger(jsonLogger(logs, slog.LevelInfo)))
	if err != nil {
		t.Fatal(err)
	}
	current := func() *x509.Certificate {
		t.Helper()
		c, err := src.SVID()
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf
	}
	tick := func() { clock.Add(DefaultDirReloadInterval) }

	// A renewal caught between the key and the certificate: new key, old
	// certificate. Kept, logged once, retried.
	second := ca.leaf(t, leafSpec{})
	writeAtomic(t, dir, dirKeyFile, keyPEM(t, second), 1)
	tick()
	if !current().Equal(first.Leaf) {
		t.Fatal("half-written renewal served")
	}
	tick()
	current()
	if n := strings.Count(logs.String(), "do not load"); n != 1 {
		t.Fatalf("failure logged %d times, want once", n)
	}
	// The certificate arrives, but before the interval: not yet seen.
	writeAtomic(t, dir, dirSVIDFile, chainPEM(second), 2)
	if !current().Equal(first.Leaf) {
		t.Fatal("files looked at before the interval")
	}
	tick()
	if !current().Equal(second.Leaf) {
		t.Fatal("renewal not picked up")
	}

	// A bad bundle keeps the previous one.
	writeAtomic(t, dir, dirBundleFile, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 3)
	tick()
	if a, ok := src.X509Authorities(ca.td); !ok || len(a) != 2 {
		t.Fatal("bad bundle replaced the good one")
	}

	// A forged CRL is ignored and logged.
	forger := newTestCA(t, "example.test", true)
	writeAtomic(t, dir, dirCRLFile, crlPEM(forger.crl(t, time.Hour, second.Leaf.SerialNumber)), 4)
	tick()
	if src.IsRevoked(ca.td, second.Leaf) {
		t.Fatal("reject/forged-crl: applied")
	}
	if !strings.Contains(logs.String(), "does not verify against the trust bundle") {
		t.Error("forged CRL not logged")
	}
	// A newer real CRL applies.
	newer := ca.crl(t, time.Hour, second.Leaf.SerialNumber)
	writeAtomic(t, dir, dirCRLFile, crlPEM(newer), 5)
	tick()
	if !src.IsRevoked(ca.td, second.Leaf) {
		t.Fatal("newer CRL not applied")
	}
	// The agent rewrites the same CRL with every renewal: not an error.
	failures := strings.Count(logs.String(), "reload failed")
	writeAtomic(t, dir, dirCRLFile, crlPEM(newer), 6)
	tick()
	src.IsRevoked(ca.td, second.Leaf)
	if strings.Count(logs.String(), "reload failed") != failures {
		t.Error("the same CRL rewritten was logged as a failure")
	}
	// reject/older-crl-replay: an older CRL (without the serial) is ignored.
	writeAtomic(t, dir, dirCRLFile, crlPEM(ca.crlWith(t, ca.root, ca.rootKey, 1, time.Now().Add(time.Hour))), 7)
	tick()
	if !src.IsRevoked(ca.td, second.Leaf) {
		t.Fatal("older CRL un-revoked the leaf")
	}
	if !strings.Contains(logs.String(), "replayed CRL") {
		t.Error("older CRL not logged")
	}

	// Stale: past nextUpdate the CRL is still applied, reported and warned.
	if src.Stale() {
		t.Fatal("fresh CRL reported stale")
	}
	clock.Add(2 * time.Hour)
	if !src.Stale() || !src.IsRevoked(ca.td, second.Leaf) {
		t.Fatal("stale CRL not reported or not applied")
	}
	if !strings.Contains(logs.String(), "past its nextUpdate") {
		t.Error("staleness not logged")
	}
}

// TestDirSourceRequireFreshCRL: fail closed while the CRL is missing or
// stale.
func TestDirSourceRequireFreshCRL(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	leaf := ca.leaf(t, leafSpec{})
	dir := t.TempDir()
	writeAgentDir(t, dir, leaf, ca.bundle(), nil)
	clock := testkit.NewClock(time.Now())
	src, err := NewDirSource(dir, WithClock(clock.Now), WithRequireFreshCRL(), WithLogger(jsonLogger(&logBuf{}, slog.LevelError)))
	if err != nil {
		t.Fatal(err)
	}
	if !src.IsRevoked(ca.td, leaf.Leaf) {
		t.Fatal("reject/no-crl-required: accepted without a CRL")
	}
	writeAtomic(t, dir, dirCRLFile, crlPEM(ca.crl(t, 10*time.Minute)), 1)
	clock.Add(DefaultDirReloadInterval)
	if src.IsRevoked(ca.td, leaf.Leaf) {
		t.Fatal("fresh CRL: refused")
	}
	clock.Add(11 * time.Minute)
	if !src.IsRevoked(ca.td, leaf.Leaf) {
		t.Fatal("reject/stale-crl-required: accepted with a stale CRL")
	}
	if _, _, err := verifyCerts([]*x509.Certificate{leaf.Leaf, ca.inter}, src, src, clock.Now(), x509.ExtKeyUsageAny); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Fatalf("verify with stale CRL: %v", err)
	}
}

// TestDirSourceHandshakeRotation: a server on a DirSource serves the
// renewed files from the next handshake on; open connections stay.
func TestDirSourceHandshakeRotation(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	dir := t.TempDir()
	first := ca.leaf(t, leafSpec{path: "/svc/server"})
	writeAgentDir(t, dir, first, ca.bundle(), ca.crl(t, time.Hour))
	src, err := NewDirSource(dir, WithReloadInterval(0), WithLogger(jsonLogger(&logBuf{}, slog.LevelError)))
	if err != nil {
		t.Fatal(err)
	}
	srv := startEcho(t, SPIFFEServerConfig(src, AuthorizeMemberOf(ca.td)))
	client := ca.leaf(t, leafSpec{path: "/svc/client"})
	cfg := SPIFFEClientConfig(NewStaticSource(client, ca.bundles()), AuthorizeMemberOf(ca.td))
	open, err := dial(t, srv.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	second := ca.leaf(t, leafSpec{path: "/svc/server"})
	writeAgentDir(t, dir, second, ca.bundle(), ca.crl(t, time.Hour, client.Leaf.SerialNumber))
	bump(t, filepath.Join(dir, dirSVIDFile), 2)
	bump(t, filepath.Join(dir, dirCRLFile), 2)
	if _, err := dial(t, srv.addr, cfg); err == nil {
		t.Fatal("revoked client connected after the CRL file changed")
	}
	other := SPIFFEClientConfig(NewStaticSource(ca.leaf(t, leafSpec{path: "/svc/other"}), ca.bundles()), AuthorizeMemberOf(ca.td))
	c, err := dial(t, srv.addr, other)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ConnectionState().PeerCertificates[0].Equal(second.Leaf) {
		t.Fatal("renewed server SVID not served")
	}
	if _, err := open.echo("still"); err != nil {
		t.Fatalf("open connection dropped: %v", err)
	}
}

// TestDirSourceConcurrent: handshake-time reads while the files change,
// under -race.
func TestDirSourceConcurrent(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	dir := t.TempDir()
	writeAgentDir(t, dir, ca.leaf(t, leafSpec{}), ca.bundle(), ca.crl(t, time.Hour))
	src, err := NewDirSource(dir, WithReloadInterval(0), WithLogger(jsonLogger(&logBuf{}, slog.LevelError+4)))
	if err != nil {
		t.Fatal(err)
	}
	leaves := []*tls.Certificate{ca.leaf(t, leafSpec{}), ca.leaf(t, leafSpec{})}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := src.SVID(); err != nil {
					t.Error(err)
					return
				}
				src.X509Authorities(ca.td)
				src.IsRevoked(ca.td, leaves[0].Leaf)
			}
		}()
	}
	for i := range 20 {
		writeAgentDir(t, dir, leaves[i%2], ca.bundle(), ca.crl(t, time.Hour))
	}
	close(stop)
	wg.Wait()
}
