package oauth

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/web"
	"github.com/rampart-auth/rampart/jwtauth"
	"github.com/rampart-auth/rampart/ratelimit"
)

// Auditor records audit events (audit.Log). Record returns once the event
// is durable; an action whose event cannot be recorded fails.
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
	// Pseudonymize returns a keyed pseudonym of a sensitive value.
	Pseudonymize(value string) string
}

// DenyPublisher pushes revoked access-token ids to resource servers'
// shared deny list (jwtauth.RedisDenyList), when there is one.
type DenyPublisher interface {
	Add(ctx context.Context, jti string, until time.Time) error
}

// Lifetimes of what the server issues.
const (
	// CodeTTL: RFC 6749 §4.1.2 recommends at most 10 minutes; a code is
	// redeemed by a machine right after the redirect, so 60 s is plenty and
	// shrinks the window for a stolen code.
	CodeTTL = 60 * time.Second
)

// Options configures a Server. Every field is required unless marked.
type Options struct {
	Issuer   string
	Store    Store
	Clients  *Registry
	Users    *identity.Users
	Sessions *identity.Sessions
	Signer   Signer
	Keys     PublicKeys
	Audit    Auditor
	CSRF     *web.CSRF
	Logger   *slog.Logger
	// LoginProofKey (at least 32 bytes, the same on every instance: the
	// kms data key kms.DataKeyLoginProof) signs the proof of a
	// sign-in made for an authorization request (ParamLoginProof).
	LoginProofKey []byte
	// MFA is the TOTP second factor (enrolment, verification). Required:
	// admins and require_mfa clients cannot be served without it.
	MFA *identity.MFA
	// OTPLimiter (one limit, LimitOTPUser, keyed by user id) bounds
	// second-factor attempts; nil disables it (tests of other features).
	OTPLimiter *ratelimit.Limiter
	// Deny also receives revoked access tokens (optional).
	Deny DenyPublisher
	// Now and Rand default to time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader

	// LoginLimiter (limits "ip" and "username", in that order) and
	// TokenLimiter (limits found by name: "client", and "token_ip" and
	// "client_auth_failed" in front of client authentication, see
	// limitToken and limitClientAuth) protect sign-in and the token,
	// revocation and introspection endpoints; nil disables them (tests of
	// other features).
	LoginLimiter *ratelimit.Limiter
	TokenLimiter *ratelimit.Limiter
	// DeviceLimiter (limits LimitDeviceIP and LimitDeviceGlobal, in that
	// order, NewDeviceLimiter) bounds user-code submissions on the device
	// page; nil disables it (tests of other features).
	DeviceLimiter *ratelimit.Limiter
	// The client address of limits and audit events is the one
	// httpx.ClientAddr put in the request context (trusted proxies are
	// configured there, once for every consumer).

	// DPoPReplay remembers the DPoP proof ids seen at the token endpoint
	// and userinfo (RFC 9449 §11.1); nil is an in-process cache, right
	// for one instance only: a fleet shares jwtauth.RedisReplayCache
	// (prefix DPoPReplayPrefix). DPoPNonces, when set, makes the token
	// endpoint require server nonces (§8; NewDPoPNonces).
	DPoPReplay jwtauth.ReplayCache
	DPoPNonces jwtauth.NonceChecker
	// parjwt: AssertionReplay remembers private_key_jwt assertion ids
	// (optional: jwtauth.RedisReplayCache when Redis is configured; the
	// default is the store's conditional insert). JWKSClient fetches
	// clients' jwks_uri (optional; jwtauth's default client).
	AssertionReplay jwtauth.ReplayCache
	JWKSClient      *http.Client
	// MTLS, when set, is the token endpoint's mTLS endpoint alias (RFC
	// 8705 §5; certbound.go): served by MTLSHandler on the CA's enrolment
	// listener and published in discovery. Optional.
	MTLS *MTLSAlias
	// RequirePAR: every client must push its authorization requests
	// (oauth.require_pushed_authorization_requests, RFC 9126 §5).
	RequirePAR bool

	// Sleep waits for the progressive login delay (tests inject it).
	Sleep func(ctx context.Context, d time.Duration) error

	AccessTokenTTL      time.Duration
	RefreshTokenTTL     time.Duration
	RefreshTokenIdleTTL time.Duration
	IDTokenTTL          time.Duration

	// ScopeDescriptions are the configuration's human descriptions of
	// scopes (oauth.scopes), shown on consent pages (DescribeScopes);
	// optional.
	ScopeDescriptions map[string]string
}

