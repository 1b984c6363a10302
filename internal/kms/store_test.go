package kms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/ca"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

func randomKey(t *testing.T) *kms.MasterKey {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	mk, err := kms.NewMasterKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return mk
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openKeyring(t *testing.T, s *storetest.Store, mk *kms.MasterKey) *kms.Keyring {
	t.Helper()
	kr, err := kms.Open(context.Background(), s.KMS(), mk)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func manager(t *testing.T, s *storetest.Store, kr *kms.Keyring, al *audit.Log) *keys.Manager {
	t.Helper()
	m, err := keys.NewManager(keys.Options{Store: s.KeyStore, Master: kr, MaxTokenLifetime: time.Hour, Auditor: al, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Init(context.Background(), "test"); err != nil {
		t.Fatal(err)
	}
	return m
}

func openAudit(t *testing.T, s *storetest.Store, kr *kms.Keyring) *audit.Log {
	t.Helper()
	al, err := audit.New(audit.Options{Store: s.AuditStore, HMACKey: kr.DataKey(kms.DataKeyAuditHMAC), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = al.Close(context.Background()) })
	return al
}

// TestKeyringFirstOpen: the first open claims version 1 and initialises
// each data key to the value derived before data keys existed.
func TestKeyringFirstOpen(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			s := storetest.Open(t, driver)
			mk := randomKey(t)
			kr := openKeyring(t, s, mk)
			if kr.Version() != 1 {
				t.Fatalf("version %d", kr.Version())
			}
			for p, label := range map[kms.DataKey]string{kms.DataKeyClientSecret: kms.LabelClientSecret, kms.DataKeyAuditHMAC: kms.LabelAuditHMAC,
				kms.DataKeyCSRF: kms.LabelCSRF, kms.DataKeyLoginProof: kms.LabelLoginProof} {
				if !bytes.Equal(kr.DataKey(p), mk.Derive(label)) {
					t.Fatalf("data key %s is not its legacy value", p)
				}
			}
			again := openKeyring(t, s, mk)
			if again.Version() != 1 || !bytes.Equal(again.DataKey(kms.DataKeyCSRF), kr.DataKey(kms.DataKeyCSRF)) {
				t.Fatal("a second open disagrees")
			}
			if _, err := kms.Open(context.Background(), s.KMS(), randomKey(t)); err == nil || !strings.Contains(err.Error(), "not the one the store is sealed with") {
				t.Fatalf("foreign key: %v", err)
			}
		})
	}
}

// TestRotateThenRestart: after a rotation and a fresh open with the new
// key, every signing key opens, a signature made before verifies, a client
// secret hash and an audit pseudonym are unchanged, the audit chain
// verifies and the TLS CA key opens. The old key is refused with the
// message naming the rotation; a tampered version byte fails to open.
func TestRotateThenRestart(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver)
			mk1, mk2 := randomKey(t), randomKey(t)
			kr1 := openKeyring(t, s, mk1)
			al1 := openAudit(t, s, kr1)
			m1 := manager(t, s, kr1, al1)
			active, err := m1.Signer()
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte("a token signed before the rotation"))
			sig, err := active.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m1.Rotate(ctx, "test"); err != nil { // a second, published key
				t.Fatal(err)
			}
			hash := oauth.HashSecret(kr1.DataKey(kms.DataKeyClientSecret), "client secret")
			pseudo := al1.Pseudonymize("alice")
			if err := al1.Record(ctx, audit.Event{Actor: "test", Action: "before", Target: "x", Outcome: audit.OutcomeSuccess}); err != nil {
				t.Fatal(err)
			}
			caOpts := func(kr *kms.Keyring) ca.Options {
				return ca.Options{Store: s.CA(), Sealer: kr, Audit: al1, TrustDomain: spiffeid.RequireTrustDomainFromString("example.test"), Logger: quiet()}
			}
			if _, err := ca.Init(ctx, caOpts(kr1), nil); err != nil {
				t.Fatal(err)
			}

			kr2, err := kms.Rotate(ctx, kr1, mk2, kms.RotateOptions{})
			if err != nil || kr2.Version() != 2 {
				t.Fatalf("Rotate: %v", err)
			}

			// Restart: a fresh open with the new key.
			kr := openKeyring(t, s, mk2)
			al2 := openAudit(t, s, kr)
			m2 := manager(t, s, kr, al2)
			if n := len(m2.PublicJWKS().Keys); n != 2 {
				t.Fatalf("%d keys in the JWKS after the rotation, want 2", n)
			}
			set := m2.PublicJWKS()
			found := set.Key(active.KID)
			if len(found) != 1 {
				t.Fatalf("key %s not in the JWKS", active.KID)
			}
			pub, ok := found[0].Key.(*ecdsa.PublicKey)
			if !ok || !ecdsa.VerifyASN1(pub, digest[:], sig) {
				t.Fatal("a signature made before the rotation does not verify after it")
			}
			if oauth.HashSecret(kr.DataKey(kms.DataKeyClientSecret), "client secret") != hash || al2.Pseudonymize("alice") != pseudo {
				t.Fatal("a data key changed value in the rotation")
			}
			if err := al2.Record(ctx, audit.Event{Actor: "test", Action: "after", Target: "x", Outcome: audit.OutcomeSuccess}); err != nil {
				t.Fatal(err)
			}
			if err := al2.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if res, err := audit.Verify(ctx, s.AuditStore, nil); err != nil || res.Records < 2 {
				t.Fatalf("audit chain: %v %v", res, err)
			}
			if _, err := ca.Open(ctx, caOpts(kr)); err != nil {
				t.Fatalf("the CA keys do not open after the rotation: %v", err)
			}
			if _, err := ca.Open(ctx, caOpts(kr1)); err == nil {
				t.Fatal("the old key still opens the CA keys")
			}

			_, err = kms.Open(ctx, s.KMS(), mk1)
			if err == nil || !strings.Contains(err.Error(), "this master key is version 1, retired by `rampart master-key rotate` at") ||
				!strings.Contains(err.Error(), "start with the key written by that rotation (version 2)") {
				t.Fatalf("open with the retired key: %v", err)
			}

			// Tamper with the version byte of a stored ciphertext.
			var kid string
			var enc []byte
			if err := s.SQL().QueryRowContext(ctx, s.Q(`SELECT kid, private_enc FROM signing_keys WHERE kid = ?`), active.KID).Scan(&kid, &enc); err != nil {
				t.Fatal(err)
			}
			if kms.CiphertextVersion(enc) != 2 {
				t.Fatalf("stored ciphertext is version %d", kms.CiphertextVersion(enc))
			}
			enc[kms.HeaderSize-1] ^= 0x01
			if _, err := s.SQL().ExecContext(ctx, s.Q(`UPDATE signing_keys SET private_enc = ? WHERE kid = ?`), enc, kid); err != nil {
				t.Fatal(err)
			}
			m3, err := keys.NewManager(keys.Options{Store: s.KeyStore, Master: kr, MaxTokenLifetime: time.Hour, Auditor: al1, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			if err := m3.Init(ctx, "test"); err == nil || !strings.Contains(err.Error(), "key version 3") {
				t.Fatalf("a tampered version byte opened: %v", err)
			}
		})
	}
}

