// Command notes runs the sample notes API behind Rampart's gateway.
//
//	notes -listen 127.0.0.1:9001 -issuer http://127.0.0.1:8080
//
// It verifies every request's X-Rampart-Assertion against the issuer's
// JWKS, for its own origin (-audience, default http://<listen>), and keeps
// its data in SQLite (-db) or PostgreSQL (-postgres-dsn-env names the
// variable holding the DSN). With several instances, -redis-url-env names
// the variable holding a Redis URL for the shared assertion replay cache.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/examples/notes"
	"github.com/rampart-auth/rampart/jwtauth"
)

type config struct {
	listen, issuer, jwks, audience, db string
	postgresEnv, redisEnv              string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("notes", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:9001", "address to listen on (loopback: this server speaks plain HTTP)")
	fs.StringVar(&c.issuer, "issuer", "http://127.0.0.1:8080", "Rampart's issuer URL, the assertions' iss")
	fs.StringVar(&c.jwks, "jwks", "", "JWKS URL (default <issuer>/.well-known/jwks.json)")
	fs.StringVar(&c.audience, "audience", "", "this service's origin as the gateway names it (default http://<listen>)")
	fs.StringVar(&c.db, "db", "notes.db", "SQLite database file")
	fs.StringVar(&c.postgresEnv, "postgres-dsn-env", "", "name of an environment variable holding a PostgreSQL DSN (replaces -db)")
	fs.StringVar(&c.redisEnv, "redis-url-env", "", "name of an environment variable holding a Redis URL for the shared replay cache")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.jwks == "" {
		c.jwks = strings.TrimSuffix(c.issuer, "/") + "/.well-known/jwks.json"
	}
	if c.audience == "" {
		c.audience = "http://" + c.listen
	}
	return c, nil
}

// run returns the exit code: 0 after a clean shutdown, 1 when the
// service failed, 2 on a usage error.
func run(args []string, stderr io.Writer) int {
	c, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		fmt.Fprintln(stderr, "notes:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, c, log); err != nil {
		log.Error("notes: stopped", "error", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, c config, log *slog.Logger) error {
	if err := loopbackOnly(c.listen); err != nil {
		return err
	}
	av, closeReplay, err := verifier(ctx, c, log)
	if err != nil {
		return err
	}
	defer closeReplay()
	driver, dsn := notes.DriverSQLite, c.db
	if c.postgresEnv != "" {
		driver, dsn = notes.DriverPostgres, os.Getenv(c.postgresEnv)
		if dsn == "" {
			return fmt.Errorf("environment variable %s (from -postgres-dsn-env) is empty", c.postgresEnv)
		}
	}
	svc, err := notes.Open(ctx, notes.Options{Driver: driver, DSN: dsn, Assertions: av, Logger: log})
	if err != nil {
		return err
	}
	defer svc.Close()
	srv := &http.Server{
		Addr: c.listen, Handler: svc.Handler(), ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("notes: serving", "listen", c.listen, "audience", av.Audience(), "driver", driver)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// loopbackOnly refuses a non-loopback listen address: this server speaks
// plain HTTP, and assertions and notes must not cross a network in clear
// (Rampart's rule: an unsafe setting is refused at start, not warned about).
// Put it behind a TLS-terminating proxy on the same host to expose it.
func loopbackOnly(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("-listen %q: notes serves plain HTTP, so it listens on loopback only (127.0.0.1, ::1 or localhost)", addr)
}

// verifier builds the assertion verifier: the issuer's JWKS (refreshed in
// the background) and a replay cache in memory or, shared by every
// instance, in Redis.
func verifier(ctx context.Context, c config, log *slog.Logger) (*jwtauth.AssertionVerifier, func(), error) {
	jwks, err := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: c.jwks, Logger: log})
	if err != nil {
		return nil, nil, err
	}
	go jwks.Start(ctx)
	var (
		replay  jwtauth.ReplayCache = jwtauth.NewMemoryReplayCache(nil, 0)
		closeFn                     = func() {}
	)
	if c.redisEnv != "" {
		u := os.Getenv(c.redisEnv)
		if u == "" {
			return nil, nil, fmt.Errorf("environment variable %s (from -redis-url-env) is empty", c.redisEnv)
		}
		opt, err := redis.ParseURL(u)
		if err != nil {
			// The URL may hold a password: the parse error is not printed.
			return nil, nil, fmt.Errorf("environment variable %s does not hold a valid Redis URL", c.redisEnv)
		}
		rc := redis.NewClient(opt)
		replay, closeFn = jwtauth.NewRedisReplayCache(rc, "notes:assertion:"), func() { _ = rc.Close() }
	}
	av, err := jwtauth.NewAssertionVerifier(jwtauth.AssertionConfig{
		Issuer: c.issuer, Keys: jwks, Audience: c.audience, Replay: replay,
	})
	if err != nil {
		closeFn()
		return nil, nil, err
	}
	return av, closeFn, nil
}
