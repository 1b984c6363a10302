package secretsapi

import (
	"net/http"
	"time"

	"github.com/rampart-auth/rampart/internal/httpx"
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

// noEngine answers 404 for a route whose engine is not configured.
func noEngine(w http.ResponseWriter, r *http.Request, what string) {
	httpx.WriteProblem(w, r, http.StatusNotFound, "", "no "+what+" configured for this path")
}

// rotate: POST rotate/{path} {"now"?,"reason"?}.
func (a *API) rotate(w http.ResponseWriter, r *http.Request, p secrets.Principal, arg string) {
	path, err := ParsePathArg(arg)
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	var body RotateRequest
	if err := DecodeBody(w, r, &body, true); err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	if len(body.Reason) > maxReason {
		writeError(w, r, a.o.Logger, badRequest("the reason is at most %d bytes", maxReason))
		return
	}
	if a.o.Rotations == nil {
		noEngine(w, r, "rotation")
		return
	}
	st, err := a.o.Rotations.Rotate(r.Context(), p, path, rotation.Request{Now: body.Now, Reason: body.Reason})
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, StatusOf(st))
}

// rotationStatus: GET rotation/{path}.
func (a *API) rotationStatus(w http.ResponseWriter, r *http.Request, p secrets.Principal, arg string) {
	path, err := ParsePathArg(arg)
	if err == nil {
		_, err = query(r)
	}
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	if a.o.Rotations == nil {
		noEngine(w, r, "rotation")
		return
	}
	st, err := a.o.Rotations.Status(r.Context(), p, path)
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, StatusOf(st))
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
func (a *API) createLease(w http.ResponseWriter, r *http.Request, p secrets.Principal, arg string) {
	path, err := ParsePathArg(arg)
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	var body TTLRequest
	if err := DecodeBody(w, r, &body, true); err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	ttl, err := body.ttl()
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	if a.o.Leases == nil {
		noEngine(w, r, "dynamic credentials")
		return
	}
	l, err := a.o.Leases.Create(r.Context(), p, path, ttl)
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	doc := LeaseOf(l)
	pw := string(l.Password.Bytes())
	doc.Password = &pw
	writeJSON(w, http.StatusCreated, doc)
}

// listLeases: GET leases/{path} (no passwords).
func (a *API) listLeases(w http.ResponseWriter, r *http.Request, p secrets.Principal, arg string) {
	path, err := ParsePathArg(arg)
	if err == nil {
		_, err = query(r)
	}
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	if a.o.Leases == nil {
		noEngine(w, r, "dynamic credentials")
		return
	}
	ls, err := a.o.Leases.List(r.Context(), p, path)
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	doc := LeasesDoc{Leases: make([]LeaseDoc, len(ls))}
	for i, l := range ls {
		doc.Leases[i] = LeaseOf(l)
	}
	writeJSON(w, http.StatusOK, doc)
}

// leaseArg checks the lease id of a lease/{id} route.
func leaseArg(arg string) (string, error) {
	if !ValidLeaseID(arg) {
		return "", badRequest("a lease id is 32 lower-case hex digits")
	}
	return arg, nil
}

// renewLease: PUT lease/{id} {"ttl"?}.
func (a *API) renewLease(w http.ResponseWriter, r *http.Request, p secrets.Principal, arg string) {
	id, err := leaseArg(arg)
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	var body TTLRequest
	if err := DecodeBody(w, r, &body, true); err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	ttl, err := body.ttl()
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	if a.o.Leases == nil {
		noEngine(w, r, "dynamic credentials")
		return
	}
	l, err := a.o.Leases.Renew(r.Context(), p, id, ttl)
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, LeaseOf(l))
}

// revokeLease: DELETE lease/{id}.
func (a *API) revokeLease(w http.ResponseWriter, r *http.Request, p secrets.Principal, arg string) {
	id, err := leaseArg(arg)
	if err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	if a.o.Leases == nil {
		noEngine(w, r, "dynamic credentials")
		return
	}
	if err := a.o.Leases.Revoke(r.Context(), p, id); err != nil {
		writeError(w, r, a.o.Logger, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
