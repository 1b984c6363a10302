package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// caConfig is a migrated production configuration of trust domain
// example.test.
func caConfig(t *testing.T) string {
	t.Helper()
	cfgPath, _ := freshConfig(t, "ca: {trust_domain: example.test}\n")
	if code, _, errs := cli(t, "", "migrate", "--config", cfgPath); code != 0 {
		t.Fatal(errs)
	}
	return cfgPath
}

var tokenRE = regexp.MustCompile(`^rjt1\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}\n$`)

// TestCACommands walks every `rampart ca` command through the command
// tree on one store: what each prints, writes and exits with.
func TestCACommands(t *testing.T) {
	cfg := caConfig(t)
	run := func(t *testing.T, want int, args ...string) (string, string) {
		t.Helper()
		code, out, errs := cli(t, "", append(append([]string{"ca"}, args...), "--config", cfg)...)
		if code != want {
			t.Fatalf("rampart ca %s: exit %d, want %d\nstdout %s\nstderr %s", strings.Join(args, " "), code, want, out, errs)
		}
		return out, errs
	}
	t.Run("reject/list-before-init", func(t *testing.T) {
		if _, errs := run(t, 1, "list"); !strings.Contains(errs, "rampart ca init") {
			t.Fatalf("stderr %q does not say how to initialise", errs)
		}
	})
	t.Run("reject/init-other-trust-domain", func(t *testing.T) {
		if _, errs := run(t, 1, "init", "--trust-domain", "other.test"); !strings.Contains(errs, "ca.trust_domain") {
			t.Fatal(errs)
		}
	})
	t.Run("accept/init", func(t *testing.T) {
		if out, _ := run(t, 0, "init", "--trust-domain", "example.test"); !strings.Contains(out, "initialised the CA of trust domain example.test") {
			t.Fatal(out)
		}
	})
	t.Run("reject/init-twice", func(t *testing.T) {
		if _, errs := run(t, 1, "init"); !strings.Contains(errs, "already initialised") {
			t.Fatal(errs)
		}
	})
	t.Run("accept/register", func(t *testing.T) {
		out, _ := run(t, 0, "register", "--spiffe-id", "spiffe://example.test/svc/a", "--dns", "a.example.test", "--ttl", "30m", "--client-id", "svc-a")
		if !strings.Contains(out, "registered spiffe://example.test/svc/a") {
			t.Fatal(out)
		}
	})
	t.Run("accept/register-join-token-stdout", func(t *testing.T) {
		out, errs := run(t, 0, "register", "--spiffe-id", "spiffe://example.test/svc/b", "--join-token", "--token-ttl", "10m")
		if !tokenRE.MatchString(out) || !strings.Contains(errs, "works once") {
			t.Fatalf("stdout %q (want the token alone), stderr %q", out, errs)
		}
	})
	dir := t.TempDir()
	t.Run("accept/register-join-token-file", func(t *testing.T) {
		f := filepath.Join(dir, "b.token")
		out, _ := run(t, 0, "register", "--spiffe-id", "spiffe://example.test/svc/b", "--join-token", "--token-file", f)
		if out != "" {
			t.Fatalf("stdout %q, want nothing (the token is in the file)", out)
		}
		wantMode(t, f, 0o600)
		if b, _ := os.ReadFile(f); !tokenRE.Match(b) {
			t.Fatalf("token file %q", b)
		}
	})
	t.Run("accept/token-pattern", func(t *testing.T) {
		if out, _ := run(t, 0, "token", "--pattern", "spiffe://example.test/svc/*", "--ttl", "5m"); !tokenRE.MatchString(out) {
			t.Fatal(out)
		}
	})
	t.Run("accept/token-id", func(t *testing.T) {
		if out, _ := run(t, 0, "token", "--spiffe-id", "spiffe://example.test/svc/c"); !tokenRE.MatchString(out) {
			t.Fatal(out)
		}
	})
	for name, args := range map[string][]string{
		"reject/register-not-spiffe":          {"register", "--spiffe-id", "https://example.test/svc/a"},
		"reject/register-other-trust-domain":  {"register", "--spiffe-id", "spiffe://other.test/svc/a"},
		"reject/register-non-canonical":       {"register", "--spiffe-id", "spiffe://example.test/svc//a"},
		"reject/register-trust-domain-itself": {"register", "--spiffe-id", "spiffe://example.test"},
		"reject/register-reserved":            {"register", "--spiffe-id", "spiffe://example.test/rampart/ca"},
		"reject/register-bad-dns":             {"register", "--spiffe-id", "spiffe://example.test/svc/a", "--dns", "a b"},
		"reject/register-ttl-over-max":        {"register", "--spiffe-id", "spiffe://example.test/svc/a", "--ttl", "48h"},
		"reject/register-bad-client-id":       {"register", "--spiffe-id", "spiffe://example.test/svc/a", "--client-id", "a b"},
		"reject/register-client-id-taken":     {"register", "--spiffe-id", "spiffe://example.test/svc/z", "--client-id", "svc-a"},
		"reject/token-ttl-over-1h":            {"token", "--spiffe-id", "spiffe://example.test/svc/a", "--ttl", "2h"},
		"reject/token-pattern-reserved":       {"token", "--pattern", "spiffe://example.test/rampart/*"},
		"reject/token-pattern-no-star":        {"token", "--pattern", "spiffe://example.test/svc"},
		"reject/token-pattern-whole-domain":   {"token", "--pattern", "spiffe://example.test/*"},
		"reject/issue-reserved":               {"issue", "--spiffe-id", "spiffe://example.test/rampart/ca", "--out", filepath.Join(dir, "x")},
		"reject/revoke-bad-serial":            {"revoke", "--serial", "xyz"},
		"reject/unregister-unknown":           {"unregister", "--spiffe-id", "spiffe://example.test/svc/nobody"},
	} {
		t.Run(name, func(t *testing.T) {
			if out, errs := run(t, 1, args...); strings.Contains(out, "rjt1.") || errs == "" {
				t.Fatalf("stdout %q stderr %q", out, errs)
			}
		})
	}
	out := filepath.Join(dir, "svid")
	t.Run("accept/issue", func(t *testing.T) {
		if o, _ := run(t, 0, "issue", "--spiffe-id", "spiffe://example.test/svc/a", "--out", out, "--dns", "a.example.test", "--ttl", "10m"); !strings.Contains(o, "issued spiffe://example.test/svc/a") {
			t.Fatal(o)
		}
		wantMode(t, out, 0o700|os.ModeDir)
		wantMode(t, filepath.Join(out, "svid.key"), 0o600)
		for _, f := range []string{"svid.pem", "bundle.pem", "crl.pem"} {
			wantMode(t, filepath.Join(out, f), 0o644)
		}
		pair, err := tls.LoadX509KeyPair(filepath.Join(out, "svid.pem"), filepath.Join(out, "svid.key"))
		if err != nil {
			t.Fatalf("svid.pem and svid.key do not pair: %v", err)
		}
		leaf, _ := x509.ParseCertificate(pair.Certificate[0])
		roots, inters := x509.NewCertPool(), x509.NewCertPool()
		bundle, _ := os.ReadFile(filepath.Join(out, "bundle.pem"))
		roots.AppendCertsFromPEM(bundle)
		for _, der := range pair.Certificate[1:] {
			c, _ := x509.ParseCertificate(der)
			inters.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Fatalf("the SVID does not chain to the bundle: %v", err)
		}
		if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://example.test/svc/a" || leaf.NotAfter.Sub(leaf.NotBefore) > 12*time.Minute {
			t.Fatalf("leaf %v %s–%s", leaf.URIs, leaf.NotBefore, leaf.NotAfter)
		}
		crlPEM, _ := os.ReadFile(filepath.Join(out, "crl.pem"))
		if b, _ := pem.Decode(crlPEM); b == nil || b.Type != "X509 CRL" {
			t.Fatalf("crl.pem %q", crlPEM)
		}
	})
	var serial string
	t.Run("accept/list-json", func(t *testing.T) {
		o, _ := run(t, 0, "list", "--certs", "--json")
		var l struct {
			TrustDomain   string `json:"trust_domain"`
			Registrations []struct {
				SPIFFEID string `json:"spiffe_id"`
				ClientID string `json:"client_id"`
			} `json:"registrations"`
			Intermediates []struct{ State string } `json:"intermediates"`
			Certs         []struct {
				Serial    string     `json:"serial"`
				SPIFFEID  string     `json:"spiffe_id"`
				RevokedAt *time.Time `json:"revoked_at"`
			} `json:"certs"`
		}
		if err := json.Unmarshal([]byte(o), &l); err != nil {
			t.Fatal(err)
		}
		if l.TrustDomain != "example.test" || len(l.Registrations) != 2 || len(l.Intermediates) != 1 || l.Intermediates[0].State != "active" || len(l.Certs) != 1 {
			t.Fatalf("listing %s", o)
		}
		serial = l.Certs[0].Serial
	})
	t.Run("accept/revoke-serial", func(t *testing.T) {
		if o, _ := run(t, 0, "revoke", "--serial", strings.ToUpper(serial), "--reason", "key compromise"); !strings.Contains(o, "revoked 1 certificate") {
			t.Fatal(o)
		}
		if o, _ := run(t, 0, "list", "--certs", "--all"); !strings.Contains(o, serial) || strings.Count(o, "\n") < 8 {
			t.Fatal(o)
		}
	})
	t.Run("accept/revoke-id", func(t *testing.T) {
		run(t, 0, "revoke", "--spiffe-id", "spiffe://example.test/svc/b")
	})
	t.Run("accept/rotate", func(t *testing.T) {
		if o, _ := run(t, 0, "rotate"); !strings.Contains(o, "published intermediate") {
			t.Fatal(o)
		}
		if o, _ := run(t, 0, "list"); !strings.Contains(o, "published") {
			t.Fatalf("no published intermediate listed: %s", o)
		}
	})
	t.Run("accept/bundle-pem", func(t *testing.T) {
		o, _ := run(t, 0, "bundle", "--format", "pem")
		if n := strings.Count(o, "BEGIN CERTIFICATE"); n != 3 {
			t.Fatalf("%d certificates in the bundle, want the root and two intermediates:\n%s", n, o)
		}
	})
	t.Run("accept/bundle-jwks", func(t *testing.T) {
		o, _ := run(t, 0, "bundle")
		var b struct {
			Keys []struct {
				Use string   `json:"use"`
				X5C []string `json:"x5c"`
			} `json:"keys"`
		}
		if err := json.Unmarshal([]byte(o), &b); err != nil || len(b.Keys) != 3 || b.Keys[0].Use != "x509-svid" {
			t.Fatalf("%v %s", err, o)
		}
	})
	t.Run("accept/unregister", func(t *testing.T) {
		run(t, 0, "unregister", "--spiffe-id", "spiffe://example.test/svc/a")
		if o, _ := run(t, 0, "list"); strings.Contains(o, "svc/a ") {
			t.Fatal(o)
		}
	})
}

