package pgrotate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/secrets/pgscram"
	"github.com/rampart-auth/rampart/internal/secrets/rotation"
)

// Strategies.
const (
	// StrategySingle rotates the password of one role in place: clients
	// holding the old password cannot open new connections once Set ran.
	StrategySingle = "single"
	// StrategyAlternating rotates two roles in turn: Set changes the role
	// that is not current, so the credential clients hold keeps working
	// through the switch and for one more rotation period.
	StrategyAlternating = "alternating"
)

// DefaultTestTimeout bounds Test's connection and query.
const DefaultTestTimeout = 10 * time.Second

// terminateWait is how long Finish waits for each terminated backend to
// exit (pg_terminate_backend's timeout, PostgreSQL docs, 9.27.2 Server
// Signaling Functions), so that when Finish returns the sessions are gone.
const terminateWait = 5000 // milliseconds

// Auditor records audit events (*audit.Log satisfies it).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Options configure a rotator.
type Options struct {
	// Pool is the administrative pool: its role needs CREATEROLE (ADMIN
	// OPTION on the rotated roles from PostgreSQL 16) and pg_signal_backend
	// (to end sessions). Its config also gives host, port, database and TLS
	// of Test's connections.
	Pool *pgxpool.Pool
	// Users: one role for StrategySingle, two for StrategyAlternating.
	// They come from configuration only: a role named by a stored value
	// is never altered unless it is one of these.
	Users    []string
	Strategy string
	Logger   *slog.Logger // default slog.Default()
	// Audit, when set, records a secret.rotate event for every change the
	// rotator makes at the database (role, operation, sessions ended).
	Audit Auditor
	// Rand is the source of passwords and salts: default crypto/rand.
	Rand io.Reader
	// TestTimeout bounds Test: default DefaultTestTimeout.
	TestTimeout time.Duration
}

// rotator rotates the passwords of Options.Users.
type rotator struct {
	o   Options
	alt bool
}

var _ rotation.Rotator = (*rotator)(nil)

// New checks o and returns its rotator.
func New(o Options) (rotation.Rotator, error) {
	if o.Pool == nil {
		return nil, errors.New("pgrotate: no administrative pool")
	}
	r := &rotator{}
	switch o.Strategy {
	case StrategySingle:
		if len(o.Users) != 1 {
			return nil, fmt.Errorf("pgrotate: strategy %q rotates exactly one user, %d given", o.Strategy, len(o.Users))
		}
	case StrategyAlternating:
		r.alt = true
		if len(o.Users) != 2 || o.Users[0] == o.Users[1] {
			return nil, fmt.Errorf("pgrotate: strategy %q rotates exactly two different users", o.Strategy)
		}
	default:
		return nil, fmt.Errorf("pgrotate: unknown strategy %q (want %q or %q)", o.Strategy, StrategySingle, StrategyAlternating)
	}
	admin := o.Pool.Config().ConnConfig.User
	for _, u := range o.Users {
		if err := checkUser(u); err != nil {
			return nil, err
		}
		if u == admin {
			// Ending the rotated role's sessions would end the pool's own.
			return nil, fmt.Errorf("pgrotate: the administrative role %q cannot be a rotated user", u)
		}
	}
	o.Users = slices.Clone(o.Users)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.TestTimeout <= 0 {
		o.TestTimeout = DefaultTestTimeout
	}
	r.o = o
	return r, nil
}

func checkUser(u string) error {
	for i := 0; i < len(u); i++ {
		if u[i] == 0 {
			return errors.New("pgrotate: a user name holds a NUL byte")
		}
	}
	if u == "" || len(u) > maxUsername || !utf8.ValidString(u) {
		return fmt.Errorf("pgrotate: a user name is 1 to %d bytes of UTF-8", maxUsername)
	}
	return nil
}

