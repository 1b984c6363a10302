package pgdyn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgscram"
)

// Create makes a lease of the role at path for p: a new PostgreSQL role
// from the role's creation statements, valid for ttl (0: the role's
// default; beyond MaxTTL: MaxTTL). The lease row is written first (state
// creating), then the statements run in one transaction, then the row
// turns active: a crash in between leaves a row the reaper cleans up.
// The answer is the only place the password ever appears. A lease whose
// event cannot be recorded is revoked and not handed out.
func (e *Engine) Create(ctx context.Context, p secrets.Principal, path secrets.Path, ttl time.Duration) (Lease, error) {
	a := e.begin(p, opCreate, "")
	l, rec, err := e.create(ctx, a, p, path, ttl)
	if err != nil {
		return Lease{}, a.done(ctx, err)
	}
	if err := a.done(ctx, nil); err != nil {
		if rerr := e.revoke(context.WithoutCancel(ctx), rec, true); rerr != nil {
			e.o.Logger.Error("pgdyn: revoking an unaudited lease failed; the reaper retries", "lease_id", rec.ID, "error", rerr.Error())
		}
		return Lease{}, err
	}
	return l, nil
}

func (e *Engine) create(ctx context.Context, a *op, p secrets.Principal, path secrets.Path, ttl time.Duration) (Lease, Record, error) {
	if _, err := secrets.ParsePath(string(path)); err != nil {
		return Lease{}, Record{}, err // a Path not made by ParsePath never reaches the audit log nor SQL
	}
	a.target = string(path)
	if !e.o.Policies.Allowed(p, secrets.CapLease, path) {
		return Lease{}, Record{}, secrets.ErrForbidden
	}
	role, ok := e.roles[path]
	if !ok {
		return Lease{}, Record{}, errUnknownRole
	}
	ttl, err := clampTTL(role, ttl)
	if err != nil {
		return Lease{}, Record{}, err
	}
	id, err := newID()
	if err != nil {
		return Lease{}, Record{}, err
	}
	name, err := newName(path)
	if err != nil {
		return Lease{}, Record{}, err
	}
	pw, err := newPassword()
	if err != nil {
		return Lease{}, Record{}, err
	}
	now := e.o.Clock()
	rec := Record{
		Lease: Lease{ID: id, Path: path, Database: role.Database, Username: name, Owner: p.Actor(),
			CreatedAt: now, ExpiresAt: now.Add(ttl), MaxExpiresAt: now.Add(role.MaxTTL)},
		State: StateCreating, ClaimedUntil: now.Add(createClaim),
	}
	a.lease(rec, ttl)
	if err := e.o.Store.InsertLease(ctx, rec); err != nil {
		return Lease{}, Record{}, err
	}
	if err := e.runCreation(ctx, role, name, pw, rec.ExpiresAt); err != nil {
		e.abandon(ctx, rec)
		return Lease{}, Record{}, err
	}
	if err := e.o.Store.ActivateLease(ctx, id); err != nil {
		// The claim ran out and a reaper took the row (or the store
		// failed): the role is not handed out; dropping it is idempotent.
		e.abandon(ctx, rec)
		return Lease{}, Record{}, fmt.Errorf("pgdyn: activate lease: %w", err)
	}
	l := rec.Lease
	l.Password = secrets.NewValue([]byte(pw))
	return l, rec, nil
}

// clampTTL applies the role's bounds to a requested TTL.
func clampTTL(role Role, ttl time.Duration) (time.Duration, error) {
	switch {
	case ttl < 0:
		return 0, fmt.Errorf("%w: the TTL must not be negative", secrets.ErrInvalid)
	case ttl == 0:
		return role.DefaultTTL, nil
	case ttl > role.MaxTTL:
		return role.MaxTTL, nil
	}
	return ttl, nil
}

