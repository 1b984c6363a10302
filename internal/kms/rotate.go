package kms

import (
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"time"
)

// Pending is a re-wrapped file written next to the original, to be moved
// into place once the rotation is committed (Finish) or discarded when it
// is not (Abort). Either may be nil.
type Pending struct {
	Finish func() error
	Abort  func()
}

// FileRewrap re-wraps a sealed file that lives outside the database (the
// TLS CA key): it opens the file with from, writes the value sealed with
// to next to it, durably, and returns how to finish or abort.
type FileRewrap func(from, to Sealer) (Pending, error)

// RotateOptions configure Rotate.
type RotateOptions struct {
	// Files are the sealed files re-wrapped with the database.
	Files []FileRewrap
	// Clock defaults to time.Now.
	Clock func() time.Time
}

// Rotate makes next the master key: in ONE database transaction it
// re-seals every sealed value in the store (every signing key's private
// key, data key, TOTP secret, CA key and secret version DEK) under key version
// kr.Version()+1, retires the current version and records the new one. Files are re-wrapped to a copy
// next to them before the commit and moved into place after it. Nothing
// changes when a value cannot be opened, the store moved meanwhile
// (ErrConflict) or next is the current or a retired key. It returns the
// keyring of next (the data keys keep their values); an error after the
// commit wraps ErrCommitted, with the keyring when it could be opened.
func Rotate(ctx context.Context, kr *Keyring, next *MasterKey, opts RotateOptions) (*Keyring, error) {
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	if err := checkNewKey(ctx, kr, next); err != nil {
		return nil, err
	}
	to, err := NewKEK(next, kr.Version()+1)
	if err != nil {
		return nil, err
	}
	snap, err := kr.store.RotationSnapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("kms: rotate: %w", err)
	}
	now := clock().UTC()
	r := Rotation{Generation: snap.Generation, Retire: kr.Version(), RetiredAt: now,
		New: Version{Version: to.Version(), Check: next.CheckValue(), CreatedAt: now}}
	if r.SigningKeys, err = rewrapAll(kr.kek, to, snap.SigningKeys, func(id string) []byte { return SigningKeyAD(id) }, "signing key"); err != nil {
		return nil, err
	}
	if r.DataKeys, err = rewrapAll(kr.kek, to, snap.DataKeys, func(id string) []byte { return DataKeyAD(DataKey(id)) }, "data key"); err != nil {
		return nil, err
	}
	if r.TOTPSecrets, err = rewrapAll(kr.kek, to, snap.TOTPSecrets, TOTPSecretAD, "TOTP secret of user"); err != nil {
		return nil, err
	}
	if r.CAKeys, err = rewrapAll(kr.kek, to, snap.CAKeys, CAKeyAD, "CA key of authority"); err != nil {
		return nil, err
	}
	if r.SecretDEKs, err = rewrapAll(kr.kek, to, snap.SecretDEKs, secretDEKADOf, "data key of secret version"); err != nil {
		return nil, err
	}
	var pending []Pending
	err = kr.store.ApplyRotation(ctx, r, func() error {
		for _, f := range opts.Files {
			p, err := f(kr.kek, to)
			if err != nil {
				return err
			}
			pending = append(pending, p)
		}
		return nil
	})
	if err != nil {
		for _, p := range pending {
			if p.Abort != nil {
				p.Abort()
			}
		}
		return nil, fmt.Errorf("kms: rotate: nothing was changed: %w", err)
	}
	var errs []error
	for _, p := range pending {
		if p.Finish != nil {
			errs = append(errs, p.Finish())
		}
	}
	nkr, err := Open(ctx, kr.store, next)
	if err != nil {
		return nil, fmt.Errorf("%w, but reopening the store with the new key failed: %w", ErrCommitted, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nkr, fmt.Errorf("%w, but a re-wrapped file is not in place yet (the next start with the new key recovers it): %w", ErrCommitted, err)
	}
	return nkr, nil
}

// ErrCommitted is wrapped by Rotate's error when the rotation committed
// and a step after the commit failed: the new key is the current one.
var ErrCommitted = errors.New("kms: rotate: the new key version is committed")

// checkNewKey refuses next when it is the current key or any recorded
// (retired) one, and a keyring that is no longer the current version.
func checkNewKey(ctx context.Context, kr *Keyring, next *MasterKey) error {
	if next == nil {
		return errors.New("kms: rotate: no new master key")
	}
	if next.Equal(kr.mk) {
		return errors.New("kms: rotate: the new master key is the current one; give a new key")
	}
	vs, err := kr.store.KEKVersions(ctx)
	if err != nil {
		return fmt.Errorf("kms: rotate: read key versions: %w", err)
	}
	check := next.CheckValue()
	for _, v := range vs {
		if hmac.Equal(v.Check, check) {
			return fmt.Errorf("kms: rotate: the new master key is the key of version %d, which is retired; give a new key", v.Version)
		}
		if v.Current() && v.Version != kr.Version() {
			return fmt.Errorf("%w (the current key version is %d, not %d)", ErrConflict, v.Version, kr.Version())
		}
	}
	return nil
}

// rewrapAll opens every value with from and seals it with to under the
// same associated data. The first value that does not open stops the
// rotation before anything is written.
func rewrapAll(from, to *KEK, vals []Sealed, ad func(string) []byte, what string) ([]Rewrap, error) {
	out := make([]Rewrap, 0, len(vals))
	for _, v := range vals {
		pt, err := from.Open(ad(v.ID), v.Value)
		if err != nil {
			return nil, fmt.Errorf("kms: rotate: %s %s cannot be opened with the current master key, nothing was changed: %w", what, v.ID, err)
		}
		c, err := to.Seal(ad(v.ID), pt)
		clear(pt)
		if err != nil {
			return nil, err
		}
		out = append(out, Rewrap{ID: v.ID, Old: v.Value, New: c})
	}
	return out, nil
}
