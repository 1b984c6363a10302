// Package adminapi is the admin API: JSON under /admin/api/v1/ for
// clients, users, sessions, signing keys and audit queries. Every
// operation runs the use case of internal/admin the CLI runs (one place
// for each check and each audit event); this package adds only HTTP:
// authentication of the caller, request decoding, problem+json errors and
// one admin.request audit event per call.
package adminapi

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"net/http"

	"github.com/rampart-auth/rampart/internal/admin"
	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/jwtauth"
)

// Prefix is where the API lives under the issuer.
const Prefix = "/admin/api/v1"

// Authenticator verifies a request's access token (oauth.Server's
// AuthenticateRequest: Bearer or DPoP, signature, issuer, expiry, deny
// list).
type Authenticator interface {
	AuthenticateRequest(r *http.Request) (*jwtauth.Claims, error)
}

// UserLookup finds the user a token names (identity.Users).
type UserLookup interface {
	ByID(ctx context.Context, id string) (*identity.User, error)
}

// Auditor records an audit event durably (audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Options wire the API. Every field is required except Logger.
type Options struct {
	// Issuer is the server's issuer identifier: the API's own audience is
	// Issuer + Prefix.
	Issuer  string
	Service *admin.Service
	Auth    Authenticator
	Users   UserLookup
	Audit   Auditor
	Logger  *slog.Logger
}

// API serves the admin API.
type API struct {
	o        Options
	mux      *http.ServeMux
	problems http.Handler // mux, its own 404 and 405 as problem+json
}

// New builds the API.
func New(o Options) (*API, error) {
	if o.Issuer == "" || o.Service == nil || o.Auth == nil || o.Users == nil || o.Audit == nil {
		return nil, errors.New("adminapi: incomplete options")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	a := &API{o: o, mux: http.NewServeMux()}
	a.routes()
	a.problems = httpx.MuxProblems(a.mux)
	return a, nil
}

//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the API's OpenAPI 3.1 document.
func OpenAPI() []byte { return openAPI }

// Register adds the API's routes to mux (the main listener's).
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("GET "+Prefix+"/openapi.json", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(openAPI)
	}))
	mux.Handle(Prefix+"/", a)
}

// ServeHTTP authenticates the caller, runs the operation and records the
// call.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Answers describe one caller's view of the system: never cached by a
	// browser or a shared cache (OWASP REST Security Cheat Sheet).
	w.Header().Set("Cache-Control", "no-store")
	rec, status := httpx.StatusRecorder(w)
	call := &callInfo{actor: "anonymous"}
	r = r.WithContext(context.WithValue(r.Context(), callKey{}, call))
	a.serve(rec, r, call)
	a.recordCall(r, call, status())
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, call *callInfo) {
	_, pattern := a.mux.Handler(r)
	call.route = pattern
	// A path that matches no operation is answered without looking at the
	// token (the API's shape is public: openapi.json), as a problem+json
	// 404 or 405, and still recorded.
	if pattern != "" {
		actor, ok := a.authenticate(w, r, call)
		if !ok {
			return
		}
		call.actor = actor
	}
	// The inner mux sets the path values and the pattern on the request it
	// serves; the outer mux's pattern (Prefix+"/") must not be mistaken
	// for a match by MuxProblems.
	inner := r.WithContext(r.Context())
	inner.Pattern = ""
	a.problems.ServeHTTP(w, inner)
}

// recordCall records admin.request: who called which operation and how it
// ended. The target is the matched route pattern (or the method alone for
// a path that matched nothing), never the raw path a caller chose.
func (a *API) recordCall(r *http.Request, call *callInfo, status int) {
	target := "api:" + r.Method
	if call.route != "" {
		target = "api:" + call.route
	}
	outcome := audit.OutcomeSuccess
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		outcome = audit.OutcomeDenied
	case status >= 400:
		outcome = audit.OutcomeFailure
	}
	e := audit.Event{Actor: call.actor, Action: audit.ActionAdminRequest, Target: target, Outcome: outcome, Reason: call.reason,
		ClientAddr: httpx.ClientIP(r), RequestID: httpx.RequestIDFrom(r.Context()),
		Details: map[string]string{"status": http.StatusText(status)}}
	if call.object != "" {
		e.Details["object"] = call.object
	}
	if err := a.o.Audit.Record(r.Context(), e); err != nil {
		a.o.Logger.ErrorContext(r.Context(), "audit record failed", "action", e.Action, "err", err)
	}
}

// callInfo is what the audit event of a call needs, filled in as the call
// goes.
type callInfo struct {
	actor  string
	route  string
	reason string
	// object is the id the operation acted on (a client, user or key id
	// from the path, after it matched).
	object string
}

type callKey struct{}

func callOf(r *http.Request) *callInfo {
	if c, ok := r.Context().Value(callKey{}).(*callInfo); ok {
		return c
	}
	return &callInfo{}
}

// actorOf returns the authenticated actor of the request ("user:<id>").
func actorOf(r *http.Request) string { return callOf(r).actor }
