package app

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/examples/notes"
	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/jwtauth"
)

// The dev walk-through (`rampart serve --dev` without a gateway section):
// the notes example behind a gateway on loopback.
const devNotesAudience = "https://notes.example.test"

// devGatewayListen is the dev gateway's address: the main listener's host
// and the next port (127.0.0.1:8081 beside the default 127.0.0.1:8080),
// or a port the OS picks when the main listener's is picked too.
func devGatewayListen(mainListen string) string {
	host, port, err := net.SplitHostPort(mainListen)
	if err != nil {
		return "127.0.0.1:0"
	}
	p, err := strconv.Atoi(port)
	if err != nil || p == 0 || p >= 65535 {
		return net.JoinHostPort(host, "0")
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1))
}

// devNotes is the notes example served in process on a loopback port the
// OS picks, reachable only through the gateway's routes (its every
// request needs an assertion anyway).
type devNotes struct {
	*Listener
	svc *notes.Service
}

func (d *devNotes) Stop(ctx context.Context) error {
	err := d.Listener.Stop(ctx)
	if cerr := d.svc.Close(); err == nil {
		err = cerr
	}
	return err
}

// devNotesListener starts the notes example and points a dev gateway
// configuration at it.
func (s *server) devNotesListener(ctx context.Context) (Component, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	origin := "http://" + ln.Addr().String()
	_ = ln.Close() // httpx.Server binds it again in Start; loopback, so the window is local only
	av, err := jwtauth.NewAssertionVerifier(jwtauth.AssertionConfig{Issuer: s.cfg.Issuer, Keys: oauth.NewKeySource(s.km),
		Audience: origin, Replay: jwtauth.NewMemoryReplayCache(nil, 0)})
	if err != nil {
		return nil, err
	}
	svc, err := notes.Open(ctx, notes.Options{DSN: filepath.Join(s.cfg.DataDir, "notes.db"), Assertions: av, Logger: s.logger.With("listener", "notes example")})
	if err != nil {
		return nil, err
	}
	schemas, err := writeDevSchemas(s.cfg.DataDir)
	if err != nil {
		_ = svc.Close()
		return nil, err
	}
	// The dev table passes the same checks as a configured one.
	probe := *s.cfg
	probe.Gateway = devGatewayConfig(devGatewayListen(s.cfg.HTTP.Listen), origin, schemas)
	if err := probe.Validate(); err != nil {
		_ = svc.Close()
		return nil, fmt.Errorf("the dev gateway configuration: %w", err)
	}
	s.cfg.Gateway = probe.Gateway
	if err := s.devClient(ctx); err != nil {
		_ = svc.Close()
		return nil, err
	}
	srv := httpx.NewServer(httpx.ServerOptions{Addr: ln.Addr().String(), Handler: httpx.Chain(svc.Handler(), httpx.Recover(s.logger)),
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute,
		ShutdownTimeout: 5 * time.Second, MaxHeaderBytes: maxHeaderBytes, Logger: s.logger})
	s.notesListen = &Listener{Name: "notes example", Listen: ln.Addr().String(), Server: srv, Audit: s.audit, Logger: s.logger,
		Details: map[string]string{"listener": "notes example"}}
	return &devNotes{Listener: s.notesListen, svc: svc}, nil
}

