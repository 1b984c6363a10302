// Package admin holds Rampart's administrative use cases: create, delete
// and re-key clients, create users, rotate and revoke signing keys. Each
// use case validates its input, changes the store and records its audit
// event in one function, so the CLI today and the admin API later run the
// same code and neither can forget a check or the evidence.
package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/oauth"
)

// Auditor records an audit event durably (audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// ClientStore is what the client use cases need from storage.
type ClientStore interface {
	CreateClient(ctx context.Context, c *oauth.Client) error
	GetClient(ctx context.Context, id string) (*oauth.Client, error)
	// RotateClientSecret replaces the secret hash; the replaced secret
	// stays valid until previousUntil when that is after now.
	RotateClientSecret(ctx context.Context, id, newHash string, previousUntil, now time.Time) error
	// RetireClientSecret ends the previous secret's overlap now.
	RetireClientSecret(ctx context.Context, id string) (bool, error)
	DeleteClient(ctx context.Context, id string, now time.Time) ([]oauth.IssuedAccess, error)
	ListClients(ctx context.Context) ([]oauth.Client, error)
	// SetClientDisabled sets or clears a stored client's disabled flag.
	SetClientDisabled(ctx context.Context, id string, disabled bool, now time.Time) error
	// RevokeClient revokes the client's refresh-token families, deletes
	// its pending codes, device codes and PAR requests, and returns the
	// live access tokens to deny.
	RevokeClient(ctx context.Context, id string, now time.Time) ([]oauth.IssuedAccess, error)
}

// ConfiguredClients tells whether a client id belongs to the configuration
// file (oauth.Registry): those are changed in the file, never here.
type ConfiguredClients interface {
	IsConfigured(id string) bool
	// Configured returns the file's clients.
	Configured() []*oauth.Client
}

// TokenRevoker denies live access tokens everywhere they are checked
// (oauth.Revoker: the store and the shared Redis deny list).
type TokenRevoker interface {
	Revoke(ctx context.Context, tokens []oauth.IssuedAccess) error
}

// KeyRing is the signing-key manager (keys.Manager), which records its own
// key events.
type KeyRing interface {
	Rotate(ctx context.Context, actor string) (keys.KeyInfo, error)
	Revoke(ctx context.Context, actor, kid string) (keys.Revocation, error)
	List(ctx context.Context) ([]keys.KeyInfo, error)
}

// UserDirectory lists users and flips their disabled flag
// (sqlstore.IdentityStore).
type UserDirectory interface {
	ListUsers(ctx context.Context, after string, limit int) ([]identity.User, error)
	SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error
	SetUserRole(ctx context.Context, id, role string, now time.Time) error
}

// SessionStore lists and ends a user's browser sessions
// (sqlstore.IdentityStore).
type SessionStore interface {
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]identity.Session, error)
	DeleteUserSessions(ctx context.Context, userID string) (int64, error)
}

// AuditReader answers audit queries (sqlstore.AuditStore).
type AuditReader interface {
	QueryAudit(ctx context.Context, q audit.Query) ([]audit.Record, error)
}

// Options wire a Service. Only what a use case touches must be set: a
// Service for `client delete` needs no user service. A use case whose
// dependency is missing fails with ErrUnavailable, never silently.
type Options struct {
	Clients    ClientStore
	Configured ConfiguredClients
	// SecretKey is the HMAC key of stored client secrets.
	SecretKey []byte
	Revoker   TokenRevoker
	Users     *identity.Users
	Directory UserDirectory
	Sessions  SessionStore
	// Ender ends everything a user holds (oauth.AccessEnder).
	Ender    UserAccessEnder
	Keys     KeyRing
	AuditLog AuditReader
	Audit    Auditor
	// fapi: SigningAlgorithm is the configuration's keys.algorithm; a
	// fapi2 client is refused while it is RS256 (FAPI 2.0 SP §5.4.1).
	SigningAlgorithm string
	Now              func() time.Time // default time.Now
	Rand             io.Reader        // default crypto/rand
}

// Service runs the administrative use cases.
type Service struct{ o Options }

// New returns a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	return &Service{o: o}
}

// ErrUnavailable is returned by a use case whose dependency the Service
// was not given (a wiring mistake, not an operator error).
var ErrUnavailable = errors.New("admin: internal error: the command did not open what this action needs")

// InvalidError is an operator input mistake (a bad id, grant type, role,
// password...): the CLI exits 2 on it and the admin API answers 400.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

func invalid(err error) error { return &InvalidError{Err: err} }

// NotFoundError names something that does not exist (the admin API
// answers 404).
type NotFoundError struct{ Err error }

func (e *NotFoundError) Error() string { return e.Err.Error() }
func (e *NotFoundError) Unwrap() error { return e.Err }

func notFound(err error) error { return &NotFoundError{Err: err} }

// ConflictError is a request the current state refuses: the id is taken,
// the client lives in the configuration file, a public client has no
// secret (the admin API answers 409).
type ConflictError struct{ Err error }

func (e *ConflictError) Error() string { return e.Err.Error() }
func (e *ConflictError) Unwrap() error { return e.Err }

func conflict(err error) error { return &ConflictError{Err: err} }

// record writes a successful administrative event.
func (s *Service) record(ctx context.Context, actor, action, target string, details map[string]string) error {
	if s.o.Audit == nil {
		return ErrUnavailable
	}
	return s.o.Audit.Record(ctx, audit.Event{Actor: actor, Action: action, Target: target, Outcome: audit.OutcomeSuccess, Details: details})
}
