package httpx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults for ServerOptions fields left zero. A zero timeout in net/http
// means "none", which is never what a server on a network wants: without a
// header deadline one client holding connections open starves the server
// (Slowloris; OWASP Denial of Service Cheat Sheet).
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 20 * time.Second
	// DefaultMaxHeaderBytes is 64 KiB instead of net/http's 1 MiB: ample
	// for cookies, DPoP proofs and bearer tokens, and 16 times less memory
	// a client can pin per request (OWASP Denial of Service Cheat Sheet).
	DefaultMaxHeaderBytes = 64 << 10
)

// ServerOptions configure a Server. Zero durations and sizes take the
// Default* values above, never "unlimited".
type ServerOptions struct {
	// Addr is the listen address, host:port; port 0 picks a free port.
	Addr string
	// Handler serves every request; nil answers 404 problems.
	Handler http.Handler
	// TLSConfig enables TLS when set (see mtls.ServerConfig; the command
	// builds it from files or from ca.AutoTLS). It needs Certificates or
	// GetCertificate.
	TLSConfig *tls.Config

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// ShutdownTimeout bounds the graceful shutdown; connections still
	// active after it are closed.
	ShutdownTimeout time.Duration
	MaxHeaderBytes  int
	// Logger receives the server's own errors; nil means slog.Default.
	Logger *slog.Logger
}

// Server is an http.Server with Rampart's defaults: every timeout set, a
// header size limit, TLS from a hardened config, errors routed to slog and
// graceful shutdown on context cancellation.
type Server struct {
	srv             *http.Server
	tls             bool
	shutdownTimeout time.Duration
	logger          *slog.Logger

	mu sync.Mutex
	ln net.Listener
}

// NewServer returns a Server for opts. It does not listen yet.
func NewServer(opts ServerOptions) *Server {
	logger := orDefault(opts.Logger)
	h := opts.Handler
	if h == nil {
		// Never fall back to http.DefaultServeMux: whatever registered
		// itself there (expvar, net/http/pprof) would be exposed.
		h = http.HandlerFunc(NotFound)
	}
	s := &Server{
		tls:             opts.TLSConfig != nil,
		shutdownTimeout: orDur(opts.ShutdownTimeout, DefaultShutdownTimeout),
		logger:          logger,
	}
	s.srv = &http.Server{
		Addr:              opts.Addr,
		Handler:           h,
		TLSConfig:         opts.TLSConfig,
		ReadHeaderTimeout: orDur(opts.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       orDur(opts.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      orDur(opts.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       orDur(opts.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          log.New(serverErrorLog{logger}, "", 0),
		// "OPTIONS *" goes through Handler too, so it gets the same
		// headers and logging as everything else.
		DisableGeneralOptionsHandler: true,
	}
	if s.srv.MaxHeaderBytes <= 0 {
		s.srv.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	return s
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Listen binds the listen address and returns the bound address (with the
// real port when Addr asked for port 0), so the caller can print it. Serve
// calls it when it has not been called.
func (s *Server) Listen() (net.Addr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Addr(), nil
	}
	ln, err := net.Listen("tcp", s.srv.Addr)
	if err != nil {
		return nil, fmt.Errorf("httpx: listen on %s: %w", s.srv.Addr, err)
	}
	s.ln = ln
	return ln.Addr(), nil
}

// Serve serves until ctx is cancelled, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish for up to ShutdownTimeout, and
// then closes whatever is left. It returns nil after a shutdown, or the
// error that stopped the server.
func (s *Server) Serve(ctx context.Context) error {
	if _, err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()

	errc := make(chan error, 1)
	go func() {
		if s.tls {
			// Certificates come from TLSConfig; ServeTLS adds the h2 and
			// http/1.1 ALPN protocols.
			errc <- s.srv.ServeTLS(ln, "", "")
		} else {
			errc <- s.srv.Serve(ln)
		}
	}()

	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("httpx: serve: %w", err)
	case <-ctx.Done():
	}

	// The caller's context is done; shutdown gets its own deadline.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if err != nil {
		s.logger.Warn("httpx: graceful shutdown incomplete; closing remaining connections",
			slog.Duration("timeout", s.shutdownTimeout), slog.String("error", err.Error()))
		err = s.srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("httpx: serve: %w", serr)
	}
	if err != nil {
		return fmt.Errorf("httpx: shutdown: %w", err)
	}
	return nil
}

// serverErrorLog routes net/http's own log lines to slog. TLS handshake
// failures are what every scanner and every client with a stale trust
// store produce; they go to debug so they cannot drown real warnings.
type serverErrorLog struct{ logger *slog.Logger }

func (l serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	level := slog.LevelWarn
	if strings.Contains(msg, "TLS handshake error") {
		level = slog.LevelDebug
	}
	l.logger.Log(context.Background(), level, msg, slog.String("component", "http.server"))
	return len(p), nil
}
