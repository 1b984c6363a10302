// Package secretsapi is the secrets manager's HTTP API under
// /secrets/v1/: JSON in and out, problem+json errors (RFC 9457), every
// operation run by the secrets.Manager (which checks the policy and
// records the audit event) for the principal auth.go derives from the
// request. Dynamic credentials (Leases) and rotation (Rotations) are
// optional engines: without one their routes answer 404.
package secretsapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/httpx"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgdyn"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

// Prefix is where the API lives under the issuer (and on ca.listen).
const Prefix = "/secrets/v1"

// MaxBodyBytes bounds a request body (128 KiB: a 64 KiB value base64
// encoded, with room for labels and metadata).
const MaxBodyBytes = 128 << 10

// Secrets is what the API needs of the manager (*secrets.Manager).
type Secrets interface {
	Get(ctx context.Context, p secrets.Principal, path secrets.Path, sel secrets.Selector) (secrets.Secret, error)
	Put(ctx context.Context, p secrets.Principal, path secrets.Path, v secrets.Value, o secrets.PutOptions) (secrets.VersionInfo, error)
	List(ctx context.Context, p secrets.Principal, prefix secrets.Prefix) ([]secrets.Meta, error)
	Versions(ctx context.Context, p secrets.Principal, path secrets.Path) (secrets.Meta, []secrets.VersionInfo, error)
	MoveLabel(ctx context.Context, p secrets.Principal, path secrets.Path, label string, to int64, expect *int64) error
	RemoveLabel(ctx context.Context, p secrets.Principal, path secrets.Path, label string, expect *int64) error
	Delete(ctx context.Context, p secrets.Principal, path secrets.Path, versions []int64) error
	Undelete(ctx context.Context, p secrets.Principal, path secrets.Path, versions []int64) error
	Destroy(ctx context.Context, p secrets.Principal, path secrets.Path, versions []int64) error
}

var _ Secrets = (*secrets.Manager)(nil)

// Leases is the dynamic credential engine (pgdyn.Engine). Each method
// checks the lease capability and records its own audit event.
type Leases interface {
	Create(ctx context.Context, p secrets.Principal, path secrets.Path, ttl time.Duration) (pgdyn.Lease, error)
	Renew(ctx context.Context, p secrets.Principal, id string, ttl time.Duration) (pgdyn.Lease, error)
	Revoke(ctx context.Context, p secrets.Principal, id string) error
	List(ctx context.Context, p secrets.Principal, path secrets.Path) ([]pgdyn.Lease, error)
}

// Rotations is the rotation engine (rotation.Engine). Each method checks
// the rotate capability and records its own audit event.
type Rotations interface {
	Rotate(ctx context.Context, p secrets.Principal, path secrets.Path, r rotation.Request) (rotation.Status, error)
	Status(ctx context.Context, p secrets.Principal, path secrets.Path) (rotation.Status, error)
}

// Auditor records an audit event (audit.Log): the API records only the
// refusals that happen before the manager is reached (authentication).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Options wire an API. Secrets, Auth and Audit are required; Leases and
// Rotations may be nil (their routes answer 404).
type Options struct {
	Secrets   Secrets
	Leases    Leases
	Rotations Rotations
	// Auth decides who the caller is (TokenAuth on the main listener,
	// PeerAuth on ca.listen).
	Auth   Authenticator
	Audit  Auditor
	Logger *slog.Logger
}

// API serves /secrets/v1/.
type API struct {
	o Options
}

// New checks o and returns the API.
func New(o Options) (*API, error) {
	if o.Secrets == nil || o.Auth == nil || o.Audit == nil {
		return nil, errors.New("secretsapi: incomplete options")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &API{o: o}, nil
}

// Register adds the API to mux. The main listener must also route the
// prefix around the mux's path cleaning (Route): ServeMux answers a path
// with "..", "." or "//" with a redirect to its cleaned form, and the API
// refuses such a path instead (a redirect would resolve traversal for
// the caller, OWASP Path Traversal).
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle(Prefix+"/", a)
}

