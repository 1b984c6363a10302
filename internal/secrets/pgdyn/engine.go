package pgdyn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// Options configure an Engine.
type Options struct {
	Store LeaseStore // db.SecretLeases()
	// Pools are the administrative pools (a role with CREATEROLE) by
	// database name (config secrets.databases).
	Pools map[string]*pgxpool.Pool
	Roles []Role
	// Policies: nil lets nobody but KindAdmin and KindSystem in.
	Policies *secrets.Policies
	Audit    secrets.Auditor
	Clock    func() time.Time // default time.Now
	Logger   *slog.Logger     // default slog.Default()
	// ReapEvery is the period of Run's reaping. Default DefaultReapEvery.
	ReapEvery time.Duration
}

// Engine defaults and bounds.
const (
	// DefaultReapEvery: an expired lease lives at most this long past
	// its expiry (its VALID UNTIL already refuses new logins).
	DefaultReapEvery = 5 * time.Second
	// createTimeout bounds a lease's creation statements; createClaim
	// (longer) is how long a creating row is left to its creator before a
	// reaper takes it, so a reaper never drops a role whose creation is
	// still running.
	createTimeout = 30 * time.Second
	createClaim   = 2 * time.Minute
	// revokeClaim is how long a revoking instance holds a lease before
	// another may retake it (the revocation is idempotent).
	revokeClaim = time.Minute
	// reapBatch bounds the leases one Reap query returns; reapWorkers the
	// revocations it runs at once.
	reapBatch   = 100
	reapWorkers = 4
	// terminateRounds bounds the terminate-and-check loop of a revocation
	// (a session racing in while NOLOGIN commits).
	terminateRounds = 120
)

// Engine hands out dynamic PostgreSQL credentials: each lease is a new
// role made from its role's creation statements, dropped at expiry or
// revocation. It is safe for concurrent use.
type Engine struct {
	o     Options
	roles map[secrets.Path]Role
}

// New checks o and every role and returns an Engine: a role's path must
// be valid, its database must have a pool, its statements must pass
// CheckTemplate, creation must name the role ({{name}}), revocation may
// use only {{name}} (it has no password or expiry), and 0 < DefaultTTL <=
// MaxTTL.
func New(o Options) (*Engine, error) {
	switch {
	case o.Store == nil:
		return nil, errors.New("pgdyn: no store")
	case o.Audit == nil:
		return nil, errors.New("pgdyn: no auditor")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReapEvery == 0 {
		o.ReapEvery = DefaultReapEvery
	}
	if o.ReapEvery < 0 {
		return nil, errors.New("pgdyn: reap period must be positive")
	}
	e := &Engine{o: o, roles: make(map[secrets.Path]Role, len(o.Roles))}
	for i, r := range o.Roles {
		if err := checkRole(r, o.Pools); err != nil {
			return nil, fmt.Errorf("pgdyn: role %d (%q): %w", i, string(r.Path), err)
		}
		if _, dup := e.roles[r.Path]; dup {
			return nil, fmt.Errorf("pgdyn: role %d (%q): the path is used by another role", i, string(r.Path))
		}
		r.Creation, r.Revocation = slices.Clone(r.Creation), slices.Clone(r.Revocation)
		e.roles[r.Path] = r
	}
	return e, nil
}

// checkRole validates one role (see New).
func checkRole(r Role, pools map[string]*pgxpool.Pool) error {
	if _, err := secrets.ParsePath(string(r.Path)); err != nil {
		return err
	}
	if pools[r.Database] == nil {
		return fmt.Errorf("no pool for database %q", r.Database)
	}
	if len(r.Creation) == 0 {
		return errors.New("no creation statement")
	}
	if err := CheckTemplate(r.Creation); err != nil {
		return err
	}
	if err := CheckTemplate(r.Revocation); err != nil {
		return err
	}
	named := false
	for _, s := range r.Creation {
		u, _ := placeholders(s)
		named = named || u[phName]
	}
	if !named {
		return errors.New("no creation statement uses {{name}}")
	}
	for _, s := range r.Revocation {
		if u, _ := placeholders(s); u[phPassword] || u[phExpiration] {
			return errors.New("revocation statements may use only {{name}}")
		}
	}
	if r.DefaultTTL <= 0 || r.MaxTTL <= 0 || r.DefaultTTL > r.MaxTTL {
		return fmt.Errorf("default TTL %s and max TTL %s must be positive, the default at most the max", r.DefaultTTL, r.MaxTTL)
	}
	return nil
}

// Roles returns the paths of the configured roles, sorted.
func (e *Engine) Roles() []secrets.Path {
	out := make([]secrets.Path, 0, len(e.roles))
	for p := range e.roles {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// NewPool opens an administrative pool of at most maxConns connections
// on dsn and pings it. Its errors never carry the DSN or the password:
// a parse error says only that, a connection error only its SQLSTATE or
// kind (the pgx errors name host, user and database and are dropped).
func NewPool(ctx context.Context, dsn string, maxConns int) (*pgxpool.Pool, error) {
	if maxConns < 1 || maxConns > 100 {
		return nil, fmt.Errorf("pgdyn: max connections %d is out of range 1..100", maxConns)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("pgdyn: the administrative DSN does not parse")
	}
	cfg.MaxConns = int32(maxConns) // #nosec G115 -- bounded to 1..100 above
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, errors.New("pgdyn: cannot open the administrative pool")
	}
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgdyn: cannot reach the administrative database: %s", safeCause(err))
	}
	return pool, nil
}

// safeCause describes err without its text: the SQLSTATE of a server
// error, or the kind of a client one. A PostgreSQL message can quote the
// statement (a syntax error "at or near" the password literal) and a pgx
// connect error names host, user and database, so neither is passed on.
func safeCause(err error) string {
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		return "SQLSTATE " + pe.Code
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	default:
		return "connection failed"
	}
}

// sqlState returns the SQLSTATE of err, or "".
func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
