package rotation

import (
	"context"
	"errors"
	"maps"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/secrets"
)

// MetadataRotator is a Rotator whose new value comes with secret
// metadata (a signing key's public JWK): the engine merges it into the
// secret's metadata by the pending version's Put.
type MetadataRotator interface {
	Metadata(ctx context.Context, pending secrets.Value) (map[string]string, error)
}

// next is the step after s.
func next(s Step) Step {
	switch s {
	case StepCreate:
		return StepSet
	case StepSet:
		return StepTest
	case StepTest:
		return StepFinish
	default:
		return StepDone
	}
}

// drive runs the open run to its end, or to its first failure. It claims
// the run first (ErrBusy when another instance holds it). Unless manual,
// a run still backing off is left.
func (e *Engine) drive(ctx context.Context, sc Schedule, run *Run, manual bool) error {
	now := e.o.Clock().UTC()
	ok, err := e.o.Store.ClaimRun(ctx, run.ID, e.owner, now, now.Add(e.o.ClaimTTL))
	if err != nil {
		return err
	}
	if !ok {
		return ErrBusy
	}
	if !manual && now.Before(run.NextAttemptAt) {
		return nil
	}
	if run.Attempts >= e.o.MaxAttempts {
		// A crash during the give-up: finish it.
		return e.giveUp(ctx, run, &StepError{Step: run.Step, Code: run.LastError})
	}
	for run.Step != StepDone {
		if err := e.step(ctx, sc, run); err != nil {
			return e.fail(ctx, run, err)
		}
	}
	return nil
}

// step persists the run's step, runs it and persists its completion.
func (e *Engine) step(ctx context.Context, sc Schedule, run *Run) error {
	s := run.Step
	if err := e.save(ctx, run); err != nil {
		return err
	}
	e.hook(s, "before")
	var err error
	switch s {
	case StepCreate:
		err = e.create(ctx, sc, run)
	case StepSet:
		err = e.set(ctx, sc, run)
	case StepTest:
		err = e.test(ctx, sc, run)
	case StepFinish:
		err = e.finish(ctx, sc, run)
	}
	if err != nil {
		return &StepError{Step: s, Code: stepCode(s, err), err: err}
	}
	e.hook(s, "ran")
	run.Step = next(s)
	run.LastError = ""
	if run.Step == StepDone {
		run.Outcome, run.FinishedAt = OutcomeDone, e.o.Clock().UTC()
	}
	if err := e.save(ctx, run); err != nil {
		return err
	}
	e.hook(s, "after")
	e.audit(ctx, *run, string(s), nil)
	return nil
}

// save persists the run and extends this instance's claim.
func (e *Engine) save(ctx context.Context, run *Run) error {
	now := e.o.Clock().UTC()
	run.UpdatedAt = now
	ok, err := e.o.Store.SaveRun(ctx, *run, e.owner, now.Add(e.o.ClaimTTL))
	if err != nil {
		return err
	}
	if !ok {
		return ErrBusy
	}
	return nil
}

// fail records a failed attempt: attempts+1, the reason code, the
// backoff; after MaxAttempts the run gives up. A lost claim or a
// cancelled context is not an attempt (the run goes on elsewhere or at
// the next start).
func (e *Engine) fail(ctx context.Context, run *Run, err error) error {
	var se *StepError
	if !errors.As(err, &se) || ctx.Err() != nil {
		return err
	}
	run.Attempts++
	run.LastError = se.Code
	backoff := e.o.Backoff << min(run.Attempts-1, 10)
	run.NextAttemptAt = e.o.Clock().UTC().Add(min(backoff, MaxBackoff))
	e.o.Logger.Warn("rotation: step failed", "path", string(run.Path), "run_id", run.ID, "step", string(se.Step),
		"code", se.Code, "attempt", run.Attempts)
	if run.Attempts >= e.o.MaxAttempts {
		return e.giveUp(ctx, run, se)
	}
	if serr := e.save(ctx, run); serr != nil {
		return serr
	}
	e.audit(ctx, *run, string(se.Step), se)
	return se
}

