package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-auth/rampart/internal/testkit"
)

func servers(t *testing.T, n int) ([]*httptest.Server, []string, []*atomic.Int64) {
	t.Helper()
	var srvs []*httptest.Server
	var urls []string
	var hits []*atomic.Int64
	for i := 0; i < n; i++ {
		c := &atomic.Int64{}
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c.Add(1)
			_, _ = io.WriteString(w, "ok")
		}))
		t.Cleanup(s.Close)
		srvs, urls, hits = append(srvs, s), append(urls, s.URL), append(hits, c)
	}
	return srvs, urls, hits
}

func TestValidate(t *testing.T) {
	for _, bad := range [][]string{nil, {"ftp://x"}, {"http://"}, {"http://u:p@x"}, {"http://x?q=1"}, {"http://x#f"},
		{"http://x", "http://x"}, {"http://x:99999"}, {"mailto:a@b"}, {"http://x:8a"}} {
		if err := Validate(Options{URLs: bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := Validate(Options{URLs: []string{"http://127.0.0.1:9001", "https://notes.internal/base/"}}); err != nil {
		t.Error(err)
	}
	tg, _ := parseTarget("HTTPS://Notes.Internal:443/base/")
	if tg.Origin != "https://notes.internal" || tg.URL.Path != "/base" {
		t.Errorf("origin %q path %q", tg.Origin, tg.URL.Path)
	}
}

func TestRoundRobinOverHealthy(t *testing.T) {
	_, urls, _ := servers(t, 3)
	p, err := New(Options{URLs: urls})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i := 0; i < 30; i++ {
		tg, err := p.Pick("")
		if err != nil {
			t.Fatal(err)
		}
		seen[tg.Origin]++
	}
	for _, u := range urls {
		if seen[u] != 10 {
			t.Errorf("%s picked %d times, want 10", u, seen[u])
		}
	}
}

func TestPassiveEjection(t *testing.T) {
	_, urls, _ := servers(t, 2)
	now := time.Now()
	clock := func() time.Time { return now }
	p, err := New(Options{URLs: urls, Ejection: Ejection{Consecutive: 3, BaseTime: 10 * time.Second, MaxTime: time.Minute}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	bad := p.targets[0]
	for i := 0; i < 3; i++ {
		p.Observe(bad, 0, errors.New("connection refused"))
	}
	for i := 0; i < 10; i++ {
		if tg, _ := p.Pick(""); tg == bad {
			t.Fatal("ejected target picked")
		}
	}
	now = now.Add(11 * time.Second)
	picked := false
	for i := 0; i < 4; i++ {
		if tg, _ := p.Pick(""); tg == bad {
			picked = true
		}
	}
	if !picked {
		t.Error("target not back after its ejection time")
	}
	// A success resets the count: two failures then a success do not eject.
	other := p.targets[1]
	p.Observe(other, 502, nil)
	p.Observe(other, 502, nil)
	p.Observe(other, 200, nil)
	p.Observe(other, 503, nil)
	if !p.usable(1) {
		t.Error("ejected without consecutive failures")
	}
	// Every target ejected: no healthy upstream, never a dead one.
	for i := 0; i < 3; i++ {
		p.Observe(bad, 504, nil)
		p.Observe(other, 504, nil)
	}
	if _, err := p.Pick(""); !errors.Is(err, ErrNoHealthyUpstream) {
		t.Errorf("all ejected: %v", err)
	}
}

func TestActiveHealthChecks(t *testing.T) {
	var failing atomic.Bool
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" && failing.Load() {
			w.WriteHeader(503)
		}
	}))
	defer s.Close()
	p, err := New(Options{URLs: []string{s.URL}, Health: Health{Path: "/healthz", Interval: 10 * time.Millisecond, Timeout: time.Second, Healthy: 2, Unhealthy: 2}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	failing.Store(true)
	testkit.WaitFor(t, "the failing upstream taken out", 5*time.Second, func() bool { _, err := p.Pick(""); return err != nil })
	failing.Store(false)
	testkit.WaitFor(t, "the upstream back", 5*time.Second, func() bool { _, err := p.Pick(""); return err == nil })
}

type fixedShard int

func (f fixedShard) ShardFor(_ string, healthy func(int) bool) (int, error) {
	if healthy(int(f)) {
		return int(f), nil
	}
	return -1, errors.New("down")
}

func TestShardNeverSpills(t *testing.T) {
	_, urls, _ := servers(t, 3)
	p, err := New(Options{URLs: urls, Shard: fixedShard(1), Ejection: Ejection{Consecutive: 1, BaseTime: time.Minute, MaxTime: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if tg, err := p.Pick("t"); err != nil || tg != p.targets[1] {
		t.Fatalf("%v %v", tg, err)
	}
	p.Observe(p.targets[1], 0, errors.New("down"))
	if _, err := p.Pick("t"); !errors.Is(err, ErrNoHealthyUpstream) {
		t.Errorf("spilled over: %v", err)
	}
}

// TestUpstreamMutualTLS: the pool verifies the upstream with the CA file
// and presents its client certificate; a wrong CA fails.
func TestUpstreamMutualTLS(t *testing.T) {
	dir := t.TempDir()
	nb, na := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	srvCert, srvKey, _ := testkit.WriteCertPair(t, dir, "server", nb, na)
	cliCert, cliKey, cli := testkit.WriteCertPair(t, dir, "client", nb, na)
	otherCA, _, _ := testkit.WriteCertPair(t, dir, "other", nb, na)
	pair, err := tls.LoadX509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	addr := testkit.ServeTLS(t, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair},
		ClientAuth: tls.RequireAnyClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], cli.Raw) {
				return errors.New("unknown client")
			}
			return nil
		}})
	get := func(o Options) error {
		p, err := New(o)
		if err != nil {
			return err
		}
		resp, err := (&http.Client{Transport: p.Transport()}).Get("https://" + addr + "/")
		if err == nil {
			_ = resp.Body.Close()
		}
		return err
	}
	url := "https://" + addr
	if err := get(Options{URLs: []string{url}, TLS: TLS{CAFile: srvCert, CertFile: cliCert, KeyFile: cliKey}}); err != nil {
		t.Fatalf("mutual TLS: %v", err)
	}
	if err := get(Options{URLs: []string{url}, TLS: TLS{CAFile: otherCA, CertFile: cliCert, KeyFile: cliKey}}); err == nil {
		t.Error("wrong CA accepted")
	}
	if err := get(Options{URLs: []string{url}, TLS: TLS{CAFile: srvCert}}); err == nil {
		t.Error("no client certificate accepted")
	}
	if _, err := New(Options{URLs: []string{url}, TLS: TLS{CAFile: filepath.Join(dir, "missing.pem")}}); err == nil {
		t.Error("missing CA file accepted")
	}
}

// TestModifyResponse: stack traces and software banners never pass; the
// route's security headers are set over the upstream's.
func TestModifyResponse(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "Apache/2.4.1 (Unix) PHP/5.3")
		w.Header().Set("X-Powered-By", "PHP/5.3")
		w.Header().Set("X-Debug-Token", "abc")
		w.Header().Set("X-Frame-Options", "ALLOWALL")
		w.Header().Set("Content-Encoding", "gzip")
		if r.URL.Path == "/boom" {
			w.WriteHeader(500)
			_, _ = io.WriteString(w, "panic: runtime error: index out of range\ngoroutine 1 [running]:\nmain.handler()\n\t/srv/app/db.go:42 password=hunter2")
			return
		}
		_, _ = io.WriteString(w, "fine")
	}))
	defer up.Close()
	p, err := New(Options{URLs: []string{up.URL}})
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := p.Pick("")
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(tg.URL) }, Transport: p.Transport(),
		ModifyResponse: ModifyResponse(DefaultSecurityHeaders(true))}
	front := httptest.NewServer(rp)
	defer front.Close()
	resp, err := http.Get(front.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 500 || strings.Contains(string(body), "goroutine") || strings.Contains(string(body), "hunter2") ||
		resp.Header.Get("Content-Type") != "application/problem+json" || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("5xx passed through: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	for _, k := range []string{"Server", "X-Powered-By", "X-Debug-Token"} {
		if resp.Header.Get(k) != "" {
			t.Errorf("%s passed through", k)
		}
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("security headers %v", resp.Header)
	}
}

func FuzzValidateURLs(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:9001", "https://a/b", "http://[::1]:80/", "http://u@x", "http://x?#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if Validate(Options{URLs: []string{s}}) != nil {
			return
		}
		tg, err := parseTarget(s)
		if err != nil {
			t.Fatalf("validated %q but parseTarget fails: %v", s, err)
		}
		if tg.URL.User != nil || tg.URL.RawQuery != "" || tg.URL.Fragment != "" || tg.URL.Host == "" {
			t.Fatalf("accepted %q as %v", s, tg.URL)
		}
		if !strings.HasPrefix(tg.Origin, "http://") && !strings.HasPrefix(tg.Origin, "https://") {
			t.Fatalf("origin %q", tg.Origin)
		}
	})
}

func BenchmarkPick(b *testing.B) {
	urls := []string{"http://10.0.0.1", "http://10.0.0.2", "http://10.0.0.3", "http://10.0.0.4"}
	p, _ := New(Options{URLs: urls})
	b.ReportAllocs()
	for b.Loop() {
		_, _ = p.Pick("")
	}
}
