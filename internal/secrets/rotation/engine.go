// Package rotation is the secrets manager's persisted rotation engine:
// AWS Secrets Manager's create → set → test → finish state machine over
// the Manager's versions and staging labels, resumable after a crash at
// any point, one run per secret fleet-wide, on a schedule inside weekly
// UTC windows or on request (emergency rotation on suspicion).
package rotation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/secrets"
)

// Schedule gives a secret a rotator: Every 0 is manual only; Window
// restricts scheduled rotations (a Request ignores it).
type Schedule struct {
	Path    secrets.Path
	Rotator string // its name: random, postgres, oauth_client, signing_key
	Every   time.Duration
	Window  Window
	Impl    Rotator
}

// LeaseRevoker ends a path's dynamic-credential leases (pgdyn.Engine
// satisfies it); an emergency rotation calls it after the new version
// became current.
type LeaseRevoker interface {
	RevokePath(ctx context.Context, p secrets.Principal, path secrets.Path) (int, error)
}

// Options configure an Engine.
type Options struct {
	// Manager: every value and label operation goes through it as the
	// system principal "rotation" (audited there as system:rotation).
	Manager *secrets.Manager
	Store   RunStore
	// Schedules: one per path.
	Schedules []Schedule
	// Policies decide Rotate (capability rotate) and Status (rotate or
	// read) for a principal; nil lets only KindAdmin and KindSystem in.
	Policies *secrets.Policies
	Audit    secrets.Auditor
	// Revoker: optional; an emergency rotation revokes the path's leases.
	Revoker LeaseRevoker
	Clock   func() time.Time // default time.Now
	Logger  *slog.Logger     // default slog.Default()
	// Tick is the scheduler period of Run; default DefaultTick.
	Tick time.Duration
	// MaxAttempts: failed attempts before a run gives up; default
	// DefaultMaxAttempts.
	MaxAttempts int
	// Backoff is the wait after the first failed attempt, doubled after
	// each (capped at MaxBackoff); default DefaultBackoff.
	Backoff time.Duration
	// ClaimTTL is how long a claim on a run holds without a save;
	// default DefaultClaimTTL.
	ClaimTTL time.Duration
	// Hooks is for tests only (nil in production): called with phase
	// "before" after a step's start is persisted, "ran" after it ran
	// but before its completion is persisted, "after" once it is, and
	// ("finish", "moved") between the label move and the rest of finish.
	Hooks func(step Step, phase string)
}

// Defaults.
const (
	DefaultTick        = 30 * time.Second
	DefaultMaxAttempts = 5
	DefaultBackoff     = 30 * time.Second
	MaxBackoff         = 15 * time.Minute
	DefaultClaimTTL    = 5 * time.Minute
	// retryAfterFailure bounds how soon a schedule tries again after a
	// run gave up (at most Every).
	retryAfterFailure = time.Hour
)

// Errors of the engine, matched with errors.Is; safe to show a caller.
var (
	// ErrNoRotator: the path has no rotation configured (a secrets.ErrNotFound).
	ErrNoRotator = fmt.Errorf("%w: no rotation is configured for this path", secrets.ErrNotFound)
	// ErrBusy: another instance holds the secret's rotation run (a
	// secrets.ErrConflict); the run goes on there.
	ErrBusy = fmt.Errorf("%w: the secret's rotation is in progress on another instance", secrets.ErrConflict)
)

// StepError is a failed step. Its message carries only the step and a
// reason code: a rotator's error (which might quote a target's answer)
// is reachable through Unwrap, never printed.
type StepError struct {
	Step Step
	Code string
	err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("rotation: step %s failed (%s)", e.Step, e.Code)
}

// Unwrap returns the cause.
func (e *StepError) Unwrap() error { return e.err }

// system is the engine's principal at the Manager.
var system = secrets.Principal{Kind: secrets.KindSystem, ID: "rotation"}

// Engine runs rotations.
type Engine struct {
	o      Options
	owner  string // this instance's claim id
	sched  map[secrets.Path]Schedule
	paths  []secrets.Path
	system secrets.Principal
}

