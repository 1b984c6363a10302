// Package caapi serves the internal CA over HTTP (docs/mtls.md): the
// enrolment endpoint POST /ca/v1/svid, where a workload obtains an
// X.509-SVID with a join token or OAuth client credentials and renews it
// with its current SVID over mTLS, and the public documents GET
// /ca/v1/bundle (the SPIFFE trust bundle) and GET /ca/v1/crl (the CRL).
//
// The handlers hold no CA logic: they parse and bound the request, pick
// the one credential it carries, and hand it to the Authority, which
// checks it, signs and audits. The interfaces below are what they use of
// the CA (*ca.Authority) and of the authorization server (the token
// endpoint's client authentication), so the package depends on neither's
// internals.
package caapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/ratelimit"
)

// Paths of the CA's HTTP API.
const (
	PathSVID   = "/ca/v1/svid"
	PathBundle = "/ca/v1/bundle"
	PathCRL    = "/ca/v1/crl"
)

// MaxBodyBytes bounds an enrolment request: a CSR is well under 2 KiB, so
// 64 KiB is generous and keeps hostile bodies cheap (contract; OWASP
// Denial of Service Cheat Sheet).
const MaxBodyBytes = 64 << 10

// Authority is what the handlers use of the CA (*ca.Authority).
type Authority interface {
	Issue(ctx context.Context, req ca.IssueRequest) (*ca.SVID, error)
	BundleJWKS() ([]byte, error)
	BundlePEM() []byte
	CRL(ctx context.Context) ([]byte, error)
}

var _ Authority = (*ca.Authority)(nil)

// ClientAuthenticator authenticates the OAuth client of a request from its
// HTTP Basic credentials, through the authorization server's one client
// authentication path, and returns the client id. A refusal is an
// *AuthError (its status is answered); any other error is a 503.
type ClientAuthenticator interface {
	AuthenticateClient(r *http.Request) (clientID string, err error)
}

// AuthError is a ClientAuthenticator's refusal: Status 401, 429 or 503,
// RetryAfter with 429 and 503.
type AuthError struct {
	Status     int
	RetryAfter time.Duration
	Err        error
}

func (e *AuthError) Error() string {
	if e.Err != nil {
		return "caapi: client authentication refused: " + e.Err.Error()
	}
	return "caapi: client authentication refused"
}

func (e *AuthError) Unwrap() error { return e.Err }

// Limiter limits enrolment requests per client address (*ratelimit.Limiter
// with one limit).
type Limiter interface {
	Allow(ctx context.Context, keys ...string) (ratelimit.Decision, error)
}

var _ Limiter = (*ratelimit.Limiter)(nil)

// Auditor records an audit event (audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Options configure the handlers.
type Options struct {
	Authority Authority
	// Clients authenticates OAuth clients (Basic); nil refuses client
	// credentials with 401.
	Clients ClientAuthenticator
	// Limiter limits POST /ca/v1/svid per client address; required.
	Limiter Limiter
	// Audit records the refusals the handlers decide themselves (the
	// per-address limit); the CA audits everything it decides. Nil
	// records nothing.
	Audit Auditor
	// Clock defaults to time.Now; Logger to slog.Default.
	Clock  func() time.Time
	Logger *slog.Logger
}

// Handlers serves the CA's HTTP API.
type Handlers struct {
	o     Options
	addr  ratelimit.KeyFunc
	crlMu sync.Mutex
	crl   parsedCRL // the last CRL served, with its nextUpdate
}

// New returns the handlers.
func New(o Options) (*Handlers, error) {
	if o.Authority == nil || o.Limiter == nil {
		return nil, errors.New("caapi: an authority and a limiter are required")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	// The one client address of the request (httpx.ClientAddr resolved
	// it; IPv6 grouped by /64), the key of the per-address limit.
	return &Handlers{o: o, addr: ratelimit.ClientIPKey(nil)}, nil
}

// RegisterPublic mounts the public documents (bundle, CRL): the main
// listener serves them under the issuer.
func (h *Handlers) RegisterPublic(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathBundle, h.bundle)
	mux.HandleFunc("GET "+PathCRL, h.crlHandler)
}

// RegisterEnrolment mounts everything the enrolment listener serves: the
// public documents and POST /ca/v1/svid.
func (h *Handlers) RegisterEnrolment(mux *http.ServeMux) {
	h.RegisterPublic(mux)
	mux.HandleFunc("POST "+PathSVID, h.svid)
}
