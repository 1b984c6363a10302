package httpx

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestListenReportsRealAddress(t *testing.T) {
	s := NewServer(ServerOptions{Addr: "127.0.0.1:0", Handler: Healthz()})
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if tcp, ok := addr.(*net.TCPAddr); !ok || tcp.Port == 0 || !tcp.IP.IsLoopback() {
		t.Fatalf("addr %v", addr)
	}
	again, _ := s.Listen()
	if again.String() != addr.String() {
		t.Error("second Listen bound again")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	resp, err := http.Get("http://" + addr.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
}

func TestListenError(t *testing.T) {
	s := NewServer(ServerOptions{Addr: "256.0.0.1:0"})
	if _, err := s.Listen(); err == nil || !strings.HasPrefix(err.Error(), "httpx: listen") {
		t.Fatalf("err %v", err)
	}
	if err := s.Serve(context.Background()); err == nil {
		t.Fatal("Serve without a listener succeeded")
	}
}

func TestServerDefaultsAreNeverUnlimited(t *testing.T) {
	s := NewServer(ServerOptions{})
	srv := s.srv
	if srv.ReadHeaderTimeout != DefaultReadHeaderTimeout || srv.ReadTimeout != DefaultReadTimeout ||
		srv.WriteTimeout != DefaultWriteTimeout || srv.IdleTimeout != DefaultIdleTimeout ||
		srv.MaxHeaderBytes != DefaultMaxHeaderBytes || s.shutdownTimeout != DefaultShutdownTimeout {
		t.Errorf("defaults not applied: %+v", srv)
	}
	if srv.Handler == nil || srv.Handler == http.DefaultServeMux {
		t.Error("nil handler falls back to DefaultServeMux")
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "finished")
	})
	ts := startServer(t, ServerOptions{Handler: h, ShutdownTimeout: 5 * time.Second})
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get(ts.URL)
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		res <- result{string(b), err}
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- ts.stop(t) }()

	r := <-res
	if r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: %q %v", r.body, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", ts.Addr, time.Second); err == nil {
		t.Error("still accepting after shutdown")
	}
}

func TestShutdownTimeoutClosesStuckRequests(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
	})
	ts := startServer(t, ServerOptions{Handler: h, ShutdownTimeout: 200 * time.Millisecond})
	go func() {
		if resp, err := http.Get(ts.URL); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	start := time.Now()
	if err := ts.stop(t); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v", d)
	}
}

// TestSlowlorisDisconnected: a client trickling its headers slower than
// ReadHeaderTimeout is cut off.
func TestSlowlorisDisconnected(t *testing.T) {
	ts := startServer(t, ServerOptions{Handler: Healthz(), ReadHeaderTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n")
	closed := make(chan struct{})
	go func() {
		// Keep trickling one header byte every 50 ms.
		for {
			select {
			case <-closed:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := io.WriteString(conn, "X"); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(conn) // returns when the server closes
	close(closed)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("connection held for %v", d)
	}
	if strings.Contains(string(b), "200 OK") {
		t.Fatalf("slow request was served: %q", b)
	}
}

func TestTLSHandshakeNoiseLoggedAtDebug(t *testing.T) {
	logs := &logBuf{}
	cfg, _ := testTLS(t)
	ts := startServer(t, ServerOptions{Handler: Healthz(), TLSConfig: cfg, Logger: NewLogger(logs, "debug", "json")})
	conn, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") // plain HTTP to a TLS port
	_, _ = io.ReadAll(conn)
	conn.Close()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, l := range logs.lines(t) {
			if msg, _ := l["msg"].(string); strings.Contains(msg, "TLS handshake error") {
				if l["level"] != "DEBUG" || l["component"] != "http.server" {
					t.Fatalf("handshake noise logged as %v", l)
				}
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no handshake log line: %s", logs.String())
}

func TestHSTSOnlyOverTLS(t *testing.T) {
	cfg, pool := testTLS(t)
	_, _, h := newTestApp(t, true, 1024)
	ts := startServer(t, ServerOptions{Handler: h, TLSConfig: cfg})
	c := tlsClient(pool)
	for _, p := range []string{"/ok", "/nope", "/panic"} {
		resp, _ := do(t, c, http.MethodGet, ts.URL+p, nil)
		if got := resp.Header.Get("Strict-Transport-Security"); got != HSTS {
			t.Errorf("%s: HSTS = %q", p, got)
		}
		if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
			t.Errorf("%s: not TLS 1.3", p)
		}
	}
}