// NewValue returns a credential with a fresh password for the user to
// rotate: the single user, or the user that current does not name (the
// first user when there is no current version). It changes nothing.
func (r *rotator) NewValue(_ context.Context, current secrets.Secret) (secrets.Value, error) {
	user := r.o.Users[0]
	if r.alt && current.Version != 0 {
		_, i, err := r.configured(current)
		if err != nil {
			return secrets.Value{}, fmt.Errorf("pgrotate: current: %w", err)
		}
		user = r.o.Users[1-i]
	}
	pw, err := newPassword(r.o.Rand)
	if err != nil {
		return secrets.Value{}, err
	}
	defer clear(pw)
	return Credential{Username: user, Password: secrets.NewValue(pw)}.Value()
}

// Set gives pending's user pending's password and LOGIN. In the
// alternating strategy it refuses a pending credential for the current
// user (that would end the overlap the strategy exists for), and on an
// emergency it also terminates the pending user's sessions: they were
// opened with its old password (the credential before current).
func (r *rotator) Set(ctx context.Context, current, pending secrets.Secret, emergency bool) error {
	c, i, err := r.configured(pending)
	if err != nil {
		return fmt.Errorf("pgrotate: pending: %w", err)
	}
	user := r.o.Users[i]
	if r.alt && current.Version != 0 {
		_, ci, err := r.configured(current)
		if err != nil {
			return fmt.Errorf("pgrotate: current: %w", err)
		}
		if ci == i {
			return fmt.Errorf("pgrotate: the pending credential names the current user %q", user)
		}
	}
	pw := c.Password.Bytes()
	defer clear(pw)
	if !generated(pw) {
		return errors.New("pgrotate: the pending password was not made by NewValue")
	}
	err = r.setPassword(ctx, user, pw, true)
	r.record(ctx, pending.Path, "set", "set_password", user, emergency, -1, err)
	if err != nil || !r.alt || !emergency {
		return err
	}
	// Emergency, alternating: the pending user's open sessions logged in
	// with its old password, the credential before current, which may be
	// the leaked one too. End them now (no overlap, rotation.Request.Now);
	// Finish ends the current user's.
	n, err := r.terminate(ctx, user)
	r.record(ctx, pending.Path, "set", "terminate_sessions", user, true, n, err)
	return err
}

