package ca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/testkit"
)

// operatorRoot makes a PEM root certificate and key, edited by mod.
func operatorRoot(t testing.TB, key crypto.Signer, now time.Time, mod func(*x509.Certificate)) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Corp root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	if mod != nil {
		mod(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func keyPEM(t testing.TB, k crypto.Signer) []byte {
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b})
}

// TestImportRoot: a good operator root (P-384) is used; a non-CA, a key
// that does not match, an RSA root, constraints excluding the trust
// domain and an expired root are refused with a clear error.
func TestImportRoot(t *testing.T) {
	now := time.Now()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	t.Run("accept/p384-root", func(t *testing.T) {
		e := uninitEnv(t, "sqlite")
		certPEM := operatorRoot(t, p384, now, func(c *x509.Certificate) { c.PermittedURIDomains = []string{"example.test"} })
		a, err := ca.Init(context.Background(), e.opts, &ca.ImportedRoot{CertPEM: certPEM, KeyPEM: keyPEM(t, p384)})
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(certPEM)
		if !bytes0(a.Root().Raw, blk.Bytes) {
			t.Fatal("the root is not the imported certificate")
		}
		e.a = a
		s, _ := e.enrol("spiffe://example.test/svc/a")
		leaf := chainOf(t, s)
		if _, err := leaf[0].Verify(x509.VerifyOptions{Roots: pool(a.Root()), Intermediates: pool(leaf[1]), CurrentTime: e.clock.Now()}); err != nil {
			t.Fatalf("SVID does not chain to the imported root: %v", err)
		}
		// The imported root's key opens again from the store.
		if _, err := ca.Open(context.Background(), e.opts); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name string
		cert []byte
		key  []byte
		want string
	}{
		{"reject/not-a-ca", operatorRoot(t, p384, now, func(c *x509.Certificate) { c.IsCA = false; c.KeyUsage = x509.KeyUsageDigitalSignature }), keyPEM(t, p384), "not a CA"},
		{"reject/key-not-matching", operatorRoot(t, p384, now, nil), keyPEM(t, other), "does not match"},
		{"reject/rsa-root", operatorRoot(t, rsaKey, now, nil), keyPEM(t, rsaKey), "P-256 or P-384"},
		{"reject/constraints-other-domain", operatorRoot(t, p384, now, func(c *x509.Certificate) { c.PermittedURIDomains = []string{"corp.test"} }), keyPEM(t, p384), "name constraints"},
		{"reject/constraints-exclude-td", operatorRoot(t, p384, now, func(c *x509.Certificate) { c.ExcludedURIDomains = []string{"example.test"} }), keyPEM(t, p384), "exclude"},
		{"reject/expired", operatorRoot(t, p384, now, func(c *x509.Certificate) { c.NotBefore, c.NotAfter = now.Add(-48*time.Hour), now.Add(-time.Hour) }), keyPEM(t, p384), "not valid now"},
		{"reject/no-cert-sign", operatorRoot(t, p384, now, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageCRLSign }), keyPEM(t, p384), "certificate signing"},
		{"reject/garbage", []byte("junk"), keyPEM(t, p384), "PEM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := uninitEnv(t, "sqlite")
			_, err := ca.Init(context.Background(), e.opts, &ca.ImportedRoot{CertPEM: tc.cert, KeyPEM: tc.key})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one mentioning %q", err, tc.want)
			}
			if h, _ := e.st.CA().LoadHierarchy(context.Background()); h.TrustDomain != "" {
				t.Fatal("a refused import left a CA in the store")
			}
		})
	}
}

func bytes0(a, b []byte) bool { return string(a) == string(b) }

// TestInitRaceAndReopen: of two concurrent Inits one gets ErrExists; Open
// before Init is ErrNotInitialized; another trust domain is refused;
// OpenOrInit opens what exists.
func TestInitRaceAndReopen(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := uninitEnv(t, driver)
		ctx := context.Background()
		if _, err := ca.Open(ctx, e.opts); !errors.Is(err, ca.ErrNotInitialized) {
			t.Fatalf("Open before Init: %v", err)
		}
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = ca.Init(ctx, e.opts, nil) }()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) || !(errors.Is(errs[0], ca.ErrExists) || errors.Is(errs[1], ca.ErrExists)) {
			t.Fatalf("concurrent Init: %v, %v; want one success and one ErrExists", errs[0], errs[1])
		}
		a, created, err := ca.OpenOrInit(ctx, e.opts)
		if err != nil || created || a == nil {
			t.Fatalf("OpenOrInit on an initialised store: %v created=%v", err, created)
		}
		o := e.opts
		o.TrustDomain = spiffeid.RequireTrustDomainFromString("other.test")
		if _, err := ca.Open(ctx, o); err == nil || !strings.Contains(err.Error(), `"example.test"`) {
			t.Fatalf("Open with another trust domain: %v", err)
		}
	})
}