// Route returns a handler that sends every request under Prefix to api
// before next (a ServeMux) sees it, so no path is cleaned or redirected.
func Route(api http.Handler, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.EscapedPath(), Prefix+"/") {
			api.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// route is one operation: a method and the first segment after Prefix.
type route struct {
	method string
	op     string
	// action is the audit action of the operation (for refusals before
	// the manager records its own).
	action string
	// arg: what follows the operation segment.
	arg argKind
	// serv runs the operation on its parsed target and returns the
	// status and document of a success (nil: no body), or the error
	// ServeHTTP answers (writeError).
	serv func(a *API, w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error)
}

// target is a route's parsed argument: the one of its kind is set.
type target struct {
	path   secrets.Path
	prefix secrets.Prefix
	lease  string
}

// parseArg parses the raw argument of a route by its kind, in one place
// for every operation (ParsePathArg: no percent-encoding, never cleaned).
func parseArg(kind argKind, raw string) (target, error) {
	var t target
	var err error
	switch kind {
	case argPath:
		t.path, err = ParsePathArg(raw)
	case argPrefix:
		t.prefix, err = parsePrefixArg(raw)
	case argLease:
		t.lease, err = leaseArg(raw)
	}
	return t, err
}

type argKind int

const (
	argPath   argKind = iota // a secret path
	argPrefix                // a list prefix ("" for everything)
	argLease                 // a lease id
)

var routes = []route{
	{http.MethodGet, "data", audit.ActionSecretRead, argPath, (*API).getData},
	{http.MethodPut, "data", audit.ActionSecretWrite, argPath, (*API).putData},
	{http.MethodGet, "metadata", audit.ActionSecretList, argPath, (*API).getMetadata},
	{http.MethodGet, "list", audit.ActionSecretList, argPrefix, (*API).list},
	{http.MethodPut, "labels", audit.ActionSecretLabel, argPath, (*API).putLabel},
	{http.MethodDelete, "labels", audit.ActionSecretLabel, argPath, (*API).deleteLabel},
	{http.MethodPost, "delete", audit.ActionSecretDelete, argPath, (*API).deleteVersions},
	{http.MethodPost, "undelete", audit.ActionSecretUndelete, argPath, (*API).undeleteVersions},
	{http.MethodPost, "destroy", audit.ActionSecretDestroy, argPath, (*API).destroyVersions},
	{http.MethodPost, "rotate", audit.ActionSecretRotate, argPath, (*API).rotate},
	{http.MethodGet, "rotation", audit.ActionSecretRotate, argPath, (*API).rotationStatus},
	{http.MethodPost, "leases", audit.ActionSecretLease, argPath, (*API).createLease},
	{http.MethodGet, "leases", audit.ActionSecretLease, argPath, (*API).listLeases},
	{http.MethodPut, "lease", audit.ActionSecretLease, argLease, (*API).renewLease},
	{http.MethodDelete, "lease", audit.ActionSecretLease, argLease, (*API).revokeLease},
}

// match finds the route of method and op: the route, or the methods op
// allows (none: no such operation).
func match(method, op string) (*route, []string) {
	var allowed []string
	for i := range routes {
		if routes[i].op != op {
			continue
		}
		if routes[i].method == method {
			return &routes[i], nil
		}
		allowed = append(allowed, routes[i].method)
	}
	return nil, allowed
}

// ServeHTTP routes on the raw (escaped) path, never a cleaned one,
// authenticates the caller and runs the operation.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Answers describe one caller's view and may carry values: never
	// stored by a browser or a shared cache (RFC 9111 §5.2.2.5; OWASP
	// REST Security Cheat Sheet).
	httpx.SetNoStore(w)
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), Prefix+"/")
	if !ok {
		httpx.NotFound(w, r)
		return
	}
	op, arg, _ := strings.Cut(rest, "/")
	rt, allowed := match(r.Method, op)
	if rt == nil {
		if len(allowed) > 0 {
			httpx.MethodNotAllowed(w, r, allowed...)
			return
		}
		httpx.NotFound(w, r)
		return
	}
	p, ok := a.authenticate(w, r, rt.action)
	if !ok {
		return
	}
	t, err := parseArg(rt.arg, arg)
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	status, doc, err := rt.serv(a, w, r, p, t)
	switch {
	case err != nil:
		writeError(w, r, a.o.Logger, err)
	case doc == nil:
		w.WriteHeader(status)
	default:
		writeJSON(w, status, doc)
	}
}
