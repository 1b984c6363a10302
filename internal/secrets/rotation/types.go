package rotation

import (
	"context"
	"time"

	"github.com/rampart-auth/rampart/internal/secrets"
)

// Step is a rotation step (AWS Secrets Manager's create, set, test,
// finish), persisted before and after it runs.
type Step string

// Steps, in order; StepDone ends a run.
const (
	StepCreate Step = "create"
	StepSet    Step = "set"
	StepTest   Step = "test"
	StepFinish Step = "finish"
	StepDone   Step = "done"
)

// Request asks for a rotation.
type Request struct {
	// Now: an emergency rotation (on suspicion): the new version becomes
	// current at once, and the rotator ends the old credential's leases
	// and sessions (no overlap).
	Now    bool
	Reason string // e.g. "scheduled", "manual", "suspicion"
}

// Status is a secret's rotation state.
type Status struct {
	Path           secrets.Path
	Rotator        string
	Every          time.Duration // 0: manual only
	Window         string
	Step           Step // of the last run; StepDone when it ended
	RunID          string
	Reason         string
	PendingVersion int64
	Attempts       int
	LastError      string // a reason code, never a value
	StartedAt      time.Time
	UpdatedAt      time.Time
	LastRotated    time.Time
	NextDue        time.Time // zero when manual only
}

// Rotator makes and applies new values for one secret. Every method is
// idempotent: after a crash the engine runs the interrupted step again.
type Rotator interface {
	// NewValue makes the pending value; current.Version is 0 when the
	// secret has no current version yet.
	NewValue(ctx context.Context, current secrets.Secret) (secrets.Value, error)
	// Set makes pending valid at the target (a database, the OAuth
	// client store, the key ring); current stays valid unless emergency.
	Set(ctx context.Context, current, pending secrets.Secret, emergency bool) error
	// Test proves pending works at the target.
	Test(ctx context.Context, pending secrets.Secret) error
	// Finish runs after pending became current: with emergency it ends
	// the previous credential (sessions, leases); otherwise it may retire
	// what no longer needs to work.
	Finish(ctx context.Context, previous, current secrets.Secret, emergency bool) error
}