// TestSealedKeys: the CA keys are sealed in the store; a tampered or moved
// sealed key is refused with a clear error, and another master key does
// not open them.
func TestSealedKeys(t *testing.T) {
	ctx := context.Background()
	t.Run("reject/tampered", func(t *testing.T) {
		e := newEnv(t, "sqlite")
		var id string
		var sealed []byte
		if err := e.st.SQL().QueryRow(`SELECT id, key_sealed FROM ca_authorities WHERE kind = 'intermediate'`).Scan(&id, &sealed); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(sealed), "PRIVATE") || len(sealed) < 100 {
			t.Fatal("the key does not look sealed")
		}
		sealed[len(sealed)-1] ^= 1
		if _, err := e.st.SQL().Exec(`UPDATE ca_authorities SET key_sealed = ? WHERE id = ?`, sealed, id); err != nil {
			t.Fatal(err)
		}
		_, err := ca.Open(ctx, e.opts)
		if err == nil || !strings.Contains(err.Error(), "does not open") || !strings.Contains(err.Error(), id) {
			t.Fatalf("Open with a tampered key: %v", err)
		}
	})
	t.Run("reject/moved-to-another-row", func(t *testing.T) {
		e := newEnv(t, "sqlite")
		if _, err := e.st.SQL().Exec(`UPDATE ca_authorities SET key_sealed = (SELECT key_sealed FROM ca_authorities WHERE kind = 'root') WHERE kind = 'intermediate'`); err != nil {
			t.Fatal(err)
		}
		if _, err := ca.Open(ctx, e.opts); err == nil || !strings.Contains(err.Error(), "does not open") {
			t.Fatalf("Open with a key moved between rows: %v", err)
		}
	})
	t.Run("reject/other-master-key", func(t *testing.T) {
		e := newEnv(t, "sqlite")
		mk, _ := kms.NewMasterKey(testkit.OtherMasterKey())
		kek, _ := kms.NewKEK(mk, 1)
		o := e.opts
		o.Sealer = kek
		if _, err := ca.Open(ctx, o); err == nil || !strings.Contains(err.Error(), "does not open") {
			t.Fatalf("Open with another master key: %v", err)
		}
	})
}

// TestMasterKeyRotationRewrapsCAKeys: `rampart master-key rotate` re-wraps
// the CA keys in the same transaction: the CA opens with the new key, not
// with the old.
func TestMasterKeyRotationRewrapsCAKeys(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		if _, err := e.a.Rotate(ctx, "cli:test"); err != nil { // three CA keys
			t.Fatal(err)
		}
		stale := e.peer() // a node that keeps running with the old key
		var before []byte
		_ = e.st.SQL().QueryRow(`SELECT key_sealed FROM ca_authorities WHERE kind = 'root'`).Scan(&before)
		next, _ := kms.NewMasterKey(testkit.OtherMasterKey())
		nkr, err := kms.Rotate(ctx, e.kr, next, kms.RotateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var after []byte
		_ = e.st.SQL().QueryRow(`SELECT key_sealed FROM ca_authorities WHERE kind = 'root'`).Scan(&after)
		if bytes0(before, after) || kms.CiphertextVersion(after) != 2 {
			t.Fatalf("root key not re-wrapped (version %d)", kms.CiphertextVersion(after))
		}
		o := e.opts
		o.Sealer = nkr
		a, err := ca.Open(ctx, o)
		if err != nil {
			t.Fatalf("Open with the new master key: %v", err)
		}
		if len(a.Intermediates()) != 2 {
			t.Fatal("intermediates lost")
		}
		e.a = a
		e.enrol("spiffe://example.test/svc/a")
		o.Sealer = e.kr
		if _, err := ca.Open(ctx, o); err == nil {
			t.Fatal("the old master key still opens the CA keys")
		}
		// A node still holding the old key cannot add a CA key the others
		// could not open.
		if _, err := stale.Rotate(ctx, "cli:test"); err == nil || !strings.Contains(err.Error(), "key version") {
			t.Fatalf("a CA key sealed under the retired key version: %v", err)
		}
	})
}