// writeDevSchemas writes the example's JSON Schemas (embedded in the
// binary) to data_dir/gateway-schemas and returns the directory.
func writeDevSchemas(dataDir string) (string, error) {
	dir := filepath.Join(dataDir, "gateway-schemas")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	entries, err := fs.ReadDir(notes.Schemas, "schemas")
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		b, err := fs.ReadFile(notes.Schemas, "schemas/"+e.Name())
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// devGatewayConfig is the walk-through's route table: registration and
// notes behind Rampart's own tokens, reads limited per user (a burst of
// 10 so the walk-through shows a 429 quickly), writes schema-checked and
// sanitized.
func devGatewayConfig(listen, upstream, schemas string) *config.Gateway {
	auth := func(scopes ...string) config.RouteAuth {
		return config.RouteAuth{Set: true, Issuer: config.AuthIssuerSelf, Audience: []string{devNotesAudience}, Scopes: scopes, DPoP: config.DPoPOptional}
	}
	perUser := config.RouteLimit{Name: "per-user", Key: config.RouteKeySubject, Rate: 30, Period: config.Duration(time.Minute), Burst: 10}
	perIP := config.RouteLimit{Name: "per-ip", Key: config.RouteKeyClientIP, Rate: 300, Period: config.Duration(time.Minute), Burst: 100}
	jsonBody := func(schema string, sanitize ...string) config.RouteRequest {
		return config.RouteRequest{MaxBodyBytes: 64 << 10, ContentTypes: []string{"application/json"},
			JSONSchema: filepath.Join(schemas, schema), SanitizeHTML: sanitize}
	}
	route := func(name string, m config.RouteMatch, a config.RouteAuth, req config.RouteRequest) config.GatewayRoute {
		if req.MaxBodyBytes == 0 {
			req.MaxBodyBytes = 1024
		}
		return config.GatewayRoute{HealthCheck: config.HealthCheck{Interval: config.Duration(10 * time.Second), Timeout: config.Duration(2 * time.Second)}, Name: name, Match: m, Upstreams: []string{upstream}, Auth: a, Cost: 1, Request: req,
			RateLimits: []config.RouteLimit{perUser, perIP}, Timeout: config.Duration(30 * time.Second)}
	}
	g := &config.Gateway{Listen: listen, TLS: config.TLS{Mode: config.TLSOff}, ClientIPHeader: config.ClientIPHeaderXFF,
		MaxHeaderBytes: config.DefaultGatewayMaxHeaderBytes, ReadHeaderTimeout: config.Duration(5 * time.Second),
		ReadTimeout: config.Duration(30 * time.Second), WriteTimeout: config.Duration(60 * time.Second),
		IdleTimeout: config.Duration(120 * time.Second), Routes: []config.GatewayRoute{
			route("notes-register", config.RouteMatch{Path: "/api/users", Methods: []string{"POST"}}, auth("notes:write"), jsonBody("register.json")),
			route("notes-me", config.RouteMatch{Path: "/api/users/me", Methods: []string{"GET"}}, auth("notes:read"), config.RouteRequest{}),
			route("notes-read", config.RouteMatch{PathPrefix: "/api/notes", Methods: []string{"GET"}}, auth("notes:read"), config.RouteRequest{}),
			route("notes-write", config.RouteMatch{PathPrefix: "/api/notes", Methods: []string{"POST", "PUT"}}, auth("notes:write"), jsonBody("note.json", "/body")),
			route("notes-delete", config.RouteMatch{PathPrefix: "/api/notes", Methods: []string{"DELETE"}}, auth("notes:write"), config.RouteRequest{}),
		}}
	return g
}

// devClient creates the walk-through's client (or rotates its secret).
func (s *server) devClient(ctx context.Context) error {
	svc := admin.New(admin.Options{Clients: s.db.OAuth(), Configured: s.parts.Clients, SecretKey: s.kr.DataKey(kms.DataKeyClientSecret), Audit: s.audit})
	secret, err := svc.EnsureDevClient(ctx, admin.ClientSpec{ID: admin.DevNotesClient, GrantTypes: []string{config.GrantClientCredentials},
		Scopes: []string{"notes:read", "notes:write"}, Audience: []string{devNotesAudience}})
	if err != nil {
		return err
	}
	s.devSecret = secret
	return svc.EnsureDevCLIClient(ctx)
}

// printWalkthrough tells a new user how to see the gateway work.
func (s *server) printWalkthrough() {
	if s.devSecret == "" || s.gwListen == nil {
		return
	}
	main, gw := "http://"+s.listen.Addr().String(), "http://"+s.gwListen.Addr().String()
	fmt.Fprintf(s.o.Stdout, `
  DEV WALK-THROUGH: the notes example (examples/notes) behind the gateway.
  1. Get a token (client %s; its secret is new at every dev start):
       TOKEN=$(curl -s -u %s:%s -d grant_type=client_credentials -d 'scope=notes:read notes:write' %s/oauth2/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  2. Call the API through the gateway (the service sees a verified identity):
       curl -H "Authorization: Bearer $TOKEN" %s/api/users/me
       curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"title":"hello","body":"<p>hi<img src=x onerror=alert(1)></p>"}' %s/api/notes
  3. See a 422 (the schema refuses an empty title):
       curl -i -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"title":""}' %s/api/notes
  4. See a 429 (10 reads in a burst per user):
       for i in $(seq 12); do curl -s -o /dev/null -w '%%{http_code} ' -H "Authorization: Bearer $TOKEN" %s/api/notes; done; echo
  Without a token: curl -i %s/api/notes  (401)
  5. Administer from a terminal as admin (the device flow; admin signs in
     with TOTP): rampart login --issuer %s --client-id %s --scope 'openid rampart:admin' --output token.json
     then: rampart client list --issuer %s --token-file token.json

`, admin.DevNotesClient, admin.DevNotesClient, s.devSecret, main, gw, gw, gw, gw, gw, main, admin.DevCLIClient, main)
}