// giveUp ends a run that failed MaxAttempts times. Before the promotion
// current is left as it was and the pending label is removed, so a
// secret never has two candidate versions (the pending version itself
// stays, unlabelled, until the keep limit destroys it). A run that
// failed after the promotion keeps the new current (it passed its test).
func (e *Engine) giveUp(ctx context.Context, run *Run, se *StepError) error {
	if run.PendingVersion != 0 {
		meta, _, err := e.o.Manager.Versions(ctx, e.system, run.Path)
		if err != nil && !errors.Is(err, secrets.ErrNotFound) {
			return err
		}
		if pv := run.PendingVersion; err == nil && meta.Labels[secrets.LabelPending] == pv && meta.Labels[secrets.LabelCurrent] != pv {
			if err := e.o.Manager.RemoveLabel(ctx, e.system, run.Path, secrets.LabelPending, &pv); err != nil && !errors.Is(err, secrets.ErrNotFound) {
				return err
			}
		}
	}
	run.Outcome, run.FinishedAt = OutcomeFailed, e.o.Clock().UTC()
	if err := e.save(ctx, run); err != nil {
		return err
	}
	e.o.Logger.Error("rotation: gave up", "path", string(run.Path), "run_id", run.ID, "step", string(se.Step), "code", se.Code, "attempts", run.Attempts)
	e.audit(ctx, *run, "give_up", se)
	return se
}

func (e *Engine) hook(s Step, phase string) {
	if e.o.Hooks != nil {
		e.o.Hooks(s, phase)
	}
}

// audit records one secret.rotate event of the run: op is a step, start
// or give_up; se the failure (nil: success).
func (e *Engine) audit(ctx context.Context, run Run, op string, se *StepError) {
	ev := audit.Event{Actor: e.system.Actor(), Action: audit.ActionSecretRotate, Target: string(run.Path), Outcome: audit.OutcomeSuccess,
		Details: map[string]string{
			"path": string(run.Path), "run_id": run.ID, "step": op, "reason": run.Reason, "rotator": run.Rotator,
			"pending_version": strconv.FormatInt(run.PendingVersion, 10), "emergency": strconv.FormatBool(run.Emergency),
			"requested_by": run.RequestedBy, "attempts": strconv.Itoa(run.Attempts),
		}}
	if se != nil {
		ev.Outcome, ev.Reason = audit.OutcomeFailure, se.Code
		ev.Details["step"] = string(se.Step)
		if op == "give_up" {
			ev.Details["op"] = op
		}
	}
	if err := e.o.Audit.Record(ctx, ev); err != nil {
		e.o.Logger.Error("rotation: audit failed", "path", string(run.Path), "run_id", run.ID, "error", err.Error())
	}
}

// stepCode is the reason code of a failed step: the Manager's reason
// (conflict, not_found, ...) or "<step>_failed" for a rotator's error.
func stepCode(s Step, err error) string {
	if c := reasonCode(err); c != "error" {
		return c
	}
	return string(s) + "_failed"
}

// reasonCode maps the Manager's errors to their audit reason codes.
func reasonCode(err error) string {
	for _, r := range []struct {
		err  error
		code string
	}{
		{ErrBusy, "busy"}, {ErrNoRotator, "no_rotator"},
		{secrets.ErrForbidden, "forbidden"}, {secrets.ErrInvalid, "invalid"}, {secrets.ErrNotFound, "not_found"},
		{secrets.ErrConflict, "conflict"}, {secrets.ErrDeleted, "deleted"}, {secrets.ErrDestroyed, "destroyed"},
		{secrets.ErrTampered, "tampered"}, {context.Canceled, "canceled"}, {context.DeadlineExceeded, "timeout"},
	} {
		if errors.Is(err, r.err) {
			return r.code
		}
	}
	return "error"
}

// labels reads the secret's labels and versions; a missing secret has
// none.
func (e *Engine) labels(ctx context.Context, path secrets.Path) (secrets.Meta, []secrets.VersionInfo, error) {
	meta, vs, err := e.o.Manager.Versions(ctx, e.system, path)
	if errors.Is(err, secrets.ErrNotFound) {
		return secrets.Meta{Path: path, Labels: map[string]int64{}}, nil, nil
	}
	return meta, vs, err
}

// read returns the version the label points at; the zero Secret (Version
// 0) when the label does not exist.
func (e *Engine) read(ctx context.Context, meta secrets.Meta, label string) (secrets.Secret, error) {
	v, ok := meta.Labels[label]
	if !ok {
		return secrets.Secret{Path: meta.Path}, nil
	}
	return e.o.Manager.Get(ctx, e.system, meta.Path, secrets.Selector{Version: v})
}

