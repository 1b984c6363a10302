package mtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

// fakeAgent serves the agent socket protocol from a state tests change.
type fakeAgent struct {
	path     string
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	version  uint64
	body     []byte // nil: 503
	requests int
	srv      *http.Server
	ln       net.Listener
}

func startAgent(t *testing.T) *fakeAgent {
	t.Helper()
	dir, err := os.MkdirTemp("", "agent") // short: unix socket paths are limited to ~100 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := &fakeAgent{path: filepath.Join(dir, "agent.sock"), changed: make(chan struct{})}
	a.listen(t)
	return a
}

func (a *fakeAgent) listen(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("unix", a.path)
	if err != nil {
		t.Fatal(err)
	}
	a.ln = ln
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: time.Second}
	srv := a.srv
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
}

func (a *fakeAgent) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/svid" {
		http.NotFound(w, r)
		return
	}
	a.mu.Lock()
	a.requests++
	if s := r.URL.Query().Get("after"); s != "" {
		after, _ := strconv.ParseUint(s, 10, 64)
		if a.version <= after {
			// Wait for a change; on timeout answer the same version, as
			// the real agent does after 30 s.
			ch := a.changed
			a.mu.Unlock()
			select {
			case <-ch:
			case <-time.After(300 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			a.mu.Lock()
		}
	}
	body := a.body
	a.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	if body == nil {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"title":"no SVID","status":503}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// set publishes a new version of the state.
func (a *fakeAgent) set(t testing.TB, cert *tls.Certificate, bundles map[string][]*x509.Certificate, crl []byte) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.version++
	a.body = agentBody(t, a.version, cert, bundles, crl)
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *fakeAgent) setRaw(body []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.version++
	a.body = body
	close(a.changed)
	a.changed = make(chan struct{})
}

func agentBody(t testing.TB, version uint64, cert *tls.Certificate, bundles map[string][]*x509.Certificate, crl []byte) []byte {
	t.Helper()
	id, err := IDFromCert(cert.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	b := map[string]string{}
	for td, certs := range bundles {
		b[td] = string(certsPEM(certs...))
	}
	out, err := json.Marshal(map[string]any{
		"version": version, "spiffe_id": id.String(), "svid": string(chainPEM(cert)), "key": string(keyPEM(t, cert)),
		"bundles": b, "crl": string(crl), "expires_at": cert.Leaf.NotAfter.UTC().Format(time.RFC3339),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (a *fakeAgent) reqs() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests
}

func TestSocketSource(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	fed := newTestCA(t, "partner.test", true)
	agent := startAgent(t)
	logs := &logBuf{}
	opts := []SourceOption{WithLogger(jsonLogger(logs, slog.LevelInfo))}

	// No SVID yet (503): the constructor waits until ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := NewSocketSource(ctx, agent.path, opts...); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("constructor without SVID: %v", err)
	}

	first := ca.leaf(t, leafSpec{})
	bundles := map[string][]*x509.Certificate{"example.test": ca.bundle(), "partner.test": fed.bundle()}
	agent.set(t, first, bundles, crlPEM(ca.crl(t, time.Hour)))
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	src, err := NewSocketSource(ctx2, agent.path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	svid := func() *x509.Certificate {
		c, err := src.SVID()
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf
	}
	if !svid().Equal(first.Leaf) {
		t.Fatal("first SVID not served")
	}
	if a, ok := src.X509Authorities(fed.td); !ok || !a[0].Equal(fed.root) {
		t.Fatal("federated bundle missing")
	}

	// A renewal with a CRL revoking a peer: picked up by the long poll.
	second := ca.leaf(t, leafSpec{})
	peer := ca.leaf(t, leafSpec{path: "/svc/peer"})
	agent.set(t, second, bundles, crlPEM(ca.crl(t, time.Hour, peer.Leaf.SerialNumber)))
	testkit.WaitFor(t, "renewal", 5*time.Second, func() bool { c, _ := src.SVID(); return c != nil && c.Leaf.Equal(second.Leaf) })
	if !src.IsRevoked(ca.td, peer.Leaf) {
		t.Fatal("CRL not applied")
	}

	// A response that fails validation (key of another certificate) keeps
	// the last good state.
	bad := agentBody(t, 0, second, bundles, nil)
	var m map[string]any
	_ = json.Unmarshal(bad, &m)
	m["key"] = string(keyPEM(t, first))
	m["version"] = 99
	bad, _ = json.Marshal(m)
	n := agent.reqs()
	agent.setRaw(bad)
	testkit.WaitFor(t, "retries", 5*time.Second, func() bool { return agent.reqs() >= n+2 })
	if !svid().Equal(second.Leaf) || !src.IsRevoked(ca.td, peer.Leaf) {
		t.Fatal("bad response replaced the state")
	}

	// A forged CRL is ignored and logged; the held one stays.
	third := ca.leaf(t, leafSpec{})
	forger := newTestCA(t, "example.test", true)
	agent.set(t, third, bundles, crlPEM(forger.crl(t, time.Hour)))
	testkit.WaitFor(t, "third SVID", 5*time.Second, func() bool { c, _ := src.SVID(); return c != nil && c.Leaf.Equal(third.Leaf) })
	if !src.IsRevoked(ca.td, peer.Leaf) {
		t.Fatal("reject/forged-crl: un-revoked the peer")
	}
	if !strings.Contains(logs.String(), "agent CRL ignored") {
		t.Error("forged CRL not logged")
	}

	// The agent restarts: the source keeps the state and reconnects.
	_ = agent.srv.Close()
	os.Remove(agent.path)
	time.Sleep(200 * time.Millisecond)
	if !svid().Equal(third.Leaf) {
		t.Fatal("state lost while the agent was down")
	}
	agent.listen(t)
	agent.mu.Lock()
	agent.version = 0 // a restarted agent counts from the start again
	agent.mu.Unlock()
	fourth := ca.leaf(t, leafSpec{})
	agent.set(t, fourth, bundles, nil)
	testkit.WaitFor(t, "reconnect", 15*time.Second, func() bool { c, _ := src.SVID(); return c != nil && c.Leaf.Equal(fourth.Leaf) })

	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	_ = src.Close() // idempotent
	// A request sent just before Close may still reach the handler.
	time.Sleep(100 * time.Millisecond)
	n = agent.reqs()
	time.Sleep(400 * time.Millisecond)
	if agent.reqs() != n {
		t.Fatal("still polling after Close")
	}
}

func TestDecodeSocketResponse(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	leaf := ca.leaf(t, leafSpec{})
	now := time.Now()
	good := agentBody(t, 3, leaf, map[string][]*x509.Certificate{"example.test": ca.bundle()}, crlPEM(ca.crl(t, time.Hour)))
	mutate := func(k string, v any) []byte {
		var m map[string]any
		_ = json.Unmarshal(good, &m)
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(m)
		return b
	}
	cases := []struct {
		name    string
		body    []byte
		wantErr string
	}{
		{"accept/good", good, ""},
		{"reject/not-json", []byte("{"), "response"},
		{"reject/id-mismatch", mutate("spiffe_id", "spiffe://example.test/svc/admin"), "is not the SVID's ID"},
		{"reject/id-missing", mutate("spiffe_id", nil), "is not the SVID's ID"},
		{"reject/key-mismatch", mutate("key", string(keyPEM(t, ca.leaf(t, leafSpec{})))), "does not match"},
		{"reject/no-own-bundle", mutate("bundles", map[string]string{"other.test": string(certsPEM(ca.root))}), "no bundle"},
		{"reject/bad-trust-domain-key", mutate("bundles", map[string]string{"Example.test": string(certsPEM(ca.root))}), "bad trust domain"},
		{"reject/bundle-not-pem", mutate("bundles", map[string]string{"example.test": "junk"}), "no certificate"},
		{"reject/expired", agentBody(t, 1, ca.leaf(t, leafSpec{nb: now.Add(-2 * time.Hour), na: now.Add(-time.Hour)}),
			map[string][]*x509.Certificate{"example.test": ca.bundle()}, nil), "expired"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sr, err := decodeSocketResponse(tc.body, now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || sr.version != 3 || sr.crl == nil || sr.id.String() != "spiffe://example.test/svc/a" {
				t.Fatalf("%+v %v", sr, err)
			}
		})
	}
}

// TestSocketSourceHandshake: a server on a SocketSource serves the SVID the
// agent renews from the next handshake on and applies the agent's CRL;
// an open connection stays.
func TestSocketSourceHandshake(t *testing.T) {
	ca := newTestCA(t, "example.test", true)
	agent := startAgent(t)
	bundles := map[string][]*x509.Certificate{"spiffe://example.test": ca.bundle()}
	first := ca.leaf(t, leafSpec{path: "/svc/server"})
	agent.set(t, first, bundles, crlPEM(ca.crl(t, time.Hour)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	src, err := NewSocketSource(ctx, agent.path, WithLogger(jsonLogger(&logBuf{}, slog.LevelError)))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srv := startEcho(t, SPIFFEServerConfig(src, AuthorizeMemberOf(ca.td)))
	client := ca.leaf(t, leafSpec{path: "/svc/client"})
	cfg := SPIFFEClientConfig(NewStaticSource(client, ca.bundles()), AuthorizeMemberOf(ca.td))
	open, err := dial(t, srv.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	second := ca.leaf(t, leafSpec{path: "/svc/server"})
	agent.set(t, second, bundles, crlPEM(ca.crl(t, time.Hour, client.Leaf.SerialNumber)))
	testkit.WaitFor(t, "renewal", 5*time.Second, func() bool { c, _ := src.SVID(); return c != nil && c.Leaf.Equal(second.Leaf) })
	if _, err := dial(t, srv.addr, cfg); err == nil {
		t.Fatal("revoked client connected")
	}
	other := SPIFFEClientConfig(NewStaticSource(ca.leaf(t, leafSpec{path: "/svc/other"}), ca.bundles()), AuthorizeMemberOf(ca.td))
	c, err := dial(t, srv.addr, other)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ConnectionState().PeerCertificates[0].Equal(second.Leaf) {
		t.Fatal("renewed SVID not served")
	}
	if _, err := open.echo("still"); err != nil {
		t.Fatalf("open connection dropped: %v", err)
	}
}
