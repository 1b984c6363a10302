package ca

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// Intermediate states (contract: published in the bundle at created_at,
// signing from activate_at, in the bundle until the last SVID it signed
// has expired or its own NotAfter).
const (
	StatePublished = "published"
	StateActive    = "active"
	StateRetiring  = "retiring"
	StateRetired   = "retired"
)

// IntermediateInfo describes one intermediate.
type IntermediateInfo struct {
	ID, Serial                      string
	NotBefore, NotAfter, ActivateAt time.Time
	State                           string // StatePublished, StateActive, StateRetiring or StateRetired
}

// active returns the index of the intermediate that signs at now: the
// latest whose activation time has passed and which is unexpired; -1 when
// none.
func (h *hierarchy) active(now time.Time) int {
	for i := len(h.inters) - 1; i >= 0; i-- {
		r := h.inters[i].rec
		if !now.Before(r.ActivateAt) && now.Before(r.NotAfter) {
			return i
		}
	}
	return -1
}

// state is the state of intermediate i at now.
func (h *hierarchy) state(i int, now time.Time) string {
	r := h.inters[i].rec
	act := h.active(now)
	switch {
	case !now.Before(r.NotAfter):
		return StateRetired
	case i == act:
		return StateActive
	case act < i:
		// Not active yet (or an older one still signs because this one
		// has not reached its activation time).
		return StatePublished
	}
	// Superseded: it signed nothing since its successor activated, so it
	// stays in the bundle until the last certificate it signed expires.
	succ := h.inters[i+1].rec.ActivateAt
	for j := i + 1; j <= act; j++ {
		if a := h.inters[j].rec.ActivateAt; !now.Before(a) {
			succ = a
			break
		}
	}
	// retireGrace covers the certificates issued just before the
	// successor activated that this node has not reloaded yet (another
	// node's, recorded at most one reload period ago).
	until := succ.Add(retireGrace)
	if r.LastIssued.After(until) {
		until = r.LastIssued
	}
	if now.Before(until) {
		return StateRetiring
	}
	return StateRetired
}

// Intermediates returns every intermediate, oldest first, with its state.
func (a *Authority) Intermediates() []IntermediateInfo {
	h := a.snapshot()
	now := a.o.Clock()
	out := make([]IntermediateInfo, 0, len(h.inters))
	for i, l := range h.inters {
		out = append(out, IntermediateInfo{ID: l.rec.ID, Serial: serialHex(l.cert.SerialNumber),
			NotBefore: l.cert.NotBefore.UTC(), NotAfter: l.cert.NotAfter.UTC(), ActivateAt: l.rec.ActivateAt, State: h.state(i, now)})
	}
	return out
}

// signer returns the active intermediate, or an unavailable error.
func (a *Authority) signer(now time.Time) (*hierarchy, *loaded, error) {
	h := a.snapshot()
	i := h.active(now)
	if i < 0 {
		return h, nil, unavailable(errors.New("ca: no intermediate is active (all expired; run `rampart ca rotate`)"))
	}
	return h, h.inters[i], nil
}

// Rotate publishes a new intermediate: in the bundle now, signing from now
// + RotationPropagation, so every peer has fetched it before it is met in
// a chain. Of two nodes rotating at once, one wins; the other gets
// ErrConflict.
func (a *Authority) Rotate(ctx context.Context, actor string) (IntermediateInfo, error) {
	if err := a.Reload(ctx); err != nil {
		return IntermediateInfo{}, err
	}
	return a.rotate(ctx, a.snapshot(), actor)
}

func (a *Authority) rotate(ctx context.Context, h *hierarchy, actor string) (IntermediateInfo, error) {
	now := a.o.Clock().UTC()
	activate := now.Add(a.o.RotationPropagation)
	if h.active(now) < 0 {
		// Nothing signs (every intermediate expired while the CA was
		// down): there is no old chain to overlap with, so the new one
		// signs at once rather than after the propagation time.
		activate = now
	}
	l, err := newIntermediate(a.o, h.root, now, activate)
	if err != nil {
		return IntermediateInfo{}, err
	}
	if err := a.o.Store.AddIntermediate(ctx, h.gen, l.rec); err != nil {
		return IntermediateInfo{}, fmt.Errorf("ca: rotate: %w", err)
	}
	a.keyMu.Lock()
	a.keys[l.rec.ID] = l.key
	a.keyMu.Unlock()
	if err := a.Reload(ctx); err != nil {
		return IntermediateInfo{}, err
	}
	info := IntermediateInfo{ID: l.rec.ID, Serial: serialHex(l.cert.SerialNumber), NotBefore: l.cert.NotBefore.UTC(),
		NotAfter: l.cert.NotAfter.UTC(), ActivateAt: l.rec.ActivateAt, State: StatePublished}
	if activate.Equal(now) {
		info.State = StateActive
	}
	if err := a.audit(ctx, auditEvent(actor, audit.ActionCARotate, "ca-intermediate:"+l.rec.ID, map[string]string{
		"serial": info.Serial, "activate_at": info.ActivateAt.Format(time.RFC3339), "not_after": info.NotAfter.Format(time.RFC3339),
	})); err != nil {
		return info, fmt.Errorf("ca: rotate: the intermediate is published but the audit event failed: %w", err)
	}
	return info, nil
}

// needsRotation reports whether the newest intermediate has less than a
// third of its life left (and so no successor is published yet).
func (h *hierarchy) needsRotation(now time.Time) bool {
	last := h.inters[len(h.inters)-1]
	life := last.cert.NotAfter.Sub(last.cert.NotBefore)
	return !now.Before(last.cert.NotAfter.Add(-life / 3))
}