// Server is the authorization server.
type Server struct {
	opts     Options
	verifier *jwtauth.Verifier     // our own access tokens
	proofs   *jwtauth.ProofChecker // DPoP proofs at the token endpoint (dpop.go)
	idKeys   *keySource            // our own ID tokens (id_token_hint)
	now      func() time.Time
	rand     io.Reader
	log      *slog.Logger
	cop      *http.CrossOriginProtection
	trail    auditTrail
	revoker  Revoker
	// pendingKey signs pending two-step sign-ins (pendingLogin).
	pendingKey []byte
	ender      AccessEnder
	// The server's slices of the store, each consumed where its
	// interface is defined.
	codes           codeSaver
	consents        consentStore
	account         accountStore
	refreshes       refreshReader
	families        familyRevoker
	deviceSaves     deviceSaver
	deviceDecisions deviceDecider
	// grants are the token endpoint's handlers by grant_type
	// (newGrantHandlers).
	grants map[string]grantHandler
	// parjwt: private_key_jwt verifiers per client and the jti replay cache.
	assertionKeys   clientVerifiers
	assertionReplay jwtauth.ReplayCache
	pars            parStore // pushed authorization requests (par.go)
}

// New builds a Server.
func New(opts Options) (*Server, error) {
	if opts.Issuer == "" || opts.Store == nil || opts.Clients == nil || opts.Users == nil || opts.Sessions == nil ||
		opts.Signer == nil || opts.Keys == nil || opts.Audit == nil || opts.CSRF == nil || len(opts.LoginProofKey) < 32 || opts.MFA == nil {
		return nil, errors.New("oauth: incomplete options")
	}
	if opts.MTLS != nil && (opts.MTLS.Binder == nil || opts.MTLS.TokenEndpoint == nil) {
		return nil, errors.New("oauth: the mTLS alias needs a token endpoint URL and a certificate binder")
	}
	s := &Server{opts: opts, now: opts.Now, rand: opts.Rand, log: opts.Logger,
		codes: opts.Store, pars: opts.Store, consents: opts.Store, account: opts.Store, refreshes: opts.Store, families: opts.Store, deviceSaves: opts.Store, deviceDecisions: opts.Store}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.trail = auditTrail{rec: opts.Audit, log: s.log}
	s.pendingKey = pendingKeyFrom(opts.LoginProofKey)
	s.revoker = Revoker{Store: opts.Store, Shared: opts.Deny}
	s.grants = newGrantHandlers(s)
	proofs, replay, err := newProofChecker(opts.DPoPReplay, opts.DPoPNonces, s.now)
	if err != nil {
		return nil, err
	}
	s.proofs = proofs
	s.assertionReplay = opts.AssertionReplay
	if s.assertionReplay == nil {
		s.assertionReplay = storeReplay{st: opts.Store, now: s.now}
	}
	s.ender = AccessEnder{Sessions: opts.Sessions, Tokens: opts.Store, Revoker: s.revoker, Audit: opts.Audit, Now: s.now}
	s.idKeys = &keySource{keys: opts.Keys}
	v, err := jwtauth.New(jwtauth.Config{
		Issuer:       opts.Issuer,
		Keys:         s.idKeys,
		SkipAudience: true, // each endpoint checks the audience it needs
		DenyList:     denyList{store: opts.Store, now: s.now},
		Clock:        s.now,
		CacheSize:    -1,
		// Userinfo accepts DPoP-bound tokens with their proof
		// (VerifyDPoP); its proofs share the token endpoint's replay
		// cache under their own keys (jkt|jti there, method URI jti here).
		DPoP: jwtauth.DPoPConfig{Replay: replay},
	})
	if err != nil {
		return nil, err
	}
	s.verifier = v
	// Cross-origin protection for every form post (login, consent,
	// account): rejects non-safe requests a browser marks cross-site
	// (Sec-Fetch-Site) or whose Origin differs from the Host.
	s.cop = http.NewCrossOriginProtection()
	s.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.audit(r, audit.Event{Actor: "anonymous", Action: audit.ActionCSRF, Target: "path:" + r.URL.Path, Outcome: audit.OutcomeDenied, Reason: "cross_origin"})
		s.errorPage(w, r, http.StatusForbidden, "Request refused", "This form was submitted from another site.", "")
	}))
	return s, nil
}

// Paths of the endpoints (published in discovery).
const (
	PathAuthorize  = "/oauth2/authorize"
	PathToken      = "/oauth2/token" // #nosec G101 -- an endpoint path, not a credential
	PathRevoke     = "/oauth2/revoke"
	PathIntrospect = "/oauth2/introspect"
	PathPAR        = "/oauth2/par"
	PathUserinfo   = "/oauth2/userinfo"
	PathConsent    = "/oauth2/consent"
	PathLogin      = "/login"
	PathLogout     = "/logout"
	PathAccount    = "/account"
)

