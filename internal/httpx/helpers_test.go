package httpx

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/mtls"
)

// logBuf is a goroutine-safe log sink for servers under test.
type logBuf struct{ testkit.SyncBuffer }

// lines decodes every JSON log line.
func (b *logBuf) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(b.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// find returns the log lines whose msg is msg.
func (b *logBuf) find(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range b.lines(t) {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

// testTLS returns the listener TLS configuration the command builds for
// certificate files (mtls.ServerConfig over an mtls.FileSource), serving a
// fresh self-signed certificate for 127.0.0.1 and localhost, and a pool
// trusting only that certificate.
func testTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	now := time.Now()
	certFile, keyFile, _ := writeCertPair(t, t.TempDir(), "server", now.Add(-time.Hour), now.Add(24*time.Hour))
	src, err := mtls.NewFileSource(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return mtls.ServerConfig(src), caPool(t, certFile)
}

// testServer is a real Server on 127.0.0.1:0.
type testServer struct {
	URL    string
	Addr   string
	cancel context.CancelFunc
	done   chan error
}

// startServer runs NewServer(opts) on 127.0.0.1:0 until the test ends.
func startServer(t *testing.T, opts ServerOptions) *testServer {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	s := NewServer(opts)
	addr, err := s.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Addr: addr.String(), cancel: cancel, done: make(chan error, 1)}
	scheme := "http"
	if opts.TLSConfig != nil {
		scheme = "https"
	}
	ts.URL = scheme + "://" + addr.String()
	go func() { ts.done <- s.Serve(ctx) }()
	t.Cleanup(func() { _ = ts.stop(t) })
	return ts
}

// stop cancels the server and waits for Serve to return (once).
func (ts *testServer) stop(t *testing.T) error {
	t.Helper()
	ts.cancel()
	select {
	case err, ok := <-ts.done:
		if !ok {
			return nil
		}
		close(ts.done)
		return err
	case <-time.After(30 * time.Second):
		t.Error("server did not stop")
		return errors.New("timeout")
	}
}

const panicSecret = "panic-detail-sk_live_do_not_leak"

// newTestApp builds the standard chain around a mux with test routes.
func newTestApp(t testing.TB, tlsOn bool, maxBody int64) (*logBuf, *prometheus.Registry, http.Handler) {
	t.Helper()
	logs := &logBuf{}
	logger := NewLogger(logs, "debug", "json")
	reg := prometheus.NewRegistry()
	m := NewHTTPMetrics(reg)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		logger.InfoContext(r.Context(), "handler line", "item", r.PathValue("id"), "token", "tok-SECRET-123")
		_, _ = io.WriteString(w, r.PathValue("id"))
	})
	mux.HandleFunc("GET /panic", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "half=made")
		panic(panicSecret)
	})
	mux.HandleFunc("GET /panic-late", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic(panicSecret)
	})
	mux.HandleFunc("GET /abort", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			WriteError(w, r, logger, err)
			return
		}
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /conflict", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, logger, &Error{Status: http.StatusConflict, Code: "exists", Public: "The client already exists.",
			Err: errors.New("sqlstore: UNIQUE constraint failed: clients.secret_hash")})
	})
	mux.HandleFunc("GET /internal", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, logger, errors.New("dial tcp 10.1.2.3:5432: connect: connection refused"))
	})
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		SetCSP(w, "default-src 'self'; script-src 'nonce-abc'")
		SetNoStore(w)
		_, _ = io.WriteString(w, "<p>page</p>")
	})
	mux.Handle("GET /metrics", MetricsHandler(reg))

	h := Chain(MuxProblems(mux),
		RequestID,
		SecurityHeaders(tlsOn),
		AccessLog(logger),
		Metrics(m),
		Recover(logger),
		LimitBody(maxBody),
	)
	return logs, reg, h
}

// tlsClient returns an HTTP client trusting only pool.
func tlsClient(pool *x509.CertPool) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
}

// The certificate helpers are the test kit's.
var (
	writeCertPair = testkit.WriteCertPair
	caPool        = testkit.CertPool
)
