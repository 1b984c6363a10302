package pgdyn

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// sqlstateUndefinedObject: the role does not exist (PostgreSQL docs,
// Appendix A, class 42).
const sqlstateUndefinedObject = "42704"

// revoke claims rec for revocation, drops its role and marks it revoked.
// The claim is one conditional UPDATE, so of two reapers one revokes and
// the other skips (done false, err nil). An explicit revocation (a caller
// waiting for the role to be gone) also runs when another instance holds
// the claim: every step is idempotent. A lease still being created is
// errCreating for an explicit revocation and skipped by a reaper.
func (e *Engine) revoke(ctx context.Context, rec Record, explicit bool) error {
	_, err := e.revokeLease(ctx, rec, explicit)
	return err
}

func (e *Engine) revokeLease(ctx context.Context, rec Record, explicit bool) (bool, error) {
	now := e.o.Clock()
	err := e.o.Store.ClaimLease(ctx, rec.ID, now, now.Add(revokeClaim), !explicit)
	if errors.Is(err, secrets.ErrConflict) {
		cur, gerr := e.o.Store.LeaseByID(ctx, rec.ID)
		if gerr != nil {
			return false, gerr
		}
		switch {
		case cur.State == StateCreating && explicit:
			// Wait for its creator: revoking now could drop the role
			// before the creation commits, leaving a role behind a
			// revoked row; an emergency revocation must not miss a
			// lease that turns active a moment later.
			return e.revokeAfterCreation(ctx, rec)
		case cur.State == StateRevoking && explicit:
		default:
			return false, nil // revoked, renewed, or another instance has it
		}
	} else if err != nil {
		return false, err
	}
	if err := e.dropRole(ctx, rec); err != nil {
		return false, err
	}
	if err := e.o.Store.FinishLease(ctx, rec.ID, e.o.Clock()); err != nil && !errors.Is(err, secrets.ErrConflict) {
		return false, err
	}
	return true, nil
}

// settleWait bounds how long an explicit revocation waits for a lease's
// creation to end (its creation times out after createTimeout).
var settleWait = createTimeout + 5*time.Second

// revokeAfterCreation polls a creating lease until its creator activates
// it (then revokes it) or abandons it (done); a creator that died leaves
// it to the reaper, and that is errCreating (it was never handed out).
func (e *Engine) revokeAfterCreation(ctx context.Context, rec Record) (bool, error) {
	deadline := time.Now().Add(settleWait)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		cur, err := e.o.Store.LeaseByID(ctx, rec.ID)
		if err != nil {
			return false, err
		}
		if cur.State != StateCreating {
			return e.revokeLease(ctx, cur, true)
		}
	}
	return false, errCreating
}

// dropRole removes the lease's role, each step safe to rerun after a
// crash (PostgreSQL docs: ALTER ROLE, §9.28.2 server signaling functions,
// DROP OWNED, DROP ROLE):
//
//  1. ALTER ROLE ... NOLOGIN: no new session can start;
//  2. terminate the role's sessions (by role oid) until none is left;
//  3. in one transaction: the revocation statements, DROP OWNED BY (its
//     objects and privileges in this database), DROP ROLE IF EXISTS;
//  4. terminate by oid once more: a login that read the catalog before
//     NOLOGIN committed cannot outlive the role.
//
// A role already gone is success.
func (e *Engine) dropRole(ctx context.Context, rec Record) error {
	pool := e.o.Pools[rec.Database]
	if pool == nil {
		return fmt.Errorf("pgdyn: no pool for database %q", rec.Database)
	}
	// The stored name reaches SQL only if it is one Rampart could have
	// generated: a tampered row cannot smuggle an identifier.
	if !validName(rec.Username) {
		return fmt.Errorf("pgdyn: lease %s has a malformed username", rec.ID)
	}
	qn := quoteIdent(rec.Username)
	var oid uint32
	err := pool.QueryRow(ctx, `SELECT oid FROM pg_roles WHERE rolname = $1`, rec.Username).Scan(&oid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgdyn: find role: %s", safeCause(err))
	}
	if _, err := pool.Exec(ctx, "ALTER ROLE "+qn+" NOLOGIN"); sqlState(err) == sqlstateUndefinedObject {
		return nil
	} else if err != nil {
		return fmt.Errorf("pgdyn: revoke login: %s", safeCause(err))
	}
	if err := terminate(ctx, pool, oid); err != nil {
		return err
	}
	role := e.roles[rec.Path] // a role no longer configured: no revocation statements
	v := vars{name: qn}
	stmts := make([]string, 0, len(role.Revocation)+2)
	for _, s := range role.Revocation {
		q, err := render(s, v)
		if err != nil {
			return err
		}
		stmts = append(stmts, q)
	}
	stmts = append(stmts, "DROP OWNED BY "+qn, "DROP ROLE IF EXISTS "+qn)
	if err := execTx(ctx, pool, stmts); sqlState(err) == sqlstateUndefinedObject {
		return nil // dropped meanwhile by another instance
	} else if err != nil {
		return fmt.Errorf("pgdyn: drop role: %w", err)
	}
	return terminate(ctx, pool, oid)
}

// txAttempts bounds the tries of a transaction that failed transiently.
const txAttempts = 8

