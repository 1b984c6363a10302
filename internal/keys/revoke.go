package keys

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// ActionRevoke is the audit action of an emergency revocation.
const ActionRevoke = audit.ActionKeyRevoke

// ErrUnknownKey is returned by Revoke when no key has the kid.
var ErrUnknownKey = errors.New("keys: no signing key has this kid")

// Revocation is what Revoke did.
type Revocation struct {
	// Revoked is the key as it is now (state revoked, or removed when it
	// was already gone).
	Revoked KeyInfo
	// Replacement is the key generated and activated at once because the
	// revoked key was the one signing; nil otherwise.
	Replacement *KeyInfo
	// AlreadyGone is set when the key was already revoked or removed:
	// nothing changed, and it neither signs nor verifies.
	AlreadyGone bool
}

// Revoke takes the key kid out of signing, the JWKS and verification at
// once, for an emergency (the key is believed compromised), and wipes its
// private key. Unlike the schedule it does not wait for tokens signed with
// the key to expire: they are meant to fail.
//
// When kid is the active key, a new key is generated and activated in the
// same transaction, without the PublishAhead wait: an emergency cannot
// wait, and relying parties that meet an unknown kid refetch the JWKS
// (OIDC Core §10.1.1). A key already published and waiting keeps its
// schedule. The change is audited write-ahead (ActionRevoke, plus
// ActionGenerate and ActionActivate for the replacement); a refused
// revocation of an unknown kid is audited as a failure.
//
// Other instances stop verifying and signing with the key at their next
// reload (PollInterval); resource servers drop it from their JWKS cache
// when the cache expires (JWKSMaxAge) or is refetched. A revoked key never
// returns: no life cycle step leaves the revoked (or removed) state.
func (m *Manager) Revoke(ctx context.Context, actor, kid string) (Revocation, error) {
	m.stepMu.Lock()
	defer m.stepMu.Unlock()
	for range maxStepAttempts {
		rg, err := m.reload(ctx)
		if err != nil {
			return Revocation{}, err
		}
		now := m.clock().UTC()
		var rec *KeyRecord
		for i := range rg.records {
			if rg.records[i].KID == kid {
				rec = &rg.records[i]
			}
		}
		switch {
		case rec == nil:
			return Revocation{}, m.revokeRefused(ctx, now, actor, kid, "unknown_key",
				fmt.Errorf("%w: %q; `rampart key list` shows the kids", ErrUnknownKey, kid))
		case rec.State == StateRevoked || rec.State == StateRemoved:
			reason := "already_" + string(rec.State)
			if err := m.revokeRefused(ctx, now, actor, kid, reason, nil); err != nil {
				return Revocation{}, err
			}
			return Revocation{Revoked: infoOf(rec), AlreadyGone: true}, nil
		case len(rg.problems) > 0:
			// As in step: never change a ring this instance cannot read.
			return Revocation{}, ringProblem(rg.problems)
		}
		res, err := m.revoke(ctx, rg.gen, now, actor, rec)
		if errors.Is(err, ErrConflict) {
			m.log.Info("keys: another instance changed the key ring first; re-evaluating the revocation")
			continue
		}
		return res, err
	}
	return Revocation{}, fmt.Errorf("keys: the key ring kept changing; gave up revoking after %d attempts", maxStepAttempts)
}

// revoke builds and commits the revocation of rec (published, active or
// retired) at generation gen.
func (m *Manager) revoke(ctx context.Context, gen int64, now time.Time, actor string, rec *KeyRecord) (Revocation, error) {
	newGen := strconv.FormatInt(gen+1, 10)
	upd := KeyUpdate{KID: rec.KID, From: rec.State, To: StateRevoked,
		ActivateAt: rec.ActivateAt, RetiredAt: now, RemoveAt: now, WipePrivate: true}
	ch := KeyRingChange{Updates: []KeyUpdate{upd}}
	revDetails := map[string]string{"generation": newGen, "previous_state": string(rec.State)}
	events := []audit.Event{event(now, actor, ActionRevoke, rec.KID, revDetails)}
	revoked := *rec
	revoked.State, revoked.RetiredAt, revoked.RemoveAt = StateRevoked, now, now
	res := Revocation{Revoked: infoOf(&revoked)}
	if rec.State == StateActive {
		// The update frees the one active slot (unique index) before the
		// insert takes it: updates run first.
		nk, err := m.newKey(now, decision{generate: true, genNow: true, genAt: now})
		if err != nil {
			return Revocation{}, err
		}
		ch.Inserts = append(ch.Inserts, nk)
		info := infoOf(&nk)
		res.Replacement = &info
		revDetails["replacement"] = nk.KID
		events = append(events,
			event(now, actor, ActionGenerate, nk.KID, map[string]string{"generation": newGen,
				"alg": nk.Algorithm, "state": string(nk.State), "activate_at": ts(nk.ActivateAt), "reason": "revoke"}),
			event(now, actor, ActionActivate, nk.KID, map[string]string{"generation": newGen, "reason": "revoke"}))
	}
	if err := m.commit(ctx, gen, ch, events); err != nil {
		return Revocation{}, err
	}
	return res, nil
}

// revokeRefused audits a revocation that changed nothing and returns err.
// The kid is operator input: a kid Rampart could not have made is named
// by its length only, so it cannot make the event invalid (control
// characters) and drop it from the trail.
func (m *Manager) revokeRefused(ctx context.Context, now time.Time, actor, kid, reason string, err error) error {
	target := kid
	if !plausibleKID(kid) {
		target = "invalid-kid-" + strconv.Itoa(len(kid)) + "-bytes"
	}
	e := event(now, actor, ActionRevoke, target, nil)
	e.Outcome, e.Reason = audit.OutcomeFailure, reason
	if aerr := m.auditor.Record(ctx, e); aerr != nil {
		return fmt.Errorf("keys: audit %s: %w", ActionRevoke, aerr)
	}
	return err
}

// plausibleKID reports whether kid has the form of the kids Rampart makes
// (RFC 7638 thumbprints, base64url without padding).
func plausibleKID(kid string) bool {
	if kid == "" || len(kid) > 128 {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
