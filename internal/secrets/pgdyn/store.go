package pgdyn

import (
	"context"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// State is a lease's place in its life: creating (the row is written, the
// role may or may not exist yet), active, revoking (claimed for
// revocation; the role may be half dropped) and revoked.
type State string

// Lease states.
const (
	StateCreating State = "creating"
	StateActive   State = "active"
	StateRevoking State = "revoking"
	StateRevoked  State = "revoked"
)

// Record is a lease's row: the Lease (Password always empty: it is never
// stored) with its state and the claim of the instance creating or
// revoking it.
type Record struct {
	Lease
	State        State
	ClaimedUntil time.Time // zero: unclaimed
}

// LeaseReader reads lease rows.
type LeaseReader interface {
	// LeaseByID returns the lease with id; secrets.ErrNotFound.
	LeaseByID(ctx context.Context, id string) (Record, error)
	// LeasesByPath returns the leases of path that are not revoked,
	// oldest first.
	LeasesByPath(ctx context.Context, path secrets.Path) ([]Record, error)
	// DueLeases returns at most limit leases to reap at now: active and
	// expired (expires_at <= now), or creating or revoking with a claim
	// that ran out (claimed_until <= now: the instance holding it died).
	DueLeases(ctx context.Context, now time.Time, limit int) ([]Record, error)
}

// LeaseWriter changes lease rows, each with one conditional statement so
// that concurrent instances cannot both win a transition.
type LeaseWriter interface {
	// InsertLease writes r (state creating, claimed until
	// r.ClaimedUntil); a username or id already used is
	// secrets.ErrConflict.
	InsertLease(ctx context.Context, r Record) error
	// ActivateLease moves the lease from creating to active and drops the
	// claim; secrets.ErrConflict when it is no longer creating.
	ActivateLease(ctx context.Context, id string) error
	// RenewLease sets expires_at of an active lease not expired at now;
	// secrets.ErrConflict otherwise.
	RenewLease(ctx context.Context, id string, expires, now time.Time) error
	// ClaimLease moves a lease that is not revoked, and not claimed at
	// now, to revoking with a claim until until; with dueOnly (the
	// reaper), an active lease only if it expired at now (not renewed
	// since it was listed). secrets.ErrConflict when the condition does
	// not hold (revoked, claimed by another instance, renewed).
	ClaimLease(ctx context.Context, id string, now, until time.Time, dueOnly bool) error
	// FinishLease marks a creating or revoking lease revoked at now;
	// secrets.ErrConflict when it is already revoked (or active).
	FinishLease(ctx context.Context, id string, now time.Time) error
}

// LeaseStore is every storage operation of the engine, implemented by
// (*sqlstore.DB).SecretLeases().
type LeaseStore interface {
	LeaseReader
	LeaseWriter
}