// runCreation runs the role's creation statements for one lease in one
// transaction. Errors carry the statement's index and SQLSTATE only:
// PostgreSQL's message may quote the statement, password included.
func (e *Engine) runCreation(ctx context.Context, role Role, name, pw string, expires time.Time) error {
	// {{password}} is the SCRAM-SHA-256 verifier of the password, not
	// the password: CREATE ROLE stores a verifier as given, so the
	// plaintext never reaches the server's logs (pgscram).
	pwLit, err := pgscram.Literal(nil, []byte(pw))
	if err != nil {
		return err
	}
	expLit, err := quoteLiteral(expirationLiteral(expires))
	if err != nil {
		return err
	}
	v := vars{name: quoteIdent(name), password: pwLit, expiration: expLit}
	cctx, cancel := context.WithTimeout(ctx, createTimeout)
	defer cancel()
	stmts := make([]string, 0, len(role.Creation))
	for _, st := range role.Creation {
		q, err := render(st, v)
		if err != nil {
			return err
		}
		stmts = append(stmts, q)
	}
	if err := execTx(cctx, e.o.Pools[role.Database], stmts); err != nil {
		return fmt.Errorf("pgdyn: creation %w", err)
	}
	return nil
}

// abandon cleans up after a failed creation: drop the role if it exists
// and mark the row revoked. The creator still holds the row's claim; when
// this fails too, the reaper takes the row once the claim runs out.
func (e *Engine) abandon(ctx context.Context, rec Record) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	defer cancel()
	if err := e.dropRole(ctx, rec); err != nil {
		e.o.Logger.Error("pgdyn: cleanup of a failed lease failed; the reaper retries", "lease_id", rec.ID, "username", rec.Username, "error", err.Error())
		return
	}
	if err := e.o.Store.FinishLease(ctx, rec.ID, e.o.Clock()); err != nil && !errors.Is(err, secrets.ErrConflict) {
		e.o.Logger.Error("pgdyn: marking a failed lease revoked failed", "lease_id", rec.ID, "error", err.Error())
	}
}

// Renew extends a live lease by ttl from now (0: the role's default;
// beyond MaxTTL: MaxTTL), never beyond its MaxExpiresAt, and moves the
// role's VALID UNTIL with it. An expired or revoked lease is refused
// (errExpired, an ErrInvalid).
func (e *Engine) Renew(ctx context.Context, p secrets.Principal, id string, ttl time.Duration) (Lease, error) {
	a := e.begin(p, opRenew, "")
	l, err := e.renew(ctx, a, p, id, ttl)
	return l, a.done(ctx, err)
}

func (e *Engine) renew(ctx context.Context, a *op, p secrets.Principal, id string, ttl time.Duration) (Lease, error) {
	rec, err := e.access(ctx, p, id)
	if err != nil {
		return Lease{}, err
	}
	a.lease(rec, 0)
	role, ok := e.roles[rec.Path]
	pool := e.o.Pools[rec.Database]
	if !ok || pool == nil {
		return Lease{}, errUnknownRole // the role or its database left the configuration
	}
	if ttl, err = clampTTL(role, ttl); err != nil {
		return Lease{}, err
	}
	now := e.o.Clock()
	if rec.State != StateActive || !now.Before(rec.ExpiresAt) {
		return Lease{}, errExpired
	}
	exp := now.Add(ttl)
	if exp.After(rec.MaxExpiresAt) {
		exp = rec.MaxExpiresAt
	}
	a.details["ttl"] = fmt.Sprintf("%ds", int64(exp.Sub(now)/time.Second))
	if err := e.o.Store.RenewLease(ctx, rec.ID, exp, now); errors.Is(err, secrets.ErrConflict) {
		return Lease{}, errExpired
	} else if err != nil {
		return Lease{}, err
	}
	lit, err := quoteLiteral(expirationLiteral(exp))
	if err != nil {
		return Lease{}, err
	}
	// Rampart's own statement: the generated name quoted as an
	// identifier, the generated time as a literal.
	if _, err := pool.Exec(ctx, "ALTER ROLE "+quoteIdent(rec.Username)+" VALID UNTIL "+lit); err != nil {
		return Lease{}, fmt.Errorf("pgdyn: renew role: %s", safeCause(err))
	}
	rec.ExpiresAt = exp
	return rec.Lease, nil
}

