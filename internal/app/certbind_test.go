package app

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
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

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/mtls"
)

const certTestSecret = "a-client-secret-of-at-least-32-characters-cb"

// certBoundConfig: auto-TLS main listener, the enrolment listener (the
// token endpoint's mTLS alias), a gateway in tls mode spiffe over the
// agent directory with a bind_token route and a route that does not bind.
func certBoundConfig(dir, keyFile, agentDir, upstream string) string {
	return fmt.Sprintf(`issuer: https://127.0.0.1:0
data_dir: %s
master_key_file: %s
http: {listen: '127.0.0.1:0', tls: {mode: auto}}
log: {level: warn}
clients:
  - {id: svc, secret_env: RAMPART_TEST_CB_SECRET, grant_types: [client_credentials], scopes: [notes:read], audience: [https://notes.example.test]}
  - {id: bound, secret_env: RAMPART_TEST_CB_SECRET, grant_types: [client_credentials], scopes: [notes:read], audience: [https://notes.example.test], certificate_bound_access_tokens: true}
ca: {trust_domain: example.test, listen: '127.0.0.1:0'}
gateway:
  listen: 127.0.0.1:0
  tls: {mode: spiffe}
  spiffe: {dir: %s}
  routes:
    - name: bound
      match: {path_prefix: /bound, methods: [GET]}
      upstreams: [%s]
      auth: {issuer: self, audience: [https://notes.example.test], scopes: [notes:read], mtls: {allow: ['spiffe://example.test/svc/orders', 'spiffe://example.test/svc/reports'], bind_token: true}}
`, filepath.Join(dir, "data"), keyFile, agentDir, upstream)
}

// issued is an SVID of the running CA: the TLS pair and what an agent
// writes.
type issued struct {
	cert *tls.Certificate
	out  *admin.CAIssued
}

