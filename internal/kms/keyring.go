package kms

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"time"
)

// Keyring is the master key checked against the store: its key version,
// the KEK of that version and the data keys it unsealed. It seals and
// opens under the current version. It is safe for concurrent use and
// immutable: a rotation returns a new Keyring.
type Keyring struct {
	mk    *MasterKey
	kek   *KEK
	store Store
	data  map[DataKey][]byte
}

// Open checks mk against the key versions recorded in st and loads the
// data keys:
//   - no version recorded yet: mk becomes version 1 (race-safe claim);
//   - mk is the current version: ok;
//   - mk is a retired version: refused, naming the rotation that retired
//     it and the version to start with;
//   - mk matches no version: refused (wrong key).
//
// A data key missing from the store is created: at version 1 with its
// legacy value MasterKey.Derive(label), which every deployment used
// before data keys existed, and at a later version with random bytes.
func Open(ctx context.Context, st Store, mk *MasterKey) (*Keyring, error) {
	if st == nil || mk == nil {
		return nil, errors.New("kms: open: a store and a master key are required")
	}
	v, err := currentVersion(ctx, st, mk)
	if err != nil {
		return nil, err
	}
	kek, err := NewKEK(mk, v)
	if err != nil {
		return nil, err
	}
	kr := &Keyring{mk: mk, kek: kek, store: st}
	if kr.data, err = loadDataKeys(ctx, st, kek, mk); err != nil {
		return nil, err
	}
	return kr, nil
}

// currentVersion returns mk's version, claiming version 1 on a store that
// records none yet.
func currentVersion(ctx context.Context, st Store, mk *MasterKey) (uint32, error) {
	vs, err := st.KEKVersions(ctx)
	if err != nil {
		return 0, fmt.Errorf("kms: read key versions: %w", err)
	}
	check := mk.CheckValue()
	if len(vs) == 0 {
		// The claim is permanent: a wrong key claiming version 1 would lock
		// the right one out. So a store that already holds sealed values
		// (the first start after an upgrade) is claimed only by the key
		// that opens every one of them.
		if err := opensEverything(ctx, st, mk); err != nil {
			return 0, err
		}
		now := time.Now().UTC()
		if err := st.ClaimFirstKEK(ctx, Version{Version: 1, Check: check, CreatedAt: now}); err != nil {
			return 0, fmt.Errorf("kms: record key version 1: %w", err)
		}
		if vs, err = st.KEKVersions(ctx); err != nil {
			return 0, fmt.Errorf("kms: read key versions: %w", err)
		}
	}
	return matchVersion(vs, check)
}

// opensEverything refuses mk unless its version-1 KEK opens every sealed
// value already in st (none, on a new store).
func opensEverything(ctx context.Context, st RotationStore, mk *MasterKey) error {
	snap, err := st.RotationSnapshot(ctx)
	if err != nil {
		return fmt.Errorf("kms: read sealed values: %w", err)
	}
	kek, err := NewKEK(mk, 1)
	if err != nil {
		return err
	}
	for _, k := range snap.SigningKeys {
		pt, err := kek.Open(SigningKeyAD(k.ID), k.Value)
		if err != nil {
			return fmt.Errorf("kms: this master key does not open the signing key %s already in the store, so it is not the key the store was sealed with; "+
				"start with that key (master_key_file or RAMPART_MASTER_KEY): %w", k.ID, err)
		}
		clear(pt)
	}
	for _, d := range snap.DataKeys {
		pt, err := kek.Open(DataKeyAD(DataKey(d.ID)), d.Value)
		if err != nil {
			return fmt.Errorf("kms: this master key does not open the data key %s already in the store; start with the key the store was sealed with: %w", d.ID, err)
		}
		clear(pt)
	}
	for _, c := range snap.CAKeys {
		pt, err := kek.Open(CAKeyAD(c.ID), c.Value)
		if err != nil {
			return fmt.Errorf("kms: this master key does not open the CA key %s already in the store; start with the key the store was sealed with: %w", c.ID, err)
		}
		clear(pt)
	}
	for _, c := range snap.SecretDEKs {
		pt, err := kek.Open(secretDEKADOf(c.ID), c.Value)
		if err != nil {
			return fmt.Errorf("kms: this master key does not open the data key of secret version %s already in the store; start with the key the store was sealed with: %w", c.ID, err)
		}
		clear(pt)
	}
	return nil
}

