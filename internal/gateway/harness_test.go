package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
	"github.com/rampart-auth/rampart/jwtauth"
	"github.com/rampart-auth/rampart/ratelimit"
)

const (
	hIssuer   = "https://auth.example.test"
	hAudience = "https://notes.example.test"
)

// hAudit is an in-memory Auditor.
type hAudit struct {
	mu     sync.Mutex
	events []audit.Event
}

func (a *hAudit) Record(_ context.Context, e audit.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
	return nil
}

func (a *hAudit) find(action string) []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []audit.Event
	for _, e := range a.events {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// keyManager is a real key manager (sealed ES256 keys over SQLite), as
// serve builds it.
func keyManager(t testing.TB) *keys.Manager {
	t.Helper()
	mk, err := kms.LoadMasterKey("", testkit.MasterKeyBase64)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := kms.NewKEK(mk, 1)
	if err != nil {
		t.Fatal(err)
	}
	km, err := keys.NewManager(keys.Options{
		Store: storetest.Open(t, sqlstore.SQLite), Master: kek, MaxTokenLifetime: time.Hour,
		Auditor: &hAudit{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := km.Init(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	return km
}

// harness is a gateway behind a real listener with the production chain
// (one client address, request id, recover), over a real key manager.
type harness struct {
	km    *keys.Manager
	gw    *Gateway
	srv   *httptest.Server
	jwks  *httptest.Server
	audit *hAudit
	reg   *prometheus.Registry
	deny  *jwtauth.MemoryDenyList
	cfg   *config.Config
}

type hOption func(*Deps)

func newHarness(t testing.TB, routes []config.GatewayRoute, opts ...hOption) *harness {
	t.Helper()
	km := keyManager(t)
	h := &harness{km: km, audit: &hAudit{}, reg: prometheus.NewRegistry(), deny: jwtauth.NewMemoryDenyList(nil)}
	h.jwks = httptest.NewServer(km.JWKSHandler())
	t.Cleanup(h.jwks.Close)
	d := Deps{Issuer: hIssuer, SelfKeys: selfKeys{km}, Deny: h.deny, Signer: km,
		Limits: ratelimit.NewMemoryStore(nil), ShardSecret: []byte(strings.Repeat("s", 32)),
		Audit: h.audit, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: h.reg}
	for _, o := range opts {
		o(&d)
	}
	gw, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gw.Close)
	h.gw = gw
	h.srv = httptest.NewServer(httpx.Chain(gw, httpx.ClientAddr(nil, ""), httpx.RequestID, httpx.Recover(d.Logger)))
	t.Cleanup(h.srv.Close)
	h.cfg = &config.Config{Issuer: hIssuer, Gateway: &config.Gateway{Listen: h.srv.Listener.Addr().String(), Routes: routes}}
	if err := gw.Load(h.cfg); err != nil {
		t.Fatal(err)
	}
	return h
}

// selfKeys is the key manager's published set as a jwtauth.KeySource
// (what oauth.NewKeySource gives serve).
type selfKeys struct{ km *keys.Manager }

func (s selfKeys) Key(_ context.Context, kid string) (*jwtauth.Key, error) {
	for _, k := range s.km.PublicJWKS().Keys {
		if k.KeyID == kid {
			return jwtauth.KeyFromJWK(k, k.Algorithm)
		}
	}
	return nil, jwtauth.ErrUnknownKey
}

// token signs an RFC 9068 access token with the manager's active key;
// extra claims override the defaults.
func (h *harness) token(t testing.TB, extra map[string]any) string {
	t.Helper()
	var jti [8]byte
	_, _ = rand.Read(jti[:])
	now := time.Now()
	c := map[string]any{"iss": hIssuer, "sub": "alice", "aud": hAudience, "client_id": "web",
		"scope": "notes:read notes:write", "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"jti": hex.EncodeToString(jti[:])}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	payload, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	k, err := h.km.Signer()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := keys.SignJWS(rand.Reader, k, "at+jwt", payload)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// do sends a request without a body to the gateway.
func (h *harness) do(t testing.TB, method, target, token string) *http.Response {
	t.Helper()
	return h.doBody(t, method, target, token, nil)
}

// doBody sends a request with a body and extra header pairs.
func (h *harness) doBody(t testing.TB, method, target, token string, body io.Reader, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+target, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func (h *harness) counter(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// seen is one request as an upstream received it.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
	Assertion              *jwtauth.Assertion
	AssertionErr           error
}

// echo is an upstream that records what reached it and verifies the
// gateway's assertion against the JWKS, as a real service would.
type echo struct {
	srv  *httptest.Server
	av   *jwtauth.AssertionVerifier
	mu   sync.Mutex
	got  []seen
	code int
}

func newEcho(t testing.TB, h *harness) *echo {
	t.Helper()
	e := &echo{code: http.StatusOK}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	jwks, err := jwtauth.NewJWKS(jwtauth.JWKSConfig{URL: h.jwks.URL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	e.av, err = jwtauth.NewAssertionVerifier(jwtauth.AssertionConfig{Issuer: hIssuer, Keys: jwks,
		Audience: e.srv.URL, Replay: jwtauth.NewMemoryReplayCache(nil, 0)})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *echo) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s := seen{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(b)}
	s.Assertion, s.AssertionErr = e.av.VerifyAssertion(r.Context(), r.Header.Get(HeaderAssertion))
	e.mu.Lock()
	e.got = append(e.got, s)
	code := e.code
	e.mu.Unlock()
	w.Header().Set("Server", "nginx/1.0 (leaky)")
	w.Header().Set("X-Frame-Options", "ALLOWALL")
	w.WriteHeader(code)
	_, _ = w.Write([]byte("ok"))
}

func (e *echo) last(t testing.TB) seen {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.got) == 0 {
		t.Fatal("nothing reached the upstream")
	}
	return e.got[len(e.got)-1]
}

func (e *echo) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.got)
}

// route is a route to up with the given auth; nil auth means `none`.
func route(name, prefix string, up []string, auth *config.RouteAuth, methods ...string) config.GatewayRoute {
	if len(methods) == 0 {
		methods = []string{"GET", "POST", "PUT", "DELETE"}
	}
	rc := config.GatewayRoute{Name: name, Match: config.RouteMatch{PathPrefix: prefix, Methods: methods}, Upstreams: up}
	if auth == nil {
		rc.Auth = config.RouteAuth{Set: true, None: true}
	} else {
		rc.Auth = *auth
		rc.Auth.Set = true
	}
	return rc
}

func selfAuth(scopes ...string) *config.RouteAuth {
	return &config.RouteAuth{Issuer: "self", Audience: []string{hAudience}, Scopes: scopes}
}
