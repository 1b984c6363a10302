package keys

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// Audit actions of the key lifecycle, from the catalogue.
const (
	ActionGenerate = audit.ActionKeyGenerate
	ActionActivate = audit.ActionKeyActivate
	ActionRetire   = audit.ActionKeyRetire
	ActionRemove   = audit.ActionKeyRemove
	ActionRotate   = audit.ActionKeyRotate
)

// decision is what one schedule step changes; it is computed from a ring
// snapshot by decide, which is pure.
type decision struct {
	promote  *KeyRecord   // published key to activate now
	retire   *KeyRecord   // active key it replaces
	remove   []*KeyRecord // retired keys past remove_at
	generate bool         // make a new key...
	genNow   bool         // ...active at once (there is no key to take over from)
	genAt    time.Time    // ...else published, activating at genAt
	pending  *KeyRecord   // Rotate: the key already waiting
}

func (d decision) empty() bool {
	return d.promote == nil && d.retire == nil && len(d.remove) == 0 && !d.generate
}

// decide computes the due changes at now:
//   - a published key whose activate_at has come is promoted and the active
//     key retires, to leave the JWKS MaxTokenLifetime + clockSkew later;
//   - with no active key at all, the waiting key is promoted at once, or a
//     new key is generated active at once (empty ring: nothing to verify yet);
//   - PublishAhead before the active key reaches RotationPeriod (or at once
//     on Rotate), a new key is published, activating no sooner than
//     PublishAhead from now so every JWKS cache sees it before it signs;
//   - retired keys past remove_at are removed.
func (m *Manager) decide(now time.Time, recs []KeyRecord, rotate bool) decision {
	var (
		d         decision
		active    *KeyRecord
		published []*KeyRecord
	)
	for i := range recs {
		r := &recs[i]
		switch r.State {
		case StateActive:
			if active == nil || r.ActivateAt.After(active.ActivateAt) {
				active = r
			}
		case StatePublished:
			published = append(published, r)
		case StateRetired:
			if !now.Before(r.RemoveAt) {
				d.remove = append(d.remove, r)
			}
		}
	}
	sort.SliceStable(published, func(i, j int) bool { return published[i].ActivateAt.Before(published[j].ActivateAt) })

	current := active
	var currentSince time.Time
	if active != nil {
		currentSince = active.ActivateAt
	}
	if len(published) > 0 && (active == nil || !now.Before(published[0].ActivateAt)) {
		d.promote, d.retire = published[0], active
		current, currentSince = published[0], now
		published = published[1:]
	}
	switch {
	case current == nil:
		d.generate, d.genNow, d.genAt = true, true, now
	case len(published) > 0:
		if rotate {
			d.pending = published[0]
		}
	case rotate:
		d.generate, d.genAt = true, now.Add(m.publishAhead)
	case !now.Before(currentSince.Add(m.rotation - m.publishAhead)):
		d.generate = true
		d.genAt = currentSince.Add(m.rotation)
		if earliest := now.Add(m.publishAhead); d.genAt.Before(earliest) {
			d.genAt = earliest // late (instance was down): still publish ahead
		}
	}
	return d
}

// step applies the due changes (and a rotation when rotate), retrying on a
// lost compare-and-swap after reloading, so a change another instance made
// meanwhile is seen and never duplicated.
func (m *Manager) step(ctx context.Context, actor string, rotate bool) (KeyInfo, error) {
	m.stepMu.Lock()
	defer m.stepMu.Unlock()
	for range maxStepAttempts {
		rg, err := m.reload(ctx)
		if err != nil {
			return KeyInfo{}, err
		}
		now := m.clock().UTC()
		d := m.decide(now, rg.records, rotate)
		if !d.empty() {
			// Never change a ring this instance cannot fully read: with the
			// wrong master key, a new key would be sealed under it and the
			// other instances could not sign with it.
			if len(rg.problems) > 0 {
				return KeyInfo{}, ringProblem(rg.problems)
			}
			info, err := m.apply(ctx, rg.gen, now, actor, d, rotate)
			if errors.Is(err, ErrConflict) {
				m.log.Info("keys: another instance changed the key ring first; re-evaluating")
				continue
			}
			if err != nil || d.pending == nil {
				return info, err
			}
		}
		if d.pending != nil {
			return m.rotationPending(ctx, now, actor, d.pending)
		}
		return KeyInfo{}, nil
	}
	return KeyInfo{}, fmt.Errorf("keys: the key ring kept changing; gave up after %d attempts", maxStepAttempts)
}

// rotationPending audits a Rotate that found a key already waiting.
func (m *Manager) rotationPending(ctx context.Context, now time.Time, actor string, p *KeyRecord) (KeyInfo, error) {
	e := event(now, actor, ActionRotate, p.KID, map[string]string{"activate_at": ts(p.ActivateAt)})
	e.Outcome, e.Reason = audit.OutcomeFailure, "rotation_pending"
	if err := m.auditor.Record(ctx, e); err != nil {
		return KeyInfo{}, fmt.Errorf("keys: audit %s: %w", ActionRotate, err)
	}
	return infoOf(p), fmt.Errorf("%w: %s activates at %s", ErrRotationPending, p.KID, p.ActivateAt.Format(time.RFC3339))
}