// execTx runs stmts in one transaction (under ddlLock), again (up to
// txAttempts, short growing pauses) when it failed transiently: a
// concurrent GRANT or REVOKE on one object by someone else fails with
// "tuple concurrently updated" (XX000), and serialization failures and
// deadlocks (40001, 40P01) are meant to be retried (PostgreSQL docs
// §13.2, §13.3.4). Errors carry the statement
// index and SQLSTATE only.
func execTx(ctx context.Context, pool *pgxpool.Pool, stmts []string) error {
	var err error
	for attempt := range txAttempts {
		if err = execTxOnce(ctx, pool, stmts); err == nil || !transient(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * time.Duration(2+mrand.IntN(8)) * time.Millisecond): // #nosec G404 -- retry jitter, not a secret
		}
	}
	return err
}

// transient reports whether err is worth another try of the transaction.
func transient(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", "40P01":
		return true
	case "XX000":
		return strings.Contains(pe.Message, "tuple concurrently")
	}
	return false
}

// ddlLock is the key of the transaction-level advisory lock every
// creation and drop transaction takes first ("rampart/pgdyn" as an int64).
// It serializes the leases' DDL on one database across every Rampart
// instance, so two leases granting on the same object never collide on
// its ACL tuple ("tuple concurrently updated"); the transactions are a
// few milliseconds long (PostgreSQL docs §13.3.5, advisory locks).
const ddlLock int64 = 0x72616d7061727464 // "rampartd"

// execTxOnce runs stmts in one transaction, under ddlLock.
func execTxOnce(ctx context.Context, pool *pgxpool.Pool, stmts []string) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %s", safeCause(err))
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", ddlLock); err != nil {
		return fmt.Errorf("lock: %s", safeCause(err))
	}
	for i, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return &stmtError{i: i, err: err}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %s", safeCause(err))
	}
	return nil
}

// stmtError is a failed statement of execTx: its text is the index and
// SQLSTATE, Unwrap gives the pgx error for errors.As.
type stmtError struct {
	i   int
	err error
}

func (s *stmtError) Error() string {
	return fmt.Sprintf("statement %d failed: %s", s.i, safeCause(s.err))
}

func (s *stmtError) Unwrap() error { return s.err }

// terminate signals every session of the role with oid until none is
// left, bounded by terminateRounds (about two seconds). A signalled
// backend leaves pg_stat_activity when it has exited, so the loop polls
// with short sleeps; pg_terminate_backend's own timeout form (docs
// §9.28.2) waits in 100 ms steps, too slow for a revocation path.
func terminate(ctx context.Context, pool *pgxpool.Pool, oid uint32) error {
	for round := 0; round < terminateRounds; round++ {
		var n int
		err := pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usesysid = $1) t`, oid).Scan(&n)
		if err != nil {
			return fmt.Errorf("pgdyn: terminate sessions: %s", safeCause(err))
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgdyn: terminate sessions: %s", safeCause(ctx.Err()))
		case <-time.After(min(time.Duration(round+1)*time.Millisecond, 20*time.Millisecond)):
		}
	}
	return errors.New("pgdyn: the role's sessions keep coming back")
}

// Reap revokes every lease due at now: active and expired, or left
// creating or revoking by an instance that died (its claim ran out). It
// returns how many it revoked; leases another instance claimed are
// skipped. Each revocation records an event (op reap).
func (e *Engine) Reap(ctx context.Context) (int, error) {
	total := 0
	var errs []error
	for range 1000 {
		due, err := e.o.Store.DueLeases(ctx, e.o.Clock(), reapBatch)
		if err != nil {
			return total, errors.Join(append(errs, err)...)
		}
		n, rerrs := e.reapBatch(ctx, due)
		total += n
		errs = append(errs, rerrs...)
		if len(due) < reapBatch || (n == 0 && len(rerrs) == 0) {
			break
		}
	}
	return total, errors.Join(errs...)
}

// reapBatch revokes due with reapWorkers at once.
func (e *Engine) reapBatch(ctx context.Context, due []Record) (int, []error) {
	var (
		mu   sync.Mutex
		n    int
		errs []error
		wg   sync.WaitGroup
		jobs = make(chan Record)
	)
	for range min(reapWorkers, len(due)) {
		wg.Go(func() {
			for rec := range jobs {
				cause := "expired"
				if rec.State != StateActive {
					cause = "abandoned_" + string(rec.State)
				}
				done, err := e.revokeLease(ctx, rec, false)
				if !done && err == nil {
					continue // another instance has it, or it is gone
				}
				a := e.begin(system, opReap, rec.Path)
				a.lease(rec, 0)
				a.details["cause"] = cause
				err = a.done(ctx, err)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					n++
				}
				mu.Unlock()
			}
		})
	}
	for _, rec := range due {
		jobs <- rec
	}
	close(jobs)
	wg.Wait()
	return n, errs
}

// Run reaps at once (crash recovery: leases that expired while Rampart
// was down, rows a crash left half done) and then every ReapEvery until
// ctx is done; errors are logged. It returns ctx's error.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.o.ReapEvery)
	defer t.Stop()
	for {
		if n, err := e.Reap(ctx); err != nil && ctx.Err() == nil {
			e.o.Logger.Error("pgdyn: reap failed", "reaped", n, "error", err.Error())
		} else if n > 0 {
			e.o.Logger.Info("pgdyn: reaped leases", "reaped", n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