// TestCAUsageErrors: command-line mistakes exit 2 before anything opens.
func TestCAUsageErrors(t *testing.T) {
	cases := map[string][]string{
		"usage/register-no-id":            {"ca", "register"},
		"usage/register-token-ttl-alone":  {"ca", "register", "--spiffe-id", "spiffe://x/a", "--token-ttl", "1m"},
		"usage/register-token-file-alone": {"ca", "register", "--spiffe-id", "spiffe://x/a", "--token-file", "f"},
		"usage/register-bad-ttl":          {"ca", "register", "--spiffe-id", "spiffe://x/a", "--ttl", "soon"},
		"usage/token-none":                {"ca", "token"},
		"usage/token-both":                {"ca", "token", "--spiffe-id", "spiffe://x/a", "--pattern", "spiffe://x/a/*"},
		"usage/unregister-no-id":          {"ca", "unregister"},
		"usage/issue-no-out":              {"ca", "issue", "--spiffe-id", "spiffe://x/a"},
		"usage/revoke-none":               {"ca", "revoke"},
		"usage/revoke-both":               {"ca", "revoke", "--spiffe-id", "spiffe://x/a", "--serial", "01"},
		"usage/list-all-alone":            {"ca", "list", "--all"},
		"usage/bundle-der":                {"ca", "bundle", "--format", "der"},
		"usage/init-cert-without-import":  {"ca", "init", "--cert", "c.pem", "--key", "k.pem"},
		"usage/init-import-without-key":   {"ca", "init", "--import", "--cert", "c.pem"},
		"usage/unknown-flag":              {"ca", "list", "--bogus"},
		"usage/extra-argument":            {"ca", "rotate", "now"},
		"usage/unknown-subcommand":        {"ca", "destroy"},
		"usage/no-subcommand":             {"ca"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			if code, out, errs := cli(t, "", args...); code != 2 {
				t.Fatalf("exit %d, want 2\nstdout %s\nstderr %s", code, out, errs)
			}
		})
	}
}

