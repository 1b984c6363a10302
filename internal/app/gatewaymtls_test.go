package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/mtls"
)

// svidCA is a minimal trust-domain root for serve's service-mTLS tests
// (testkit.SPIFFECA).
type svidCA struct {
	td   spiffeid.TrustDomain
	cert *x509.Certificate
	kit  *testkit.SPIFFECA
}

func newSVIDCA(t *testing.T, td string) *svidCA {
	t.Helper()
	ca := testkit.NewSPIFFECA(t, td)
	return &svidCA{td: spiffeid.RequireTrustDomainFromString(ca.TD), cert: ca.Cert, kit: ca}
}

func (c *svidCA) svid(t *testing.T, path string) *tls.Certificate {
	t.Helper()
	return c.kit.SVID(t, spiffeid.RequireFromPath(c.td, path))
}

// writeAgentDir writes what `rampart agent --out dir` writes for path.
func (c *svidCA) writeAgentDir(t *testing.T, dir, path string) {
	t.Helper()
	cert := c.svid(t, path)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	testkit.WriteFile(t, filepath.Join(dir, "svid.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	testkit.WriteFile(t, filepath.Join(dir, "svid.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	testkit.WriteFile(t, filepath.Join(dir, "bundle.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}))
}

func (c *svidCA) client(t *testing.T, path string) *http.Client {
	t.Helper()
	src := mtls.NewStaticSource(c.svid(t, path), map[spiffeid.TrustDomain][]*x509.Certificate{c.td: {c.cert}})
	tr := &http.Transport{TLSClientConfig: mtls.SPIFFEClientConfig(src, mtls.AuthorizeID(spiffeid.RequireFromPath(c.td, "/gateway"))), ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func spiffeGatewayConfig(dir, keyFile, agentDir, upstream, routes string) string {
	return strings.Replace(gatewayConfig(dir, keyFile, upstream, routes), "  tls: {mode: off}\n  routes:\n",
		"  tls: {mode: spiffe}\n  spiffe: {dir: "+agentDir+"}\n  routes:\n    - name: billing\n      match: {path_prefix: /billing, methods: [GET]}\n      upstreams: ["+upstream+"]\n      auth: {mtls: {allow: ['spiffe://example.test/svc/orders']}}\n", 1)
}

// TestServeGatewaySPIFFE runs serve with gateway.tls mode spiffe over the
// agent's directory: the allowlisted service is served with its verified
// SPIFFE ID passed upstream, another service of the trust domain gets 403,
// a file change reloads the routes over the same listener, and serve
// refuses to start when the agent's files are not there.
func TestServeGatewaySPIFFE(t *testing.T) {
	t.Setenv("RAMPART_TEST_GW_SECRET", gwTestSecret)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	testkit.WriteFile(t, keyFile, []byte(testkit.MasterKeyBase64+"\n"))
	agentDir := filepath.Join(dir, "agent")
	if err := os.Mkdir(agentDir, 0o700); err != nil {
		t.Fatal(err)
	}
	ca := newSVIDCA(t, "example.test")
	ca.writeAgentDir(t, agentDir, "/gateway")
	up := newGWUpstream(t)
	cfgPath := filepath.Join(dir, "rampart.yaml")
	testkit.WriteFile(t, cfgPath, []byte(spiffeGatewayConfig(dir, keyFile, agentDir, up.srv.URL, "")))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	addrs := startServe(t, cfg, io.Discard)
	gw := "https://" + addrs["gateway"].String()
	orders, reports := ca.client(t, "/svc/orders"), ca.client(t, "/svc/reports")
	get := func(c *http.Client, path string) int {
		resp, err := c.Get(gw + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(orders, "/billing/1"); code != http.StatusOK {
		t.Fatalf("allowlisted service: %d", code)
	}
	if got := up.last().Get("X-Rampart-Peer-Id"); got != "spiffe://example.test/svc/orders" {
		t.Errorf("X-Rampart-Peer-Id %q", got)
	}
	if code := get(reports, "/billing/1"); code != http.StatusForbidden {
		t.Errorf("service outside the allowlist: %d, want 403", code)
	}
	testkit.WriteFile(t, cfgPath, []byte(spiffeGatewayConfig(dir, keyFile, agentDir, up.srv.URL, `    - name: status
      match: {path: /status, methods: [GET]}
      upstreams: [`+up.srv.URL+`]
      auth: none
`)))
	testkit.WaitFor(t, "the file change reloaded", 15*time.Second, func() bool { return get(reports, "/status") == http.StatusOK })
	if code := get(orders, "/billing/2"); code != http.StatusOK {
		t.Errorf("after the reload: %d", code)
	}

	t.Run("reject/no-agent-files", func(t *testing.T) {
		empty := t.TempDir()
		c, err := config.Parse([]byte(spiffeGatewayConfig(filepath.Join(dir, "b"), keyFile, empty, up.srv.URL, "")))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err = Serve(ctx, ServeOptions{Config: c, Env: OSEnv(), Stdout: io.Discard, Stderr: io.Discard, Name: "Rampart", Version: "test"})
		if err == nil || !strings.Contains(err.Error(), "gateway.spiffe.dir") {
			t.Fatalf("serve: %v; want a refusal naming gateway.spiffe.dir", err)
		}
	})
}

// fakeAgentSocket serves the agent's `GET /v1/svid` for path on a unix
// socket (contract: JSON with version, spiffe_id, svid, key, bundles); a
// long poll (`?after=N`) waits until the client gives up, as an agent
// with nothing new does.
func fakeAgentSocket(t *testing.T, ca *svidCA, path string) string {
	t.Helper()
	cert := ca.svid(t, path)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	body, err := json.Marshal(map[string]any{
		"version": 1, "spiffe_id": cert.Leaf.URIs[0].String(),
		"svid":       string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})),
		"key":        string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
		"bundles":    map[string]string{ca.td.Name(): string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))},
		"expires_at": cert.Leaf.NotAfter.UTC().Format(time.RFC3339),
	})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("after") {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}

// TestServeGatewaySPIFFESocket: the gateway's SVID from the agent's socket
// (gateway.spiffe.socket) serves the mTLS listener, and serve stops
// cleanly with the socket source's long poll open.
func TestServeGatewaySPIFFESocket(t *testing.T) {
	t.Setenv("RAMPART_TEST_GW_SECRET", gwTestSecret)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master.key")
	testkit.WriteFile(t, keyFile, []byte(testkit.MasterKeyBase64+"\n"))
	ca := newSVIDCA(t, "example.test")
	sock := fakeAgentSocket(t, ca, "/gateway")
	up := newGWUpstream(t)
	y := strings.Replace(spiffeGatewayConfig(dir, keyFile, "X", up.srv.URL, ""), "spiffe: {dir: X}", "spiffe: {socket: "+sock+", require_client_cert: true}", 1)
	cfg, err := config.Parse([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	addrs := startServe(t, cfg, io.Discard)
	resp, err := ca.client(t, "/svc/orders").Get("https://" + addrs["gateway"].String() + "/billing/1")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || up.last().Get("X-Rampart-Peer-Id") != "spiffe://example.test/svc/orders" {
		t.Fatalf("status %d, peer %q", resp.StatusCode, up.last().Get("X-Rampart-Peer-Id"))
	}
}