// TestServeCertBoundTokens: with the real CA, golang.org/x/oauth2's
// clientcredentials against the mTLS alias (ca.listen, an mtls client
// config with the workload's SVID) gets a token whose cnf.x5t#S256 is the
// SVID's thumbprint, and discovery names the alias. Through the gateway's
// bind_token route the token is served with that SVID (200) and refused
// with another SVID of an allowed service (401). A self-signed forgery
// with the same SPIFFE ID and a revoked SVID are refused at the alias; a
// client that requires
// bound tokens is refused on the main listener; userinfo refuses the
// bound token (no client certificate there).
func TestServeCertBoundTokens(t *testing.T) {
	t.Setenv("RAMPART_TEST_CB_SECRET", certTestSecret)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	testkit.WriteFile(t, keyFile, []byte(testkit.MasterKeyBase64+"\n"))
	agentDir := filepath.Join(dir, "agent")
	if err := os.Mkdir(agentDir, 0o700); err != nil {
		t.Fatal(err)
	}
	up := newGWUpstream(t)
	cfgPath := filepath.Join(dir, "rampart.yaml")
	testkit.WriteFile(t, cfgPath, []byte(certBoundConfig(dir, keyFile, agentDir, up.srv.URL)))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}

	// The operator initialises the CA and issues the SVIDs (`rampart ca
	// init`, `rampart ca issue`) before serve: the gateway's goes to the
	// agent directory it reads.
	ctx := context.Background()
	res, err := cfg.Resolve(OSEnv(), config.Needs{Store: true})
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenStore(ctx, cfg, res.StoreDSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	db.Close()
	cli, err := OpenCLI(ctx, cfg, OSEnv(), CLINeeds{MasterKey: true}, "cli:test", io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	authority, err := InitCA(ctx, cli, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(path string) issued {
		t.Helper()
		out, err := admin.IssueSVID(ctx, authority, admin.CAIssue{SPIFFEID: "spiffe://example.test" + path}, "cli:test")
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(out.ChainPEM, out.KeyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return issued{cert: &pair, out: out}
	}
	gw, orders, reports := issue("/gateway"), issue("/svc/orders"), issue("/svc/reports")
	for name, b := range map[string][]byte{"svid.pem": gw.out.ChainPEM, "svid.key": gw.out.KeyPEM, "bundle.pem": gw.out.BundlePEM, "crl.pem": gw.out.CRLPEM} {
		mode := os.FileMode(0o644)
		if name == "svid.key" {
			mode = 0o600
		}
		if err := os.WriteFile(filepath.Join(agentDir, name), b, mode); err != nil {
			t.Fatal(err)
		}
	}
	// A revoked SVID (`rampart ca revoke`) is in the CRL serve loads.
	revoked := issue("/svc/revoked")
	if n, err := admin.RevokeSVIDs(ctx, authority, admin.CARevocation{SPIFFEID: "spiffe://example.test/svc/revoked", Reason: "test"}, "cli:test"); err != nil || n != 1 {
		t.Fatalf("revoke: %d, %v", n, err)
	}
	td := authority.TrustDomain()
	bundles := map[spiffeid.TrustDomain][]*x509.Certificate{td: authority.Authorities()}
	root := authority.Root()
	cli.Close(ctx)

	var banner strings.Builder
	addrs := startServe(t, cfg, &banner)
	main, alias, gwURL := "https://"+addrs["main"].String(), "https://"+addrs["ca"].String()+oauth.PathToken, "https://"+addrs["gateway"].String()
	if !strings.Contains(banner.String(), "token    "+alias) {
		t.Errorf("the banner does not name the mTLS alias %s:\n%s", alias, banner.String())
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	plain := func(cert *tls.Certificate) *http.Client {
		tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	}
	// spiffeClient is a workload's mtls client for server peer (a SPIFFE
	// ID path of the trust domain).
	spiffeClient := func(svid *tls.Certificate, peer string) *http.Client {
		src := mtls.NewStaticSource(svid, bundles)
		tr := &http.Transport{TLSClientConfig: mtls.SPIFFEClientConfig(src, mtls.AuthorizeID(spiffeid.RequireFromPath(td, peer))), DisableKeepAlives: true}
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	ccToken := func(hc *http.Client, clientID, tokenURL string) (*oauth2.Token, error) {
		cc := clientcredentials.Config{ClientID: clientID, ClientSecret: certTestSecret, TokenURL: tokenURL, Scopes: []string{"notes:read"}, AuthStyle: oauth2.AuthStyleInHeader}
		return cc.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
	}
	viaGateway := func(hc *http.Client, tok string) int {
		req, _ := http.NewRequest(http.MethodGet, gwURL+"/bound/1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}

	tok, err := ccToken(spiffeClient(orders.cert, "/rampart/ca"), "svc", alias)
	if err != nil {
		t.Fatalf("clientcredentials at the mTLS alias: %v", err)
	}
	if got, want := tokenX5t(t, tok.AccessToken), mtls.CertThumbprint(orders.cert.Certificate[0]); got != want || tok.TokenType != "Bearer" {
		t.Fatalf("cnf.x5t#S256 %q token_type %q; want %q Bearer", got, tok.TokenType, want)
	}

	t.Run("accept/discovery-names-the-alias", func(t *testing.T) {
		resp, err := plain(nil).Get(main + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct {
			Bound   bool              `json:"tls_client_certificate_bound_access_tokens"`
			Aliases map[string]string `json:"mtls_endpoint_aliases"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if !doc.Bound || doc.Aliases["token_endpoint"] != alias {
			t.Fatalf("discovery %+v, want the alias %s", doc, alias)
		}
	})
	t.Run("accept/gateway-bind-token-with-the-svid", func(t *testing.T) {
		if code := viaGateway(spiffeClient(orders.cert, "/gateway"), tok.AccessToken); code != http.StatusOK {
			t.Fatalf("status %d, want 200", code)
		}
	})
	t.Run("reject/gateway-token-of-another-svid", func(t *testing.T) {
		if code := viaGateway(spiffeClient(reports.cert, "/gateway"), tok.AccessToken); code != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", code)
		}
	})
	t.Run("reject/forged-self-signed-same-id", func(t *testing.T) {
		forged := selfSignedSVID(t, "spiffe://example.test/svc/orders")
		_, err := ccToken(plain(forged), "svc", alias)
		var re *oauth2.RetrieveError
		if !asRetrieve(err, &re) || re.ErrorCode != oauth.ErrInvalidRequest || re.ErrorDescription != "the client certificate is not a valid SVID" {
			t.Fatalf("forged certificate: %v", err)
		}
	})
	t.Run("reject/revoked-svid", func(t *testing.T) {
		_, err := ccToken(plain(revoked.cert), "svc", alias)
		var re *oauth2.RetrieveError
		if !asRetrieve(err, &re) || re.ErrorCode != oauth.ErrInvalidRequest {
			t.Fatalf("revoked SVID: %v", err)
		}
	})
	t.Run("reject/bound-client-on-main-listener", func(t *testing.T) {
		_, err := ccToken(plain(nil), "bound", main+oauth.PathToken)
		var re *oauth2.RetrieveError
		if !asRetrieve(err, &re) || re.ErrorCode != oauth.ErrInvalidRequest {
			t.Fatalf("certificate-bound client without a certificate: %v", err)
		}
		if _, err := ccToken(spiffeClient(reports.cert, "/rampart/ca"), "bound", alias); err != nil {
			t.Fatalf("certificate-bound client at the alias: %v", err)
		}
	})
	t.Run("reject/userinfo-bound-token-without-cert", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, main+oauth.PathUserinfo, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := plain(nil).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("status %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}

// tokenX5t is the cnf.x5t#S256 of a JWT access token (not verified: the
// test reads what the server minted).
func tokenX5t(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	x5t, _ := mtls.CnfX5tS256(payload)
	return x5t
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	if ok {
		*re = r
	}
	return ok
}

// selfSignedSVID is a forgery: an SVID-shaped certificate with id (URI
// SAN, clientAuth, not a CA), signed by its own key.
func selfSignedSVID(t *testing.T, id string) *tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, URIs: []*url.URL{mustURL(t, id)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
