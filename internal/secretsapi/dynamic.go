package secretsapi

import (
	"net/http"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgdyn"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

// Rotation and dynamic credentials: the engines check the capability
// (rotate, lease) and record their own audit events.

// RotateRequest is the body of POST rotate/{path}.
type RotateRequest struct {
	Now    bool   `json:"now"`
	Reason string `json:"reason"`
}

// maxReason bounds a rotation's reason (an operator's note, audited).
const maxReason = 200

// StatusDoc is rotation.Status in snake_case.
type StatusDoc struct {
	Path           string     `json:"path"`
	Rotator        string     `json:"rotator"`
	Every          string     `json:"every"`
	Window         string     `json:"window,omitempty"`
	Step           string     `json:"step"`
	RunID          string     `json:"run_id,omitempty"`
	Reason         string     `json:"reason,omitempty"`
	PendingVersion int64      `json:"pending_version,omitempty"`
	Attempts       int        `json:"attempts"`
	LastError      string     `json:"last_error,omitempty"`
	StartedAt      *time.Time `json:"started_at,omitempty"`
	UpdatedAt      *time.Time `json:"updated_at,omitempty"`
	LastRotated    *time.Time `json:"last_rotated,omitempty"`
	NextDue        *time.Time `json:"next_due,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// StatusOf converts a rotation status.
func StatusOf(s rotation.Status) StatusDoc {
	every := "0s"
	if s.Every > 0 {
		every = s.Every.String()
	}
	return StatusDoc{Path: string(s.Path), Rotator: s.Rotator, Every: every, Window: s.Window, Step: string(s.Step), RunID: s.RunID,
		Reason: s.Reason, PendingVersion: s.PendingVersion, Attempts: s.Attempts, LastError: s.LastError,
		StartedAt: optTime(s.StartedAt), UpdatedAt: optTime(s.UpdatedAt), LastRotated: optTime(s.LastRotated), NextDue: optTime(s.NextDue)}
}

// errNoEngine is the 404 of a route whose engine is not configured.
type errNoEngine string

func (e errNoEngine) Error() string { return "no " + string(e) + " configured for this path" }

// rotate: POST rotate/{path} {"now"?,"reason"?}.
func (a *API) rotate(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	path := t.path
	var body RotateRequest
	if err := DecodeBody(w, r, &body, true); err != nil {
		return 0, nil, err
	}
	if len(body.Reason) > maxReason {
		return 0, nil, badRequest("the reason is at most %d bytes", maxReason)
	}
	if a.o.Rotations == nil {
		return 0, nil, errNoEngine("rotation")
	}
	st, err := a.o.Rotations.Rotate(r.Context(), p, path, rotation.Request{Now: body.Now, Reason: body.Reason})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, StatusOf(st), nil
}

// rotationStatus: GET rotation/{path}.
func (a *API) rotationStatus(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	path := t.path
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	if a.o.Rotations == nil {
		return 0, nil, errNoEngine("rotation")
	}
	st, err := a.o.Rotations.Status(r.Context(), p, path)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, StatusOf(st), nil
}

// TTLRequest is the body of POST leases/{path} and PUT lease/{id}.
type TTLRequest struct {
	TTL string `json:"ttl"`
}

// ttl parses the optional ttl (0: the role's default).
func (b TTLRequest) ttl() (time.Duration, error) {
	if b.TTL == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(b.TTL)
	if err != nil || d <= 0 {
		return 0, badRequest("ttl is a positive Go duration such as \"1h\" or \"90s\"")
	}
	return d, nil
}

// LeaseDoc is a lease; Password only in the answer of a creation.
type LeaseDoc struct {
	LeaseID      string    `json:"lease_id"`
	Path         string    `json:"path"`
	Username     string    `json:"username"`
	Password     *string   `json:"password,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	MaxExpiresAt time.Time `json:"max_expires_at"`
}

// LeaseOf converts a lease (without its password).
func LeaseOf(l pgdyn.Lease) LeaseDoc {
	return LeaseDoc{LeaseID: l.ID, Path: string(l.Path), Username: l.Username, CreatedAt: l.CreatedAt.UTC(), ExpiresAt: l.ExpiresAt.UTC(), MaxExpiresAt: l.MaxExpiresAt.UTC()}
}

// LeasesDoc is GET leases/{path}.
type LeasesDoc struct {
	Leases []LeaseDoc `json:"leases"`
}

// ValidLeaseID checks a lease id: 128 bits in lower-case hex (what
// pgdyn makes); anything else is refused before the engine sees it.
func ValidLeaseID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// createLease: POST leases/{path} {"ttl"?} → 201 with the password.
func (a *API) createLease(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	path := t.path
	var body TTLRequest
	if err := DecodeBody(w, r, &body, true); err != nil {
		return 0, nil, err
	}
	ttl, err := body.ttl()
	if err != nil {
		return 0, nil, err
	}
	if a.o.Leases == nil {
		return 0, nil, errNoEngine("dynamic credentials")
	}
	l, err := a.o.Leases.Create(r.Context(), p, path, ttl)
	if err != nil {
		return 0, nil, err
	}
	doc := LeaseOf(l)
	pw := string(l.Password.Bytes())
	doc.Password = &pw
	return http.StatusCreated, doc, nil
}

// listLeases: GET leases/{path} (no passwords).
func (a *API) listLeases(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	path := t.path
	if _, err := query(r); err != nil {
		return 0, nil, err
	}
	if a.o.Leases == nil {
		return 0, nil, errNoEngine("dynamic credentials")
	}
	ls, err := a.o.Leases.List(r.Context(), p, path)
	if err != nil {
		return 0, nil, err
	}
	doc := LeasesDoc{Leases: make([]LeaseDoc, len(ls))}
	for i, l := range ls {
		doc.Leases[i] = LeaseOf(l)
	}
	return http.StatusOK, doc, nil
}

// leaseArg checks the lease id of a lease/{id} route.
func leaseArg(arg string) (string, error) {
	if !ValidLeaseID(arg) {
		return "", badRequest("a lease id is 32 lower-case hex digits")
	}
	return arg, nil
}

// renewLease: PUT lease/{id} {"ttl"?}.
func (a *API) renewLease(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	id := t.lease
	var body TTLRequest
	if err := DecodeBody(w, r, &body, true); err != nil {
		return 0, nil, err
	}
	ttl, err := body.ttl()
	if err != nil {
		return 0, nil, err
	}
	if a.o.Leases == nil {
		return 0, nil, errNoEngine("dynamic credentials")
	}
	l, err := a.o.Leases.Renew(r.Context(), p, id, ttl)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, LeaseOf(l), nil
}

// revokeLease: DELETE lease/{id}.
func (a *API) revokeLease(w http.ResponseWriter, r *http.Request, p secrets.Principal, t target) (int, any, error) {
	id := t.lease
	if a.o.Leases == nil {
		return 0, nil, errNoEngine("dynamic credentials")
	}
	if err := a.o.Leases.Revoke(r.Context(), p, id); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}