// storeState is every row a rotation may change.
func storeState(t *testing.T, s *storetest.Store) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT kid, private_enc FROM signing_keys ORDER BY kid`,
		`SELECT purpose, sealed FROM kms_data_keys ORDER BY purpose`,
		`SELECT version, check_value FROM kek_versions ORDER BY version`,
	} {
		rows, err := s.SQL().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			var v []byte
			if err := rows.Scan(&id, &v); err != nil {
				t.Fatal(err)
			}
			b.WriteString(id + ":" + string(v) + "\n")
		}
		_ = rows.Close()
	}
	var retired int64
	if err := s.SQL().QueryRow(`SELECT retired_at FROM kek_versions WHERE version = 1`).Scan(&retired); err != nil || retired != 0 {
		t.Fatalf("version 1 retired: %d %v", retired, err)
	}
	return b.String()
}

// TestRotateFailureChangesNothing: a signing key that cannot be opened, a
// CA key that cannot be re-wrapped (inside the transaction) and the same
// key each leave the store as it was.
func TestRotateFailureChangesNothing(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver)
			mk1 := randomKey(t)
			kr := openKeyring(t, s, mk1)
			manager(t, s, kr, openAudit(t, s, kr))
			before := storeState(t, s)

			if _, err := kms.Rotate(ctx, kr, mk1, kms.RotateOptions{}); err == nil || !strings.Contains(err.Error(), "current one") {
				t.Fatalf("rotate to the same key: %v", err)
			}
			// A sealed file that cannot be re-wrapped (inside the
			// transaction) aborts it.
			aborted := false
			unopenable := func(kms.Sealer, kms.Sealer) (kms.Pending, error) {
				return kms.Pending{}, errors.New("cannot decrypt the file with the current master key")
			}
			openable := func(kms.Sealer, kms.Sealer) (kms.Pending, error) {
				return kms.Pending{Finish: func() error { return nil }, Abort: func() { aborted = true }}, nil
			}
			if _, err := kms.Rotate(ctx, kr, randomKey(t), kms.RotateOptions{Files: []kms.FileRewrap{openable, unopenable}}); err == nil {
				t.Fatal("a rotation with an unopenable sealed file committed")
			}
			if got := storeState(t, s); got != before {
				t.Fatal("a rotation failing inside its transaction changed the store")
			}
			if !aborted {
				t.Fatal("the file re-wrapped before the failure was not aborted")
			}

			if _, err := s.SQL().ExecContext(ctx, s.Q(`UPDATE signing_keys SET private_enc = ? WHERE state = 'active'`), []byte("garbage that is long enough to look like a ciphertext")); err != nil {
				t.Fatal(err)
			}
			before = storeState(t, s)
			if _, err := kms.Rotate(ctx, kr, randomKey(t), kms.RotateOptions{}); err == nil || !strings.Contains(err.Error(), "nothing was changed") {
				t.Fatalf("a rotation with an unopenable signing key: %v", err)
			}
			if got := storeState(t, s); got != before {
				t.Fatal("a failed rotation changed the store")
			}
		})
	}
}

// TestFirstOpenAfterUpgradeNeedsTheSealingKey: a store sealed before key
// versions existed (signing keys, no version recorded) is claimed only by
// the master key that opens its signing keys. A wrong key is refused and
// records nothing, so it cannot lock the right key out.
func TestFirstOpenAfterUpgradeNeedsTheSealingKey(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			s := storetest.Open(t, driver)
			right := randomKey(t)
			kek, err := kms.NewKEK(right, 1)
			if err != nil {
				t.Fatal(err)
			}
			m, err := keys.NewManager(keys.Options{Store: s.KeyStore, Master: kek, MaxTokenLifetime: time.Hour, Auditor: nopAuditor{}, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Init(ctx, "test"); err != nil { // a signing key sealed as the previous release sealed it
				t.Fatal(err)
			}
			if _, err := kms.Open(ctx, s.KMS(), randomKey(t)); err == nil || !strings.Contains(err.Error(), "does not open the signing key") {
				t.Fatalf("wrong key on the first open after an upgrade: %v", err)
			}
			if vs, err := s.KEKVersions(ctx); err != nil || len(vs) != 0 {
				t.Fatalf("the refused key recorded versions %v (%v)", vs, err)
			}
			if kr := openKeyring(t, s, right); kr.Version() != 1 {
				t.Fatalf("the sealing key got version %d", kr.Version())
			}
		})
	}
}

type nopAuditor struct{}

func (nopAuditor) Record(context.Context, audit.Event) error { return nil }