// New checks o and returns an Engine.
func New(o Options) (*Engine, error) {
	switch {
	case o.Manager == nil:
		return nil, errors.New("rotation: no manager")
	case o.Store == nil:
		return nil, errors.New("rotation: no run store")
	case o.Audit == nil:
		return nil, errors.New("rotation: no auditor")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Tick <= 0 {
		o.Tick = DefaultTick
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.ClaimTTL <= 0 {
		o.ClaimTTL = DefaultClaimTTL
	}
	e := &Engine{o: o, sched: map[secrets.Path]Schedule{}, system: system}
	for i, s := range o.Schedules {
		if _, err := secrets.ParsePath(string(s.Path)); err != nil {
			return nil, fmt.Errorf("rotation: schedule %d: %w", i, err)
		}
		if s.Impl == nil || s.Rotator == "" {
			return nil, fmt.Errorf("rotation: schedule %d (%s): no rotator", i, s.Path)
		}
		if s.Every < 0 {
			return nil, fmt.Errorf("rotation: schedule %d (%s): a negative period", i, s.Path)
		}
		if _, dup := e.sched[s.Path]; dup {
			return nil, fmt.Errorf("rotation: schedule %d: %s has another schedule", i, s.Path)
		}
		e.sched[s.Path] = s
		e.paths = append(e.paths, s.Path)
	}
	slices.Sort(e.paths)
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	e.owner = id
	return e, nil
}

// Rotate rotates the secret at path now, synchronously: it resumes the
// secret's open run (a retry ignores the backoff: someone asked) or
// starts one. Capability rotate. With r.Now the run is an emergency: the
// rotator ends the old credential at once and the path's leases are
// revoked.
func (e *Engine) Rotate(ctx context.Context, p secrets.Principal, path secrets.Path, r Request) (Status, error) {
	// Policy first, before anything is looked up: a principal without
	// rotate learns nothing about the path (no existence oracle, OWASP
	// Authorization Cheat Sheet).
	if !e.o.Policies.Allowed(p, secrets.CapRotate, path) {
		e.auditRequest(ctx, p, path, r, secrets.ErrForbidden)
		return Status{}, secrets.ErrForbidden
	}
	sc, ok := e.sched[path]
	if !ok {
		e.auditRequest(ctx, p, path, r, ErrNoRotator)
		return Status{}, ErrNoRotator
	}
	reason := r.Reason
	if reason == "" {
		reason = "manual"
		if r.Now {
			reason = "emergency"
		}
	}
	run, err := e.start(ctx, sc, reason, r.Now, p.Actor())
	if err != nil {
		return Status{}, err
	}
	if err := e.drive(ctx, sc, &run, true); err != nil {
		return e.status(sc, run, time.Time{}), err
	}
	return e.Status(ctx, e.system, path)
}

// Status returns the secret's rotation state. Capability rotate or read.
func (e *Engine) Status(ctx context.Context, p secrets.Principal, path secrets.Path) (Status, error) {
	if !e.o.Policies.Allowed(p, secrets.CapRotate, path) && !e.o.Policies.Allowed(p, secrets.CapRead, path) {
		return Status{}, secrets.ErrForbidden
	}
	sc, ok := e.sched[path]
	if !ok {
		return Status{}, ErrNoRotator
	}
	last, err := e.o.Store.LatestRun(ctx, path, "")
	if err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return Status{}, err
	}
	done, err := e.o.Store.LatestRun(ctx, path, OutcomeDone)
	if err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return Status{}, err
	}
	st := e.status(sc, last, done.FinishedAt)
	if sc.Every > 0 {
		due, err := e.nextDue(ctx, sc)
		if err != nil {
			return Status{}, err
		}
		st.NextDue = due
	}
	return st, nil
}

func (e *Engine) status(sc Schedule, r Run, lastRotated time.Time) Status {
	return Status{Path: sc.Path, Rotator: sc.Rotator, Every: sc.Every, Window: sc.Window.String(), Step: r.Step, RunID: r.ID,
		Reason: r.Reason, PendingVersion: r.PendingVersion, Attempts: r.Attempts, LastError: r.LastError,
		StartedAt: r.StartedAt, UpdatedAt: r.UpdatedAt, LastRotated: lastRotated}
}

// Resume drives every open run whose backoff has passed (at start: the
// runs an instance left when it stopped or crashed). A run held by a
// live instance is left to it. It returns the errors joined.
func (e *Engine) Resume(ctx context.Context) error {
	_, err := e.resume(ctx)
	return err
}

func (e *Engine) resume(ctx context.Context) (int, error) {
	runs, err := e.o.Store.OpenRuns(ctx)
	if err != nil {
		return 0, err
	}
	var (
		errs []error
		n    int
	)
	for _, run := range runs {
		sc, ok := e.sched[run.Path]
		if !ok {
			e.o.Logger.Warn("rotation: an open run has no schedule (removed from the configuration?); left as it is", "path", string(run.Path), "run_id", run.ID)
			continue
		}
		if e.o.Clock().Before(run.NextAttemptAt) {
			continue
		}
		err := e.drive(ctx, sc, &run, false)
		switch {
		case errors.Is(err, ErrBusy):
		case err != nil:
			errs = append(errs, fmt.Errorf("rotation: %s: %w", run.Path, err))
		case run.Outcome == OutcomeDone:
			n++
		}
	}
	return n, errors.Join(errs...)
}