// create makes the pending version (Impl.NewValue, Put labelled pending
// with check-and-set on the version read). After a crash between the Put
// and the save of PendingVersion, it adopts the version the pending label
// points at when the engine made it during this run and it is newer than
// current.
func (e *Engine) create(ctx context.Context, sc Schedule, run *Run) error {
	meta, vs, err := e.labels(ctx, run.Path)
	if err != nil {
		return err
	}
	if run.PendingVersion != 0 {
		return nil
	}
	if pv, ok := meta.Labels[secrets.LabelPending]; ok && pv > meta.Labels[secrets.LabelCurrent] && e.madeByRun(vs, pv, *run) {
		run.PendingVersion = pv
		return nil
	}
	cur, err := e.read(ctx, meta, secrets.LabelCurrent)
	if err != nil {
		return err
	}
	v, err := sc.Impl.NewValue(ctx, cur)
	if err != nil {
		return err
	}
	var md map[string]string
	if mr, ok := sc.Impl.(MetadataRotator); ok {
		extra, err := mr.Metadata(ctx, v)
		if err != nil {
			return err
		}
		md = maps.Clone(meta.Metadata)
		if md == nil {
			md = map[string]string{}
		}
		maps.Copy(md, extra)
	}
	cas := meta.CurrentVersion
	info, err := e.o.Manager.Put(ctx, e.system, run.Path, v, secrets.PutOptions{Labels: []string{secrets.LabelPending}, CAS: &cas, Metadata: md})
	if err != nil {
		return err
	}
	run.PendingVersion = info.Version
	return nil
}

// madeByRun reports whether version pv was written by the engine since
// the run started (not an operator's own pending label).
func (e *Engine) madeByRun(vs []secrets.VersionInfo, pv int64, run Run) bool {
	for _, v := range vs {
		if v.Version == pv {
			return v.CreatedBy == e.system.Actor() && !v.CreatedAt.Before(run.StartedAt.Truncate(time.Microsecond)) &&
				v.DeletedAt.IsZero() && !v.Destroyed
		}
	}
	return false
}

// set makes pending valid at the target.
func (e *Engine) set(ctx context.Context, sc Schedule, run *Run) error {
	meta, _, err := e.labels(ctx, run.Path)
	if err != nil {
		return err
	}
	cur, err := e.read(ctx, meta, secrets.LabelCurrent)
	if err != nil {
		return err
	}
	pending, err := e.o.Manager.Get(ctx, e.system, run.Path, secrets.Selector{Version: run.PendingVersion})
	if err != nil {
		return err
	}
	return sc.Impl.Set(ctx, cur, pending, run.Emergency)
}

// test proves pending works at the target.
func (e *Engine) test(ctx context.Context, sc Schedule, run *Run) error {
	pending, err := e.o.Manager.Get(ctx, e.system, run.Path, secrets.Selector{Version: run.PendingVersion})
	if err != nil {
		return err
	}
	return sc.Impl.Test(ctx, pending)
}

// finish promotes pending to current (check-and-set on the old current;
// previous follows in the same transaction), removes the pending label,
// then runs Impl.Finish and, for an emergency, revokes the path's leases.
// Each part is skipped when a crash left it done.
func (e *Engine) finish(ctx context.Context, sc Schedule, run *Run) error {
	pv := run.PendingVersion
	meta, _, err := e.labels(ctx, run.Path)
	if err != nil {
		return err
	}
	if cur := meta.Labels[secrets.LabelCurrent]; cur != pv {
		if err := e.o.Manager.MoveLabel(ctx, e.system, run.Path, secrets.LabelCurrent, pv, &cur); err != nil {
			return err
		}
		e.hook(StepFinish, "moved")
		if meta, _, err = e.labels(ctx, run.Path); err != nil {
			return err
		}
	}
	if meta.Labels[secrets.LabelPending] == pv {
		if err := e.o.Manager.RemoveLabel(ctx, e.system, run.Path, secrets.LabelPending, &pv); err != nil && !errors.Is(err, secrets.ErrNotFound) {
			return err
		}
	}
	prev, err := e.read(ctx, meta, secrets.LabelPrevious)
	if err != nil {
		return err
	}
	cur, err := e.o.Manager.Get(ctx, e.system, run.Path, secrets.Selector{Version: pv})
	if err != nil {
		return err
	}
	if err := sc.Impl.Finish(ctx, prev, cur, run.Emergency); err != nil {
		return err
	}
	if run.Emergency && e.o.Revoker != nil {
		n, err := e.o.Revoker.RevokePath(ctx, e.system, run.Path)
		if err != nil {
			return err
		}
		e.o.Logger.Info("rotation: emergency rotation revoked the path's leases", "path", string(run.Path), "leases", n)
	}
	return nil
}
