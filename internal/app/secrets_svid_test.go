package app

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/caapi"
	"github.com/rampart-auth/rampart/internal/secrets"
)

// TestSecretsOverSVID: on ca.listen the secrets API's principal is the
// caller's verified X509-SVID: the SVID a policy names reads its secret,
// another SVID is forbidden, no certificate is 401 (an access token is
// not accepted there), and a spoofed client-certificate header changes
// nothing.
func TestSecretsOverSVID(t *testing.T) {
	s := startSecretsServer(t, "sqlite", "ca: {trust_domain: example.test, listen: '127.0.0.1:0'}\n")
	ctx := context.Background()
	cli, err := OpenCLI(ctx, s.cfg, OSEnv(), CLINeeds{CA: true}, "cli:test", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for id, client := range map[string]string{"spiffe://example.test/svc/billing": "app", "spiffe://example.test/svc/other": "other"} {
		if _, err := admin.RegisterWorkload(ctx, cli.CA, admin.CARegistration{SPIFFEID: id, ClientID: client}, "cli:test"); err != nil {
			t.Fatal(err)
		}
	}
	stack, err := OpenSecrets(s.cfg, cli.DB, cli.Keyring, cli.Audit, slogDiscard())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := secrets.ParsePath("svc/billing/db")
	if _, err := stack.Manager.Put(ctx, secrets.Principal{Kind: secrets.KindAdmin}, p, secrets.NewValue([]byte("billing-db-password")), secrets.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	cli.Close(ctx)

	caPEM, err := os.ReadFile(filepath.Join(s.cfg.DataDir, "tls", "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	enrol := "https://" + s.addrs["ca"].String()
	hc := func(cert *tls.Certificate) *http.Client {
		tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	}
	svid := func(client, secret string) *tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
		body, _ := json.Marshal(map[string]string{"csr": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
		req, _ := http.NewRequest(http.MethodPost, enrol+caapi.PathSVID, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(client, secret)
		resp, err := hc(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&out) != nil {
			t.Fatalf("svid for %s: %d", client, resp.StatusCode)
		}
		return pairOf(t, out["svid"], key)
	}
	billing, other := svid("app", secAppSecret), svid("other", secOtherSecret)
	get := func(c *http.Client, hdr ...string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, enrol+"/secrets/v1/data/svc/billing/db", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	t.Run("accept/policy-names-the-svid", func(t *testing.T) {
		if code, out := get(hc(billing)); code != 200 || out["value"] != "billing-db-password" {
			t.Fatalf("%d %v", code, out)
		}
	})
	t.Run("reject/other-svid", func(t *testing.T) {
		if code, _ := get(hc(other)); code != 403 {
			t.Fatalf("%d", code)
		}
	})
	t.Run("reject/no-certificate-token-ignored", func(t *testing.T) {
		tok := s.token(t, "app", secAppSecret, "secrets")
		if code, _ := get(hc(nil), "Authorization", "Bearer "+tok); code != 401 {
			t.Fatalf("%d", code)
		}
	})
	t.Run("reject/spoofed-identity-headers", func(t *testing.T) {
		code, _ := get(hc(other), "X-Forwarded-Client-Cert", "URI=spiffe://example.test/svc/billing",
			"X-Rampart-Subject", "spiffe://example.test/svc/billing", "X-Rampart-Client", "app")
		if code != 403 {
			t.Fatalf("%d", code)
		}
	})
	t.Run("reject/main-listener-ignores-svid", func(t *testing.T) {
		// The main listener (plain HTTP here) knows only tokens.
		code, _, _ := s.do(t, "GET", "/secrets/v1/data/svc/billing/db", "", "", nil, "X-Forwarded-Client-Cert", "URI=spiffe://example.test/svc/billing")
		if code != 401 {
			t.Fatalf("%d", code)
		}
	})
}
