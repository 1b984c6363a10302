package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/caapi"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
)

func TestWriteCAFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	path := filepath.Join(dir, "ca.pem")
	root := func(n int64) *x509.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: "r"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
		der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		c, _ := x509.ParseCertificate(der)
		return c
	}
	a, b := root(1), root(2)
	for _, tc := range []struct {
		name  string
		root  *x509.Certificate
		wrote bool
	}{{"accept/first-write", a, true}, {"accept/unchanged-not-rewritten", a, false}, {"accept/new-root-replaces", b, true}} {
		t.Run(tc.name, func(t *testing.T) {
			wrote, err := WriteCAFile(path, tc.root)
			if err != nil || wrote != tc.wrote {
				t.Fatalf("wrote %v, %v; want %v", wrote, err, tc.wrote)
			}
			got, _ := os.ReadFile(path)
			if blk, _ := pem.Decode(got); blk == nil || !bytes.Equal(blk.Bytes, tc.root.Raw) {
				t.Fatal("ca.pem does not hold the root")
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
				t.Fatalf("mode %v, want 0644", fi.Mode().Perm())
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Fatalf("temporary files left: %v", ents)
			}
		})
	}
}

const caTestSecret = "a-client-secret-of-at-least-32-characters-ca"

// TestServeCA: serve creates the CA, auto-TLS presents a certificate that
// chains to <data_dir>/tls/ca.pem, the main listener serves the bundle and
// the CRL but not enrolment, and the enrolment listener issues with a
// join token, with OAuth client credentials and renews over mTLS.
func TestServeCA(t *testing.T) {
	t.Setenv("RAMPART_TEST_CA_SECRET", caTestSecret)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	testkit.WriteFile(t, keyFile, []byte(testkit.MasterKeyBase64+"\n"))
	cfgPath := filepath.Join(dir, "rampart.yaml")
	testkit.WriteFile(t, cfgPath, []byte(fmt.Sprintf(`issuer: https://127.0.0.1:0
data_dir: %s
master_key_file: %s
http: {listen: '127.0.0.1:0', tls: {mode: auto}}
log: {level: warn}
clients:
  - {id: svc, secret_env: RAMPART_TEST_CA_SECRET, grant_types: [client_credentials]}
ca: {trust_domain: example.test, listen: '127.0.0.1:0'}
`, filepath.Join(dir, "data"), keyFile)))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var banner bytes.Buffer
	addrs := startServe(t, cfg, &banner)
	caPEM, err := os.ReadFile(filepath.Join(dir, "data", "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	client := func(cert *tls.Certificate) *http.Client {
		tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	}
	main, enrol := "https://"+addrs["main"].String(), "https://"+addrs["ca"].String()
	if !strings.Contains(banner.String(), enrol+caapi.PathSVID) {
		t.Fatalf("the banner does not name the enrolment URL:\n%s", banner.String())
	}

	t.Run("accept/main-listener-bundle-and-crl", func(t *testing.T) {
		for path, ct := range map[string]string{caapi.PathBundle: "application/json", caapi.PathBundle + "?format=pem": "application/x-pem-file", caapi.PathCRL: "application/pkix-crl"} {
			resp, err := client(nil).Get(main + path)
			if err != nil {
				t.Fatalf("%s over auto-TLS trusting ca.pem: %v", path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ct {
				t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
	})
	t.Run("reject/no-enrolment-on-main-listener", func(t *testing.T) {
		resp, err := client(nil).Post(main+caapi.PathSVID, "application/json", strings.NewReader(`{"csr":""}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("POST %s on the main listener: %d", caapi.PathSVID, resp.StatusCode)
		}
	})

	// The operator registers workloads with the CLI, beside the server.
	ctx := context.Background()
	cli, err := OpenCLI(ctx, cfg, OSEnv(), CLINeeds{CA: true}, "cli:test", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RegisterWorkload(ctx, cli.CA, admin.CARegistration{SPIFFEID: "spiffe://example.test/svc/billing", ClientID: "svc"}, "cli:test"); err != nil {
		t.Fatal(err)
	}
	tok, _, err := admin.CreateJoinToken(ctx, cli.CA, admin.CAJoinToken{Pattern: "spiffe://example.test/jobs/*"}, "cli:test")
	if err != nil {
		t.Fatal(err)
	}
	cli.Close(ctx)

	post := func(hc *http.Client, id string, auth func(*http.Request)) (int, map[string]string, *ecdsa.PrivateKey) {
		t.Helper()
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.CertificateRequest{}
		if id != "" {
			tmpl.URIs = append(tmpl.URIs, mustURL(t, id))
		}
		der, _ := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
		body, _ := json.Marshal(map[string]string{"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
		req, _ := http.NewRequest(http.MethodPost, enrol+caapi.PathSVID, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != nil {
			auth(req)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, out, key
	}
	var svid *tls.Certificate
	t.Run("accept/client-credentials", func(t *testing.T) {
		st, out, key := post(client(nil), "", func(r *http.Request) { r.SetBasicAuth("svc", caTestSecret) })
		if st != 200 || out["spiffe_id"] != "spiffe://example.test/svc/billing" {
			t.Fatalf("%d %v", st, out)
		}
		svid = pairOf(t, out["svid"], key)
	})
	t.Run("reject/client-wrong-secret", func(t *testing.T) {
		if st, _, _ := post(client(nil), "", func(r *http.Request) { r.SetBasicAuth("svc", "wrong-secret-of-at-least-32-characters!!") }); st != 401 {
			t.Fatalf("status %d", st)
		}
	})
	t.Run("accept/join-token-pattern", func(t *testing.T) {
		st, out, _ := post(client(nil), "spiffe://example.test/jobs/nightly", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) })
		if st != 200 || out["spiffe_id"] != "spiffe://example.test/jobs/nightly" {
			t.Fatalf("%d %v", st, out)
		}
	})
	t.Run("accept/renewal-over-mtls", func(t *testing.T) {
		if svid == nil {
			t.Skip("no SVID")
		}
		st, out, _ := post(client(svid), "", nil)
		if st != 200 || out["spiffe_id"] != "spiffe://example.test/svc/billing" {
			t.Fatalf("%d %v", st, out)
		}
	})
	t.Run("accept/enrolment-certificate", func(t *testing.T) {
		resp, err := client(nil).Get(enrol + caapi.PathBundle)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		leaf := resp.TLS.PeerCertificates[0]
		if resp.TLS.Version != tls.VersionTLS13 || len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://example.test/rampart/ca" {
			t.Fatalf("TLS %x, URIs %v", resp.TLS.Version, leaf.URIs)
		}
	})
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func pairOf(t *testing.T, chainPEM string, key *ecdsa.PrivateKey) *tls.Certificate {
	t.Helper()
	c := &tls.Certificate{PrivateKey: key}
	rest := []byte(chainPEM)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c.Certificate = append(c.Certificate, b.Bytes)
	}
	return c
}

// TestServeDevCA: dev mode runs the enrolment listener (on a port the OS
// picks when the main listener's is picked), trusted through ca.pem, and
// the banner says how to enrol a workload against it.
func TestServeDevCA(t *testing.T) {
	cfg := &config.Config{Dev: true, DataDir: t.TempDir(), HTTP: config.HTTP{Listen: "127.0.0.1:0"}}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.CA.Listen != "127.0.0.1:0" || cfg.CA.TrustDomain != "localhost" {
		t.Fatalf("dev ca %+v", cfg.CA)
	}
	out := &testkit.SyncBuffer{}
	addrs := startServe(t, cfg, out)
	enrol := "https://" + addrs["ca"].String()
	for _, want := range []string{"rampart ca register --spiffe-id spiffe://localhost/svc/demo --join-token --token-file demo.token",
		"rampart agent --server " + enrol + " --join-token-file demo.token"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("the dev banner lacks %q:\n%s", want, out.String())
		}
	}
	caPEM, err := os.ReadFile(filepath.Join(cfg.DataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}}, Timeout: 10 * time.Second}
	resp, err := hc.Get(enrol + caapi.PathCRL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("CRL on the dev enrolment listener: %d", resp.StatusCode)
	}
}