// Register adds the server's routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("GET /.well-known/openid-configuration", s.discoveryHandler())
	mux.Handle("GET /.well-known/oauth-authorization-server", s.discoveryHandler())
	mux.HandleFunc("GET "+PathAuthorize, s.handleAuthorize)
	mux.HandleFunc("POST "+PathAuthorize, s.handleAuthorize)
	mux.Handle("POST "+PathConsent, s.cop.Handler(http.HandlerFunc(s.handleConsent)))
	mux.HandleFunc("GET "+PathLogin, s.handleLoginPage)
	mux.Handle("POST "+PathLogin, s.cop.Handler(http.HandlerFunc(s.handleLogin)))
	mux.Handle("POST "+PathLogout, s.cop.Handler(http.HandlerFunc(s.handleLogout)))
	mux.HandleFunc("GET "+PathAccount, s.handleAccount)
	mux.Handle("POST "+PathAccount+"/consents/revoke", s.cop.Handler(http.HandlerFunc(s.handleRevokeConsent)))
	s.registerMFA(mux)
	mux.Handle("POST "+PathAccountSessionEnd, s.cop.Handler(http.HandlerFunc(s.handleEndAccountSession)))
	mux.Handle("POST "+PathAccountSessionsEnd, s.cop.Handler(http.HandlerFunc(s.handleEndOtherSessions)))
	mux.HandleFunc("GET "+PathAccountPassword, s.handlePasswordPage)
	mux.Handle("POST "+PathAccountPassword, s.cop.Handler(http.HandlerFunc(s.handlePasswordChange)))
	// RP-initiated logout: the RP's GET or POST comes from another site
	// (no cross-origin protection there; it ends nothing without the
	// user's confirmation or a hint naming them); the confirmation is a
	// same-site, CSRF-protected form.
	mux.HandleFunc("GET "+PathEndSession, s.handleEndSession)
	mux.HandleFunc("POST "+PathEndSession, s.handleEndSession)
	mux.Handle("POST "+PathEndSessionConfirm, s.cop.Handler(http.HandlerFunc(s.handleEndSessionConfirm)))
	mux.HandleFunc("POST "+PathToken, s.handleToken)
	mux.HandleFunc("POST "+PathPAR, s.handlePAR)
	mux.HandleFunc("POST "+PathDeviceAuthorization, s.handleDeviceAuthorization)
	mux.HandleFunc("GET "+PathDevice, s.handleDevicePage)
	mux.Handle("POST "+PathDevice, s.cop.Handler(http.HandlerFunc(s.handleDevicePost)))
	mux.HandleFunc("POST "+PathRevoke, s.handleRevoke)
	mux.HandleFunc("POST "+PathIntrospect, s.handleIntrospect)
	mux.HandleFunc("GET "+PathUserinfo, s.handleUserinfo)
	mux.HandleFunc("POST "+PathUserinfo, s.handleUserinfo)
	mux.Handle("GET "+web.StylePath, web.StyleHandler())
	mux.Handle("GET "+web.FaviconPath, web.FaviconHandler())
	mux.Handle("GET "+web.LogoPath, web.LogoHandler())
}

// audit records e with the request's address and id. A failure is logged;
// callers that must fail closed use mustAudit.
func (s *Server) audit(r *http.Request, e audit.Event) { s.trail.record(r, e) }

// mustAudit records e with the request's address and id, and returns the
// failure to record it: the caller fails closed.
func (s *Server) mustAudit(r *http.Request, e audit.Event) error { return s.trail.must(r, e) }

// auditTrail records the audit events of requests; the server and each
// grant handler share one.
type auditTrail struct {
	rec Auditor
	log *slog.Logger
}

// record records e with the request's address and id. A failure is
// logged; callers that must fail closed use must.
func (t auditTrail) record(r *http.Request, e audit.Event) {
	if err := t.must(r, e); err != nil {
		t.log.ErrorContext(r.Context(), "audit record failed", "action", e.Action, "err", err)
	}
}

// must records e with the request's address and id and returns the
// failure to record it.
func (t auditTrail) must(r *http.Request, e audit.Event) error {
	e.ClientAddr = httpx.ClientIP(r)
	e.RequestID = httpx.RequestIDFrom(r.Context())
	return t.rec.Record(r.Context(), e)
}

// errorPage answers a browser with an HTML error page (never a redirect).
func (s *Server) errorPage(w http.ResponseWriter, _ *http.Request, status int, title, msg, code string) {
	web.Render(w, s.log, status, "error.html", map[string]string{"Title": title, "Message": msg, "Code": code})
}

// denyAccess pushes revoked access tokens to the store's deny list and, if
// configured, the shared one, through the Revoker the CLI uses too.
func (s *Server) denyAccess(ctx context.Context, tokens []IssuedAccess) error {
	return s.revoker.Revoke(ctx, tokens)
}
