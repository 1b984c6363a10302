package rotation

import (
	"context"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// Run outcomes: an open run has none.
const (
	OutcomeDone   = "done"
	OutcomeFailed = "failed"
)

// Run is one persisted rotation of a secret. It is written before each
// step runs and after it completes, so after a crash the next instance
// resumes at Step. LastError is a reason code (never a value or a
// rotator's message).
type Run struct {
	ID             string // random, 128 bits, hex
	Path           secrets.Path
	Rotator        string
	Step           Step // the step to run next; StepDone when the run ended
	Outcome        string
	PendingVersion int64
	Emergency      bool
	Reason         string
	RequestedBy    string // the requesting principal's Actor()
	Attempts       int    // failed attempts so far
	LastError      string
	StartedAt      time.Time
	UpdatedAt      time.Time
	FinishedAt     time.Time // zero while open
	NextAttemptAt  time.Time // backoff after a failed attempt
}

// Open reports whether the run has not ended.
func (r Run) Open() bool { return r.FinishedAt.IsZero() }

// RunStore persists runs ((*sqlstore.DB).SecretRotations()). At most one
// run per path is open at a time (a unique index), and a run is changed
// only by the instance holding its claim.
type RunStore interface {
	// CreateRun inserts r, open and claimed by owner until until, unless
	// the path has an open run: then it returns that run and false.
	CreateRun(ctx context.Context, r Run, owner string, until time.Time) (Run, bool, error)
	// ClaimRun claims the open run id for owner until until with one
	// conditional UPDATE: it succeeds when the run is unclaimed, its
	// claim expired before now, or owner holds it; false otherwise (and
	// when the run is no longer open).
	ClaimRun(ctx context.Context, id, owner string, now, until time.Time) (bool, error)
	// SaveRun writes r's state (step, outcome, pending version, attempts,
	// error, times) and extends the claim to until, only while owner
	// holds the claim; false when another instance took it. A run saved
	// with FinishedAt set is closed and its claim released.
	SaveRun(ctx context.Context, r Run, owner string, until time.Time) (bool, error)
	// OpenRun returns the path's open run; secrets.ErrNotFound when none.
	OpenRun(ctx context.Context, path secrets.Path) (Run, error)
	// LatestRun returns the path's newest run with outcome ("" any);
	// secrets.ErrNotFound when none.
	LatestRun(ctx context.Context, path secrets.Path, outcome string) (Run, error)
	// OpenRuns returns every open run, oldest first.
	OpenRuns(ctx context.Context) ([]Run, error)
}
