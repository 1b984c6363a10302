package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/gateway/upstream"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/jwtauth"
	"github.com/rampart-auth/rampart/mtls"
	"github.com/rampart-auth/rampart/ratelimit"
)

// Auditor records audit events (audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Deps are what a Gateway is built from; they live as long as the process,
// across every reload of the route table.
type Deps struct {
	// Issuer is Rampart's own issuer: `issuer: self` routes trust it, and
	// it is the iss of every assertion.
	Issuer string
	// SelfKeys are Rampart's own published keys (in process: no HTTP hop
	// to verify a token Rampart signed).
	SelfKeys jwtauth.KeySource
	// Deny is the shared deny list revocation writes to (Redis across a
	// fleet, or the in-process list); consulted for self-issued tokens.
	Deny jwtauth.DenyList
	// Signer signs assertions (keys.Manager).
	Signer Signer
	// Limits is the store of every route's rate limits (memory, or Redis
	// when redis.url is set).
	Limits ratelimit.Store
	// DPoPReplay remembers DPoP proof ids (Redis across a fleet).
	DPoPReplay jwtauth.ReplayCache
	// HTTPClient fetches external issuers' discovery documents and JWKS.
	HTTPClient *http.Client
	// ShardSecret keys the shuffle-shard hash (≥ 32 bytes, stable across
	// the fleet so every instance puts a tenant on the same shard).
	ShardSecret []byte
	// TLS reports whether the gateway listener serves TLS (proto and HSTS).
	TLS bool
	// MTLSListener reports whether the listener verifies client SVIDs
	// (gateway.tls.mode spiffe): routes with auth.mtls load only then.
	// TrustDomain is the listener's (its own SVID's) trust domain, the one
	// whose SVIDs it accepts; an allow entry outside it is refused at load.
	MTLSListener bool
	TrustDomain  spiffeid.TrustDomain
	// SPIFFE is the gateway's own SVID and bundles (gateway.spiffe), for
	// upstream_tls.spiffe_id; nil when the gateway has none.
	SPIFFE     mtls.Source
	Audit      Auditor
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Clock      func() time.Time
}

// Gateway is the identity-aware reverse proxy: an http.Handler whose route
// table is swapped atomically by Load. A request runs entirely on the
// table it started with, so a reload never fails a request in flight.
type Gateway struct {
	d       Deps
	m       *metrics
	minter  *AssertionMinter
	st      atomic.Pointer[state]
	ctx     context.Context // background work: health checks, JWKS refresh
	cancel  context.CancelFunc
	mu      sync.Mutex // serializes Load
	issuers *issuers
	limits  *limiterCache
	deny    *denyCache
}

// New builds a gateway with an empty route table (every request 404 until
// Load).
func New(d Deps) (*Gateway, error) {
	if d.Issuer == "" || d.SelfKeys == nil || d.Signer == nil || d.Limits == nil || d.Audit == nil {
		return nil, errors.New("gateway: Deps needs Issuer, SelfKeys, Signer, Limits and Audit")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Registerer == nil {
		d.Registerer = prometheus.NewRegistry()
	}
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.HTTPClient == nil {
		d.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if d.DPoPReplay == nil {
		d.DPoPReplay = jwtauth.NewMemoryReplayCache(d.Clock, 0)
	}
	minter, err := NewAssertionMinter(MinterOptions{Signer: d.Signer, Issuer: d.Issuer, Clock: d.Clock})
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(d.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{d: d, m: m, minter: minter, ctx: ctx, cancel: cancel, limits: newLimiterCache(),
		deny: newDenyCache(d.Deny, d.Clock)}
	g.issuers = newIssuers(ctx, d)
	empty, _ := Compile(nil)
	g.st.Store(&state{router: empty})
	return g, nil
}

// Close stops the background work of the current table.
func (g *Gateway) Close() {
	g.cancel()
	if st := g.st.Load(); st != nil {
		st.close()
	}
}

// Routes returns the names of the routes being served, in order.
func (g *Gateway) Routes() []string {
	st := g.st.Load()
	out := make([]string, 0, len(st.routes))
	for _, r := range st.routes {
		out = append(out, r.name)
	}
	return out
}

// reqInfo is what the pipeline's stages share about one request; one
// allocation per request, in the context.
type reqInfo struct {
	route  *routeRT
	path   string // the canonical path
	client string // the one client address (httpx.ClientIP)
	claims *jwtauth.Claims
	// claimMap is the token payload's members, decoded on first use.
	claimMap map[string]json.RawMessage
	reason   string // why authentication failed, for metrics and audit
	// peer is the client SVID's SPIFFE ID on a route with an mtls rule
	// (zero elsewhere), as the handshake verified it.
	peer   spiffeid.ID
	target *upstream.Target
}

type reqInfoKey struct{}

func infoFrom(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	return ri
}

// ServeHTTP runs one request: one canonical path, one route, then the
// route's stages (authentication, limits, input, upstream).
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := g.st.Load()
	path, err := RequestPath(r.RequestURI)
	if err == nil {
		path, err = Canonicalize(path)
	}
	if err != nil {
		// Refused, never guessed: a path the gateway and the service could
		// read differently is the root of every bypass in the corpus.
		g.m.refused.WithLabelValues("bad_path").Inc()
		g.problem(w, r, http.StatusBadRequest, "The request path is not in canonical form.")
		return
	}
	route, res := st.router.Match(r.Method, r.Host, path)
	if res != Matched {
		g.m.refused.WithLabelValues(res.String()).Inc()
		detail := "No route serves this request."
		if res == BadHost {
			detail = "The Host header is not a valid host."
		}
		g.problem(w, r, res.Status(), detail)
		return
	}
	rt := st.routes[route.Index()]
	// The route's security headers are on every answer, the gateway's own
	// refusals (401, 429, 422...) and the upstream's alike.
	setSecurityHeaders(w.Header(), rt.sec)
	ri := &reqInfo{route: rt, path: path, client: httpx.ClientIP(r)}
	r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
	// From here on the canonical path is the request's path: the route's
	// stages, the DPoP htu, the limits' keys and the upstream all read it.
	r.URL.Path, r.URL.RawPath = path, ""
	sw := &statusWriter{ResponseWriter: w}
	rt.handler.ServeHTTP(sw, r)
	rt.observe(sw.code(), time.Since(start))
}

// problem answers an RFC 9457 problem with the gateway's security headers.
func (g *Gateway) problem(w http.ResponseWriter, r *http.Request, status int, detail string) {
	setSecurityHeaders(w.Header(), defaultSecurity(g.d.TLS))
	httpx.WriteProblem(w, r, status, "", detail)
}

// statusWriter records the status a stage wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// Unwrap lets http.ResponseController reach the connection (flush for
// streamed upstream answers).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush passes a flush on (ReverseProxy flushes streamed responses).
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