// RunDue resumes the open runs that are due, then rotates every
// scheduled secret that is due and inside its window. It returns how
// many rotations completed.
func (e *Engine) RunDue(ctx context.Context) (int, error) {
	n, err := e.resume(ctx)
	errs := []error{err}
	for _, path := range e.paths {
		sc := e.sched[path]
		if sc.Every == 0 {
			continue
		}
		if _, err := e.o.Store.OpenRun(ctx, path); err == nil {
			continue // resumed above, or backing off
		} else if !errors.Is(err, secrets.ErrNotFound) {
			errs = append(errs, err)
			continue
		}
		due, err := e.nextDue(ctx, sc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		now := e.o.Clock()
		if now.Before(due) || !sc.Window.Contains(now) {
			continue
		}
		run, err := e.start(ctx, sc, "scheduled", false, e.system.Actor())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = e.drive(ctx, sc, &run, false)
		switch {
		case errors.Is(err, ErrBusy):
		case err != nil:
			errs = append(errs, fmt.Errorf("rotation: %s: %w", path, err))
		case run.Outcome == OutcomeDone:
			n++
		}
	}
	return n, errors.Join(errs...)
}

// Run resumes the open runs, then runs RunDue every Tick until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	if err := e.Resume(ctx); err != nil {
		e.o.Logger.Error("rotation: resume", "error", err.Error())
	}
	t := time.NewTicker(e.o.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := e.RunDue(ctx); err != nil {
				e.o.Logger.Error("rotation: scheduled rotations", "error", err.Error())
			}
		}
	}
}

// nextDue is the first instant inside the window at or after the last
// rotation plus Every (now when the secret has no rotation on record),
// or after a run that gave up plus min(Every, an hour).
func (e *Engine) nextDue(ctx context.Context, sc Schedule) (time.Time, error) {
	done, err := e.o.Store.LatestRun(ctx, sc.Path, OutcomeDone)
	if err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return time.Time{}, err
	}
	failed, err := e.o.Store.LatestRun(ctx, sc.Path, OutcomeFailed)
	if err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return time.Time{}, err
	}
	return NextDue(sc.Every, sc.Window, done.FinishedAt, failed.FinishedAt, e.o.Clock()), nil
}

// NextDue is when a schedule of period every in window w is next due,
// after the last rotation lastDone (zero: never, due now) and the last
// run that gave up lastFailed (zero: none): the first instant inside the
// window at or after it. Zero when every is 0 (manual only).
func NextDue(every time.Duration, w Window, lastDone, lastFailed, now time.Time) time.Time {
	if every <= 0 {
		return time.Time{}
	}
	due := now.UTC()
	if !lastDone.IsZero() {
		due = lastDone.Add(every)
	}
	if lastFailed.After(lastDone) {
		if retry := lastFailed.Add(min(every, retryAfterFailure)); retry.After(due) {
			due = retry
		}
	}
	return w.Next(due)
}

// start returns the path's open run, or a new one claimed by this
// instance. A request for an emergency upgrades an open run.
func (e *Engine) start(ctx context.Context, sc Schedule, reason string, emergency bool, by string) (Run, error) {
	id, err := randomID()
	if err != nil {
		return Run{}, err
	}
	now := e.o.Clock().UTC()
	r := Run{ID: id, Path: sc.Path, Rotator: sc.Rotator, Step: StepCreate, Emergency: emergency, Reason: reason,
		RequestedBy: by, StartedAt: now, UpdatedAt: now}
	for range 3 {
		got, created, err := e.o.Store.CreateRun(ctx, r, e.owner, now.Add(e.o.ClaimTTL))
		if errors.Is(err, secrets.ErrConflict) {
			continue // the open run ended meanwhile
		}
		if err != nil {
			return Run{}, err
		}
		if created {
			e.audit(ctx, r, "start", nil)
		}
		if emergency && !got.Emergency {
			got.Emergency = true
			got.Reason = reason
		}
		return got, nil
	}
	return Run{}, ErrBusy
}

// randomID returns a random 128-bit hex id.
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("rotation: id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// auditRequest records a refused request.
func (e *Engine) auditRequest(ctx context.Context, p secrets.Principal, path secrets.Path, r Request, err error) {
	ev := audit.Event{Actor: p.Actor(), Action: audit.ActionSecretRotate, Target: string(path), Outcome: audit.OutcomeFailure,
		Reason: reasonCode(err), Details: map[string]string{"path": string(path), "op": "request", "emergency": fmt.Sprint(r.Now)}}
	if rerr := e.o.Audit.Record(ctx, ev); rerr != nil {
		e.o.Logger.Error("rotation: audit failed", "path", string(path), "error", rerr.Error())
	}
}
