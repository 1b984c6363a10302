package pgdyn

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/secrets"
)

// Errors of the engine, each wrapping a secrets error (matched with
// errors.Is) with a message safe to show a caller.
var (
	errExpired     = fmt.Errorf("%w: the lease is expired or revoked", secrets.ErrInvalid)
	errUnknownRole = fmt.Errorf("%w: no dynamic role at this path", secrets.ErrNotFound)
	errNoLease     = fmt.Errorf("%w: no such lease", secrets.ErrNotFound)
	errCreating    = fmt.Errorf("%w: the lease is still being created", secrets.ErrConflict)
)

// system is the principal of the reaper.
var system = secrets.Principal{Kind: secrets.KindSystem, ID: "pgdyn"}

// Audit operations (Details["op"]).
const (
	opCreate = "create"
	opRenew  = "renew"
	opRevoke = "revoke"
	opReap   = "reap"
	opList   = "list"
)

// op is one audited operation in progress.
type op struct {
	e       *Engine
	p       secrets.Principal
	target  string
	details map[string]string
}

// begin starts the audited operation name by p on target (a role path).
func (e *Engine) begin(p secrets.Principal, name string, target secrets.Path) *op {
	return &op{e: e, p: p, target: string(target), details: map[string]string{"op": name}}
}

// lease fills the details of r: id, username, path and, with ttl, the
// lease's lifetime. Never the password.
func (a *op) lease(r Record, ttl time.Duration) {
	a.target = string(r.Path)
	a.details["lease_id"] = r.ID
	a.details["username"] = r.Username
	if ttl > 0 {
		a.details["ttl"] = strconv.FormatInt(int64(ttl/time.Second), 10) + "s"
	}
}

// done records the event: success when err is nil, else denied
// (forbidden) or failure with the reason code of err. It returns err, or
// the audit failure of a success (the caller fails closed).
func (a *op) done(ctx context.Context, err error) error {
	ev := audit.Event{Actor: a.p.Actor(), Action: audit.ActionSecretLease, Target: a.target, Details: a.details, Outcome: audit.OutcomeSuccess}
	if err != nil {
		ev.Outcome, ev.Reason = audit.OutcomeFailure, reason(err)
		if errors.Is(err, secrets.ErrForbidden) {
			ev.Outcome = audit.OutcomeDenied
		}
	}
	if rerr := a.e.o.Audit.Record(ctx, ev); rerr != nil {
		a.e.o.Logger.Error("pgdyn: audit failed", "op", a.details["op"], "target", a.target, "error", rerr.Error())
		if err == nil {
			return fmt.Errorf("pgdyn: audit %s: %w", a.details["op"], rerr)
		}
	}
	if err != nil && ev.Reason == "error" {
		a.e.o.Logger.Error("pgdyn: lease operation failed", "op", a.details["op"], "target", a.target,
			"lease_id", a.details["lease_id"], "username", a.details["username"], "error", err.Error())
	}
	return err
}

// reason is the audit reason code of err.
func reason(err error) string {
	for _, r := range []struct {
		err  error
		code string
	}{
		{errExpired, "expired"}, {secrets.ErrForbidden, "forbidden"}, {secrets.ErrInvalid, "invalid"},
		{secrets.ErrNotFound, "not_found"}, {secrets.ErrConflict, "conflict"},
	} {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return "error"
}