// access returns the lease id for an operation of p. A principal holding
// the lease capability on no role at all is ErrForbidden before the store
// is read; otherwise a missing lease, a lease on a path p may not lease,
// and (unless p is KindAdmin or KindSystem) another principal's lease
// all answer errNoLease alike, so a lease id reveals nothing (OWASP
// Authorization Cheat Sheet, IDOR).
func (e *Engine) access(ctx context.Context, p secrets.Principal, id string) (Record, error) {
	if !e.mayLeaseAny(p) {
		return Record{}, secrets.ErrForbidden
	}
	if !validID(id) {
		return Record{}, errNoLease
	}
	rec, err := e.o.Store.LeaseByID(ctx, id)
	if errors.Is(err, secrets.ErrNotFound) {
		return Record{}, errNoLease
	}
	if err != nil {
		return Record{}, err
	}
	if !e.o.Policies.Allowed(p, secrets.CapLease, rec.Path) || !owns(p, rec) {
		return Record{}, errNoLease
	}
	return rec, nil
}

// mayLeaseAny reports whether p holds the lease capability on a role.
func (e *Engine) mayLeaseAny(p secrets.Principal) bool {
	for path := range e.roles {
		if e.o.Policies.Allowed(p, secrets.CapLease, path) {
			return true
		}
	}
	return false
}

// owns reports whether p may act on rec: its creator, or an admin or
// the system.
func owns(p secrets.Principal, rec Record) bool {
	return p.Kind == secrets.KindAdmin || p.Kind == secrets.KindSystem || rec.Owner == p.Actor()
}

// Revoke ends a lease now: no new logins, its sessions terminated, the
// revocation statements run and the role dropped. Revoking a revoked
// lease succeeds.
func (e *Engine) Revoke(ctx context.Context, p secrets.Principal, id string) error {
	a := e.begin(p, opRevoke, "")
	rec, err := e.access(ctx, p, id)
	if err == nil {
		a.lease(rec, 0)
		if rec.State == StateRevoked {
			a.details["already"] = "true"
		} else {
			err = e.revoke(ctx, rec, true)
		}
	}
	return a.done(ctx, err)
}

// RevokePath revokes every live lease of the role path (an emergency
// rotation's first move) and returns how many it revoked: all of them
// for KindAdmin and KindSystem, the principal's own for anyone else.
// Each lease records its own event.
func (e *Engine) RevokePath(ctx context.Context, p secrets.Principal, path secrets.Path) (int, error) {
	recs, err := e.live(ctx, p, opRevoke, path)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, rec := range recs {
		a := e.begin(p, opRevoke, path)
		a.lease(rec, 0)
		a.details["scope"] = "path"
		if err := a.done(ctx, e.revoke(ctx, rec, true)); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// List returns the leases of the role path that are not revoked (all
// for KindAdmin and KindSystem, the principal's own for anyone else),
// without passwords.
func (e *Engine) List(ctx context.Context, p secrets.Principal, path secrets.Path) ([]Lease, error) {
	recs, err := e.live(ctx, p, opList, path)
	if err != nil {
		return nil, err
	}
	a := e.begin(p, opList, path)
	a.details["count"] = fmt.Sprint(len(recs))
	if err := a.done(ctx, nil); err != nil {
		return nil, err
	}
	out := make([]Lease, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.Lease)
	}
	return out, nil
}

// live returns the unrevoked leases of path p may see, after the path
// and policy checks (a refusal is audited as op).
func (e *Engine) live(ctx context.Context, p secrets.Principal, opName string, path secrets.Path) ([]Record, error) {
	a := e.begin(p, opName, "")
	if _, err := secrets.ParsePath(string(path)); err != nil {
		return nil, a.done(ctx, err)
	}
	a.target = string(path)
	if !e.o.Policies.Allowed(p, secrets.CapLease, path) {
		return nil, a.done(ctx, secrets.ErrForbidden)
	}
	recs, err := e.o.Store.LeasesByPath(ctx, path)
	if err != nil {
		return nil, a.done(ctx, err)
	}
	out := recs[:0]
	for _, r := range recs {
		if owns(p, r) {
			out = append(out, r)
		}
	}
	return out, nil
}