// apply turns d into one compare-and-swap transaction, recording its audit
// events first (write-ahead, see the package doc). It returns the new key's
// info when one was generated.
func (m *Manager) apply(ctx context.Context, gen int64, now time.Time, actor string, d decision, rotate bool) (KeyInfo, error) {
	var (
		ch     KeyRingChange
		events []audit.Event
		info   KeyInfo
	)
	newGen := strconv.FormatInt(gen+1, 10)
	// details gives each event its own map, with the generation the
	// change creates, to correlate events with the ring.
	details := func(kv ...string) map[string]string {
		d := map[string]string{"generation": newGen}
		for i := 0; i+1 < len(kv); i += 2 {
			d[kv[i]] = kv[i+1]
		}
		return d
	}
	if d.generate {
		rec, err := m.newKey(now, d)
		if err != nil {
			return KeyInfo{}, err
		}
		ch.Inserts = append(ch.Inserts, rec)
		info = infoOf(&rec)
		if rotate {
			events = append(events, event(now, actor, ActionRotate, rec.KID, details()))
		}
		events = append(events, event(now, actor, ActionGenerate, rec.KID, details(
			"alg", rec.Algorithm, "state", string(rec.State), "activate_at", ts(rec.ActivateAt))))
		if d.genNow {
			events = append(events, event(now, actor, ActionActivate, rec.KID, details()))
		}
	}
	if r := d.retire; r != nil {
		removeAt := now.Add(m.maxTokenLife + clockSkew)
		ch.Updates = append(ch.Updates, KeyUpdate{KID: r.KID, From: StateActive, To: StateRetired,
			ActivateAt: r.ActivateAt, RetiredAt: now, RemoveAt: removeAt})
		events = append(events, event(now, actor, ActionRetire, r.KID, details("remove_at", ts(removeAt))))
	}
	if r := d.promote; r != nil {
		// Updates run in order: the retirement above frees the one active
		// slot (unique index) before this takes it.
		ch.Updates = append(ch.Updates, KeyUpdate{KID: r.KID, From: StatePublished, To: StateActive, ActivateAt: now})
		events = append(events, event(now, actor, ActionActivate, r.KID, details()))
	}
	for _, r := range d.remove {
		ch.Updates = append(ch.Updates, KeyUpdate{KID: r.KID, From: StateRetired, To: StateRemoved,
			ActivateAt: r.ActivateAt, RetiredAt: r.RetiredAt, RemoveAt: r.RemoveAt, WipePrivate: true})
		events = append(events, event(now, actor, ActionRemove, r.KID, details()))
	}

	if err := m.commit(ctx, gen, ch, events); err != nil {
		return KeyInfo{}, err
	}
	return info, nil
}

// commit records events (write-ahead, see the package doc), applies ch as
// the compare-and-swap of generation gen and reloads the ring. It returns
// ErrConflict when another instance changed the ring first.
func (m *Manager) commit(ctx context.Context, gen int64, ch KeyRingChange, events []audit.Event) error {
	// A cheap look before writing evidence: if another instance already
	// moved on, skip straight to re-evaluating.
	if cur, err := m.store.KeyRingGeneration(ctx); err != nil {
		return fmt.Errorf("keys: %w", err)
	} else if cur != gen {
		return ErrConflict
	}
	for _, e := range events {
		if err := m.auditor.Record(ctx, e); err != nil {
			return fmt.Errorf("keys: audit %s: %w; the key ring was not changed", e.Action, err)
		}
	}
	if _, err := m.store.UpdateKeyRing(ctx, gen, ch); err != nil {
		reason := "conflict"
		if !errors.Is(err, ErrConflict) {
			reason = "store_error"
			err = fmt.Errorf("keys: update key ring: %w", err)
		}
		m.recordAborted(ctx, events, reason)
		return err
	}
	for _, e := range events {
		m.log.Info("keys: "+e.Action, "target", e.Target, "actor", e.Actor)
	}
	if _, err := m.reload(ctx); err != nil {
		// Committed; Run picks it up at the next poll.
		m.log.Warn("keys: reload after a key ring change failed", "err", err)
	}
	return nil
}

// recordAborted follows write-ahead events of a change that did not commit
// with failure events, so the log shows the attempt failed. Best effort.
func (m *Manager) recordAborted(ctx context.Context, events []audit.Event, reason string) {
	for _, e := range events {
		e.Outcome, e.Reason = audit.OutcomeFailure, reason
		if err := m.auditor.Record(context.WithoutCancel(ctx), e); err != nil {
			m.log.Error("keys: cannot record the failure of an aborted key ring change", "action", e.Action, "target", e.Target, "err", err)
		}
	}
}

// newKey generates, seals and describes a key for d.
func (m *Manager) newKey(now time.Time, d decision) (KeyRecord, error) {
	priv, err := generateKey(m.alg, m.rsaBits, m.rand)
	if err != nil {
		return KeyRecord{}, fmt.Errorf("keys: generate %s key: %w", m.alg, err)
	}
	jwk, err := publicJWK(m.alg, priv)
	if err != nil {
		return KeyRecord{}, err
	}
	pubJSON, err := jwk.MarshalJSON()
	if err != nil {
		return KeyRecord{}, fmt.Errorf("keys: %w", err)
	}
	enc, ver, err := sealPrivate(m.master, jwk.KeyID, priv)
	if err != nil {
		return KeyRecord{}, err
	}
	state := StatePublished
	if d.genNow {
		state = StateActive
	}
	return KeyRecord{KID: jwk.KeyID, Algorithm: m.alg, State: state, PublicJWK: pubJSON,
		PrivateEnc: enc, EncVersion: ver, CreatedAt: now, ActivateAt: d.genAt}, nil
}

func event(now time.Time, actor, action, kid string, details map[string]string) audit.Event {
	return audit.Event{Time: now, Actor: actor, Action: action, Target: "key:" + kid,
		Outcome: audit.OutcomeSuccess, Details: details}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