// TestCAInitImport: an imported root becomes the CA's root; a key that
// does not match its certificate, or a certificate that is not a CA, is
// refused (exit 1) and leaves the store uninitialised.
func TestCAInitImport(t *testing.T) {
	dir := t.TempDir()
	mk := func(isCA bool) (certPEM, keyPEM []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "imported root"}, IsCA: isCA, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(5 * 365 * 24 * time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		p8, _ := x509.MarshalPKCS8PrivateKey(key)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})
	}
	goodCert, goodKey := mk(true)
	_, otherKey := mk(true)
	leafCert, leafKey := mk(false)
	files := map[string][]byte{"good.pem": goodCert, "good.key": goodKey, "other.key": otherKey, "leaf.pem": leafCert, "leaf.key": leafKey}
	for n, b := range files {
		writeFile(t, dir, n, string(b))
	}
	cfg := caConfig(t)
	for _, tc := range []struct{ name, cert, key string }{
		{"reject/key-not-matching", "good.pem", "other.key"},
		{"reject/not-a-ca", "leaf.pem", "leaf.key"},
		{"reject/missing-file", "good.pem", "nope.key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, errs := cli(t, "", "ca", "init", "--import", "--cert", filepath.Join(dir, tc.cert), "--key", filepath.Join(dir, tc.key), "--config", cfg); code != 1 {
				t.Fatalf("exit %d: %s", code, errs)
			}
		})
	}
	t.Run("accept/import", func(t *testing.T) {
		if code, out, errs := cli(t, "", "ca", "init", "--import", "--cert", filepath.Join(dir, "good.pem"), "--key", filepath.Join(dir, "good.key"), "--config", cfg); code != 0 || !strings.Contains(out, "imported root") {
			t.Fatalf("exit %d: %s %s", code, out, errs)
		}
		code, out, _ := cli(t, "", "ca", "bundle", "--format", "pem", "--config", cfg)
		b, _ := pem.Decode([]byte(out))
		if code != 0 || b == nil || string(pem.EncodeToMemory(b)) != string(goodCert) {
			t.Fatalf("the bundle does not start with the imported root: %s", out)
		}
	})
}

func wantMode(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != mode {
		t.Fatalf("%s has mode %v, want %v", path, fi.Mode(), mode)
	}
}