// Test connects as pending's user with pending's password and runs
// SELECT 1.
func (r *rotator) Test(ctx context.Context, pending secrets.Secret) error {
	c, i, err := r.configured(pending)
	if err != nil {
		return fmt.Errorf("pgrotate: pending: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.o.TestTimeout)
	defer cancel()
	c.Username = r.o.Users[i]
	conn, err := pgx.ConnectConfig(ctx, c.ConnConfig(r.o.Pool.Config().ConnConfig))
	if err != nil {
		return fmt.Errorf("pgrotate: test: connect as %q: %w", c.Username, safe(err))
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	var one int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		return fmt.Errorf("pgrotate: test: query as %q: %w", c.Username, safe(err))
	}
	return nil
}

// Finish ends the previous credential on an emergency: the single user's
// other sessions are terminated (its password already changed in Set);
// in the alternating strategy the previous user gets a random password
// nobody knows and NOLOGIN (Set gives LOGIN back when it is next
// rotated), then its sessions are terminated. Otherwise it does nothing:
// the previous alternating credential keeps working for one more period.
func (r *rotator) Finish(ctx context.Context, previous, current secrets.Secret, emergency bool) error {
	if !emergency {
		return nil
	}
	user := r.o.Users[0]
	if r.alt {
		if previous.Version == 0 {
			return nil // nothing came before: nothing to end
		}
		_, pi, err := r.configured(previous)
		if err != nil {
			return fmt.Errorf("pgrotate: previous: %w", err)
		}
		_, ci, err := r.configured(current)
		if err != nil {
			return fmt.Errorf("pgrotate: current: %w", err)
		}
		if pi == ci {
			return fmt.Errorf("pgrotate: previous and current name the same user %q", r.o.Users[pi])
		}
		user = r.o.Users[pi]
		pw, err := newPassword(r.o.Rand)
		if err != nil {
			return err
		}
		defer clear(pw)
		// NOLOGIN first: no new session can start while the old ones end.
		err = r.setPassword(ctx, user, pw, false)
		r.record(ctx, current.Path, "finish", "disable_login", user, true, -1, err)
		if err != nil {
			return err
		}
	}
	n, err := r.terminate(ctx, user)
	r.record(ctx, current.Path, "finish", "terminate_sessions", user, true, n, err)
	return err
}

// configured parses s's credential and returns it with the index of its
// user in Options.Users; a user not configured is an error.
func (r *rotator) configured(s secrets.Secret) (Credential, int, error) {
	c, err := ParseCredential(s.Value)
	if err != nil {
		return Credential{}, 0, err
	}
	i := slices.Index(r.o.Users, c.Username)
	if i < 0 {
		return Credential{}, 0, errors.New("pgrotate: the credential names a user that is not configured")
	}
	return c, i, nil
}

// setPassword runs ALTER ROLE user WITH [NO]LOGIN PASSWORD '<verifier>'.
// ALTER ROLE takes no bind parameters (a utility statement), so the SQL
// is built: the identifier by pgx.Identifier.Sanitize (double quotes
// doubled, PostgreSQL docs 4.1.1), the literal is the SCRAM verifier of a
// generated password, checked to hold no quote (pgscram.Literal). The
// statement is never logged.
func (r *rotator) setPassword(ctx context.Context, user string, pw []byte, login bool) error {
	lit, err := pgscram.Literal(r.o.Rand, pw)
	if err != nil {
		return err
	}
	attr := "LOGIN"
	if !login {
		attr = "NOLOGIN"
	}
	q := "ALTER ROLE " + pgx.Identifier{user}.Sanitize() + " WITH " + attr + " PASSWORD " + lit
	if _, err := r.o.Pool.Exec(ctx, q); err != nil {
		return fmt.Errorf("pgrotate: alter role %q: %w", user, safe(err))
	}
	r.o.Logger.Info("pgrotate: role password set", "role", user, "login", login)
	return nil
}

// terminate ends every session of user but the caller's own and waits for
// them to exit; it returns how many ended.
func (r *rotator) terminate(ctx context.Context, user string) (int, error) {
	var n int
	// FILTER, not a third AND: SQL does not fix the evaluation order of a
	// WHERE clause, and the signal must only reach rows that passed it.
	err := r.o.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, $2))
		FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`, user, terminateWait).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pgrotate: terminate the sessions of %q: %w", user, safe(err))
	}
	r.o.Logger.Info("pgrotate: sessions terminated", "role", user, "count", n)
	return n, nil
}

// record writes the audit event of one change, when an auditor is set.
func (r *rotator) record(ctx context.Context, path secrets.Path, step, op, user string, emergency bool, sessions int, err error) {
	if r.o.Audit == nil {
		return
	}
	e := audit.Event{Actor: "system", Action: audit.ActionSecretRotate, Target: string(path), Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"path": string(path), "step": step, "op": op, "role": user, "strategy": r.o.Strategy,
			"emergency": strconv.FormatBool(emergency)}}
	if sessions >= 0 {
		e.Details["sessions"] = strconv.Itoa(sessions)
	}
	if err != nil {
		e.Outcome = audit.OutcomeFailure
		e.Reason = reasonOf(err)
	}
	if rerr := r.o.Audit.Record(ctx, e); rerr != nil {
		r.o.Logger.Error("pgrotate: audit failed", "op", op, "role", user, "error", rerr.Error())
	}
}

// reasonOf is the audit reason code of err: the SQLSTATE of a server
// error (e.g. 42501 insufficient_privilege), else a class.
func reasonOf(err error) string {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		return "sqlstate_" + pe.Code
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	default:
		return "error"
	}
}

// safe keeps what an error may say: a server error's SQLSTATE and message
// (they name roles, never the statement or its literal), else the error
// itself (pgconn's connect errors name user, host and database, never the
// password).
func safe(err error) error {
	if err == nil {
		return errors.New("pgrotate: unexpected result")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return &pgconn.PgError{Severity: pe.Severity, Code: pe.Code, Message: pe.Message}
	}
	return err
}