// matchVersion finds check among vs (constant-time compares) and refuses a
// retired or unknown key.
func matchVersion(vs []Version, check []byte) (uint32, error) {
	var cur *Version
	for i := range vs {
		if vs[i].Current() {
			cur = &vs[i]
		}
	}
	for _, v := range vs {
		if !hmac.Equal(v.Check, check) {
			continue
		}
		if v.Current() {
			return v.Version, nil
		}
		next := "the key written by that rotation"
		if cur != nil {
			next = fmt.Sprintf("%s (version %d)", next, cur.Version)
		}
		return 0, fmt.Errorf("kms: this master key is version %d, retired by `rampart master-key rotate` at %s; start with %s",
			v.Version, v.RetiredAt.UTC().Format(time.RFC3339), next)
	}
	if cur == nil {
		return 0, errors.New("kms: the store records no current key version; restore the database from a backup")
	}
	return 0, fmt.Errorf("kms: this master key is not the one the store is sealed with (current key version %d, "+
		"and no retired version matches either); check master_key_file or RAMPART_MASTER_KEY", cur.Version)
}

// loadDataKeys creates the missing data keys (insert-if-absent), re-reads
// them all and opens each.
func loadDataKeys(ctx context.Context, st DataKeyStore, kek *KEK, mk *MasterKey) (map[DataKey][]byte, error) {
	sealed, err := st.DataKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("kms: read data keys: %w", err)
	}
	missing := false
	for _, d := range dataKeys {
		if _, ok := sealed[d.purpose]; ok {
			continue
		}
		missing = true
		if err := createDataKey(ctx, st, kek, mk, d.purpose, d.label); err != nil {
			return nil, err
		}
	}
	if missing {
		// Re-read: of two processes creating a key at once, the first
		// insert won, and both must use it.
		if sealed, err = st.DataKeys(ctx); err != nil {
			return nil, fmt.Errorf("kms: read data keys: %w", err)
		}
	}
	out := make(map[DataKey][]byte, len(dataKeys))
	for _, d := range dataKeys {
		c, ok := sealed[d.purpose]
		if !ok {
			return nil, fmt.Errorf("kms: data key %s is missing after its creation", d.purpose)
		}
		k, err := kek.Open(DataKeyAD(d.purpose), c)
		if err != nil {
			return nil, fmt.Errorf("kms: data key %s: %w", d.purpose, err)
		}
		if len(k) != 32 {
			return nil, fmt.Errorf("kms: data key %s has %d bytes, want 32", d.purpose, len(k))
		}
		out[d.purpose] = k
	}
	return out, nil
}

func createDataKey(ctx context.Context, st DataKeyStore, kek *KEK, mk *MasterKey, p DataKey, label string) error {
	var k []byte
	if kek.Version() == 1 {
		// The value every deployment derived before data keys existed:
		// client secret hashes and audit pseudonyms keep verifying.
		k = mk.Derive(label)
	} else {
		k = make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return fmt.Errorf("kms: %w", err)
		}
	}
	defer clear(k)
	c, err := kek.Seal(DataKeyAD(p), k)
	if err != nil {
		return err
	}
	if err := st.InsertDataKey(ctx, p, c); err != nil {
		return fmt.Errorf("kms: store data key %s: %w", p, err)
	}
	return nil
}

// Version returns the key version of the keyring's master key.
func (kr *Keyring) Version() uint32 { return kr.kek.Version() }

// DataKey returns a copy of the data key of purpose p (nil for an unknown
// purpose).
func (kr *Keyring) DataKey(p DataKey) []byte { return bytes.Clone(kr.data[p]) }

// Seal seals plaintext under the current key version (KEK.Seal).
func (kr *Keyring) Seal(ad, plaintext []byte) ([]byte, error) { return kr.kek.Seal(ad, plaintext) }

// Open opens what was sealed under the current key version (KEK.Open).
func (kr *Keyring) Open(ad, ciphertext []byte) ([]byte, error) { return kr.kek.Open(ad, ciphertext) }

// KEK returns the key-encryption key of the current version.
func (kr *Keyring) KEK() *KEK { return kr.kek }
