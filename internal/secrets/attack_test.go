package secrets_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/secrets"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// readRow returns the sealed DEK and ciphertext of version v of the
// secret at p.
func (e *env) readRow(t *testing.T, p string, v int64) (dek, ct []byte) {
	t.Helper()
	err := e.st.SQL().QueryRowContext(context.Background(), e.st.Q(
		"SELECT dek_sealed, ciphertext FROM secret_versions WHERE secret_id = ? AND version = ?"), e.secretID(t, p), v).Scan(&dek, &ct)
	if err != nil {
		t.Fatal(err)
	}
	return dek, ct
}

func (e *env) writeRow(t *testing.T, p string, v int64, dek, ct []byte) {
	t.Helper()
	e.exec(t, "UPDATE secret_versions SET dek_sealed = ?, ciphertext = ? WHERE secret_id = ? AND version = ?", dek, ct, e.secretID(t, p), v)
}

// assertTampered reads p (sel) and wants ErrTampered, no value, and an
// audited failure with reason tampered.
func (e *env) assertTampered(t *testing.T, p string, sel secrets.Selector, never ...string) {
	t.Helper()
	s, err := e.get(t, p, sel)
	if !errors.Is(err, secrets.ErrTampered) {
		t.Fatalf("read of a tampered row: %v (value %q), want ErrTampered", err, s.Value.Bytes())
	}
	if s.Value.Len() != 0 {
		t.Fatal("a tampered read returned a value")
	}
	for _, w := range never {
		if strings.Contains(err.Error(), w) {
			t.Fatalf("error leaks %q", w)
		}
	}
	ev := e.rec.last(t)
	if ev.Action != audit.ActionSecretRead || ev.Outcome != audit.OutcomeFailure || ev.Reason != "tampered" || ev.Target != p {
		t.Fatalf("audit of the tampered read: %+v", ev)
	}
}

// TestTamperedRowsNeverOpen: an attacker with write access to the
// database (not the master key) alters, swaps, copies and re-parents
// sealed rows; every read is ErrTampered, never another value.
func TestTamperedRowsNeverOpen(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			t.Run("flip-ciphertext-byte", func(t *testing.T) {
				e := newEnv(t, driver)
				e.put(t, "t/a", "alpha-secret", secrets.PutOptions{})
				dek, ct := e.readRow(t, "t/a", 1)
				for _, i := range []int{0, 11, 12, len(ct) - 1} { // nonce, body, tag
					bad := append([]byte(nil), ct...)
					bad[i] ^= 0x01
					e.writeRow(t, "t/a", 1, dek, bad)
					e.assertTampered(t, "t/a", secrets.Selector{})
				}
				e.writeRow(t, "t/a", 1, dek, ct[:5])
				e.assertTampered(t, "t/a", secrets.Selector{})
			})
			t.Run("flip-dek-byte", func(t *testing.T) {
				e := newEnv(t, driver)
				e.put(t, "t/a", "alpha-secret", secrets.PutOptions{})
				dek, ct := e.readRow(t, "t/a", 1)
				bad := append([]byte(nil), dek...)
				bad[len(bad)-3] ^= 0x80
				e.writeRow(t, "t/a", 1, bad, ct)
				e.assertTampered(t, "t/a", secrets.Selector{})
				e.writeRow(t, "t/a", 1, []byte{}, ct)
				e.assertTampered(t, "t/a", secrets.Selector{})
			})
			t.Run("swap-versions", func(t *testing.T) {
				e := newEnv(t, driver)
				e.put(t, "t/a", "version-one", secrets.PutOptions{})
				e.put(t, "t/a", "version-two", secrets.PutOptions{})
				d1, c1 := e.readRow(t, "t/a", 1)
				d2, c2 := e.readRow(t, "t/a", 2)
				// Ciphertext and DEK together, then the ciphertext alone.
				e.writeRow(t, "t/a", 1, d2, c2)
				e.writeRow(t, "t/a", 2, d1, c1)
				e.assertTampered(t, "t/a", secrets.Selector{})
				e.assertTampered(t, "t/a", secrets.Selector{Version: 1})
				e.writeRow(t, "t/a", 2, d2, c1)
				e.assertTampered(t, "t/a", secrets.Selector{})
			})
			t.Run("copy-row-to-another-secret", func(t *testing.T) {
				e := newEnv(t, driver)
				e.put(t, "t/victim", "victim-secret", secrets.PutOptions{})
				e.put(t, "t/mine", "attacker-owned", secrets.PutOptions{})
				// The attacker may read t/mine; copies the victim's row there.
				d, c := e.readRow(t, "t/victim", 1)
				e.writeRow(t, "t/mine", 1, d, c)
				e.assertTampered(t, "t/mine", secrets.Selector{}, "victim-secret")
			})
			t.Run("replace-secret-id", func(t *testing.T) {
				e := newEnv(t, driver)
				e.put(t, "t/victim", "victim-secret", secrets.PutOptions{})
				e.put(t, "t/mine", "attacker-owned", secrets.PutOptions{})
				victim, mine := e.secretID(t, "t/victim"), e.secretID(t, "t/mine")
				e.exec(t, "DELETE FROM secret_versions WHERE secret_id = ?", mine)
				e.exec(t, "UPDATE secret_versions SET secret_id = ? WHERE secret_id = ?", mine, victim)
				e.assertTampered(t, "t/mine", secrets.Selector{}, "victim-secret")
				// And a secret row re-pointed at another path.
				e2 := newEnv(t, driver)
				e2.put(t, "t/victim", "victim-secret", secrets.PutOptions{})
				e2.exec(t, "UPDATE secrets SET path = ? WHERE path = ?", "t/mine", "t/victim")
				e2.assertTampered(t, "t/mine", secrets.Selector{}, "victim-secret")
			})
			t.Run("destroyed-and-recreated-path", func(t *testing.T) {
				e := newEnv(t, driver)
				e.put(t, "t/a", "old-value", secrets.PutOptions{})
				d, c := e.readRow(t, "t/a", 1)
				if err := e.m.Destroy(context.Background(), admin, path(t, "t/a"), nil); err != nil {
					t.Fatal(err)
				}
				e.put(t, "t/a", "new-value", secrets.PutOptions{})
				e.writeRow(t, "t/a", 1, d, c) // a backup's row restored under the new secret
				e.assertTampered(t, "t/a", secrets.Selector{}, "old-value")
			})
		})
	}
}

// TestSQLInjectionStoredVerbatimOrRefused: metadata is bound, stored and
// returned byte for byte; paths and labels with SQL metacharacters are
// refused by their parsers before any query.
func TestSQLInjectionStoredVerbatimOrRefused(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := newEnv(t, driver)
			ctx := context.Background()
			inj := []string{"'; DROP TABLE secrets; --", `" OR 1=1 --`, "x' UNION SELECT dek_sealed FROM secret_versions --", "\\'; --", "%_%"}
			md := map[string]string{}
			for i, s := range inj {
				md["k"+string(rune('a'+i))] = s
				md[s] = "as a key"
			}
			e.put(t, "inj/x", "'; DELETE FROM secret_versions; --", secrets.PutOptions{Metadata: md})
			s := e.mustGet(t, "inj/x", secrets.Selector{})
			if string(s.Value.Bytes()) != "'; DELETE FROM secret_versions; --" || len(s.Metadata) != len(md) {
				t.Fatalf("got %q %v", s.Value.Bytes(), s.Metadata)
			}
			for k, v := range md {
				if s.Metadata[k] != v {
					t.Fatalf("metadata %q = %q, want %q", k, s.Metadata[k], v)
				}
			}
			for _, p := range []string{"a'b", "a;b", "a\"b", "a%b", "a b", "a--b'"} {
				if _, err := secrets.ParsePath(p); !errors.Is(err, secrets.ErrInvalid) {
					t.Errorf("path %q accepted", p)
				}
				if _, err := e.m.Get(ctx, admin, secrets.Path(p), secrets.Selector{}); !errors.Is(err, secrets.ErrInvalid) {
					t.Errorf("Get of unparsed path %q: %v", p, err)
				}
			}
			for _, l := range inj {
				if _, err := e.m.Get(ctx, admin, path(t, "inj/x"), secrets.Selector{Label: l}); !errors.Is(err, secrets.ErrInvalid) {
					t.Errorf("label %q: %v", l, err)
				}
			}
			// The tables are intact.
			if _, _, err := e.m.Versions(ctx, admin, path(t, "inj/x")); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestNoExistenceOracle: a principal without the capability gets the
// same ErrForbidden (same message, same audit reason) for an existing and
// a missing path, from every operation, before the store is consulted.
func TestNoExistenceOracle(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ps, err := secrets.CompilePolicies([]secrets.PolicyRule{{Name: "a", Paths: []string{"team/a"}, Capabilities: []string{"read", "write", "list", "delete", "destroy"}, Clients: []string{"app"}}})
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, driver, func(o *secrets.Options) { o.Policies = ps })
			ctx := context.Background()
			e.put(t, "team/b/exists", "b-secret", secrets.PutOptions{})
			intruder := secrets.Principal{Kind: secrets.KindClient, ID: "app"}
			ops := map[string]func(secrets.Path) error{
				"get": func(p secrets.Path) error { _, err := e.m.Get(ctx, intruder, p, secrets.Selector{}); return err },
				"put": func(p secrets.Path) error {
					_, err := e.m.Put(ctx, intruder, p, val("x"), secrets.PutOptions{CAS: i64(0)})
					return err
				},
				"versions": func(p secrets.Path) error { _, _, err := e.m.Versions(ctx, intruder, p); return err },
				"move":     func(p secrets.Path) error { return e.m.MoveLabel(ctx, intruder, p, "current", 1, nil) },
				"remove":   func(p secrets.Path) error { return e.m.RemoveLabel(ctx, intruder, p, "x", nil) },
				"delete":   func(p secrets.Path) error { return e.m.Delete(ctx, intruder, p, nil) },
				"undelete": func(p secrets.Path) error { return e.m.Undelete(ctx, intruder, p, nil) },
				"destroy":  func(p secrets.Path) error { return e.m.Destroy(ctx, intruder, p, nil) },
			}
			for name, op := range ops {
				errExists := op(path(t, "team/b/exists"))
				evExists := e.rec.last(t)
				errMissing := op(path(t, "team/b/missing"))
				evMissing := e.rec.last(t)
				if !errors.Is(errExists, secrets.ErrForbidden) || !errors.Is(errMissing, secrets.ErrForbidden) || errExists.Error() != errMissing.Error() {
					t.Errorf("%s: existing %v, missing %v; want the same ErrForbidden", name, errExists, errMissing)
				}
				if evExists.Outcome != audit.OutcomeFailure || evExists.Reason != "forbidden" || evMissing.Reason != "forbidden" || len(evExists.Details) != len(evMissing.Details) {
					t.Errorf("%s: audit %+v / %+v", name, evExists, evMissing)
				}
			}
			// The refused put wrote nothing.
			if _, err := e.get(t, "team/b/missing", secrets.Selector{}); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("forbidden put stored: %v", err)
			}
			if s := e.mustGet(t, "team/b/exists", secrets.Selector{}); string(s.Value.Bytes()) != "b-secret" {
				t.Fatal("forbidden op changed the secret")
			}
		})
	}
}

// TestAuditEveryOperationWithoutTheValue: every operation records its
// event with path, version and (where a value is involved) its HMAC under
// the audit key; the value itself appears in no event.
func TestAuditEveryOperationWithoutTheValue(t *testing.T) {
	e := newEnv(t, "sqlite")
	ctx := context.Background()
	const secret = "s3cr3t-VALUE-never-logged"
	p := path(t, "au/x")
	if _, err := e.m.Put(ctx, admin, p, val(secret), secrets.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, e.kr.DataKey(kms.DataKeySecretAudit))
	mac.Write([]byte(secret))
	want := hex.EncodeToString(mac.Sum(nil))
	ev := e.rec.last(t)
	if ev.Action != audit.ActionSecretWrite || ev.Target != "au/x" || ev.Actor != "cli" || ev.Details["version"] != "1" || ev.Details["value_hmac"] != want || ev.Details["labels"] != "current" || ev.Details["path"] != "au/x" {
		t.Fatalf("write event %+v (want hmac %s)", ev, want)
	}
	e.mustGet(t, "au/x", secrets.Selector{})
	if ev := e.rec.last(t); ev.Action != audit.ActionSecretRead || ev.Details["value_hmac"] != want || ev.Details["version"] != "1" || ev.Outcome != audit.OutcomeSuccess {
		t.Fatalf("read event %+v", ev)
	}
	e.put(t, "au/x", secret+"2", secrets.PutOptions{})
	steps := []struct {
		action string
		run    func() error
	}{
		{audit.ActionSecretList, func() error { _, _, err := e.m.Versions(ctx, admin, p); return err }},
		{audit.ActionSecretList, func() error { all, _ := secrets.ParsePrefix("*"); _, err := e.m.List(ctx, admin, all); return err }},
		{audit.ActionSecretLabel, func() error { return e.m.MoveLabel(ctx, admin, p, "blue", 1, nil) }},
		{audit.ActionSecretLabel, func() error { return e.m.RemoveLabel(ctx, admin, p, "blue", nil) }},
		{audit.ActionSecretDelete, func() error { return e.m.Delete(ctx, admin, p, []int64{1}) }},
		{audit.ActionSecretUndelete, func() error { return e.m.Undelete(ctx, admin, p, []int64{1}) }},
		{audit.ActionSecretDestroy, func() error { return e.m.Destroy(ctx, admin, p, []int64{1}) }},
		{audit.ActionSecretRead, func() error { _, err := e.get(t, "au/x", secrets.Selector{Version: 1}); return err }},
		{audit.ActionSecretDestroy, func() error { return e.m.Destroy(ctx, admin, p, nil) }},
	}
	for i, s := range steps {
		n := len(e.rec.All())
		err := s.run()
		es := e.rec.All()
		if len(es) != n+1 {
			t.Fatalf("step %d (%s): %d events, want 1", i, s.action, len(es)-n)
		}
		ev := es[n]
		wantOutcome := audit.OutcomeSuccess
		if err != nil {
			wantOutcome = audit.OutcomeFailure
		}
		if ev.Action != s.action || ev.Outcome != wantOutcome {
			t.Errorf("step %d: event %+v, err %v", i, ev, err)
		}
	}
	if ev := e.rec.All()[len(e.rec.All())-2]; ev.Reason != "destroyed" || ev.Details["version"] != "1" {
		t.Errorf("read of destroyed: %+v", ev)
	}
	if e.rec.Contains(secret) || e.rec.Contains(hex.EncodeToString([]byte(secret))) {
		t.Fatal("an audit event holds the value")
	}
}

// TestMasterKeyRotationRewrapsSecretDEKs: `rampart master-key rotate`
// (kms.Rotate through sqlstore) re-wraps every secret DEK; the store
// reopened with the new key reads the same values, the old key no longer
// opens it, and an instance still holding the old key cannot add a
// version the new key could not open.
func TestMasterKeyRotationRewrapsSecretDEKs(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			e := newEnv(t, driver)
			ctx := context.Background()
			want := map[string]string{"r/a": "alpha", "r/b": "bravo", "r/c/d": "charlie"}
			for p, v := range want {
				e.put(t, p, v+"-old", secrets.PutOptions{})
				e.put(t, p, v, secrets.PutOptions{})
			}
			if err := e.m.Destroy(ctx, admin, path(t, "r/a"), []int64{1}); err != nil {
				t.Fatal(err)
			}
			oldDEK, _ := e.readRow(t, "r/b", 2)
			mk2, err := kms.NewMasterKey(testkit.OtherMasterKey())
			if err != nil {
				t.Fatal(err)
			}
			nkr, err := kms.Rotate(ctx, e.kr, mk2, kms.RotateOptions{})
			if err != nil {
				t.Fatalf("rotate: %v", err)
			}
			newDEK, _ := e.readRow(t, "r/b", 2)
			if string(newDEK) == string(oldDEK) {
				t.Fatal("the DEK was not re-wrapped")
			}
			// The old keyring (an instance not restarted) cannot add a version.
			if _, err := e.m.Put(ctx, admin, path(t, "r/b"), val("stale"), secrets.PutOptions{}); err == nil {
				t.Fatal("a DEK sealed under the retired key was stored")
			}
			// Reopen with the new key: the same values.
			kr2 := openKeyring(t, e.st, testkit.OtherMasterKey())
			o := e.opts
			o.Sealer, o.AuditKey = kr2, kr2.DataKey(kms.DataKeySecretAudit)
			m2, err := secrets.New(o)
			if err != nil {
				t.Fatal(err)
			}
			for p, v := range want {
				s, err := m2.Get(ctx, admin, path(t, p), secrets.Selector{})
				if err != nil || string(s.Value.Bytes()) != v {
					t.Fatalf("%s after rotation: %q %v", p, s.Value.Bytes(), err)
				}
				if s, err := m2.Get(ctx, admin, path(t, p), secrets.Selector{Label: secrets.LabelPrevious}); p != "r/a" && (err != nil || string(s.Value.Bytes()) != v+"-old") {
					t.Fatalf("%s previous after rotation: %v", p, err)
				}
			}
			_ = nkr
			if _, err := m2.Put(ctx, admin, path(t, "r/b"), val("fresh"), secrets.PutOptions{}); err != nil {
				t.Fatalf("put with the new key: %v", err)
			}
			// The old key no longer opens the store, nor any DEK.
			mk1, _ := kms.NewMasterKey(testkit.MasterKey())
			if _, err := kms.Open(ctx, e.st.KMS(), mk1); err == nil {
				t.Fatal("the retired key opens the store")
			}
			if _, err := e.kr.Open(kms.SecretDEKAD(e.secretID(t, "r/b"), 2), newDEK); err == nil {
				t.Fatal("the retired key opens a re-wrapped DEK")
			}
		})
	}
}

// TestRotationRefusesAnUnopenableDEK: a tampered DEK stops the rotation
// before anything is written.
func TestRotationRefusesAnUnopenableDEK(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.put(t, "r/a", "alpha", secrets.PutOptions{})
	dek, ct := e.readRow(t, "r/a", 1)
	dek[len(dek)-1] ^= 1
	e.writeRow(t, "r/a", 1, dek, ct)
	mk2, _ := kms.NewMasterKey(testkit.OtherMasterKey())
	if _, err := kms.Rotate(context.Background(), e.kr, mk2, kms.RotateOptions{}); err == nil || !strings.Contains(err.Error(), "secret version") {
		t.Fatalf("rotate over a tampered DEK: %v", err)
	}
	if _, err := kms.Open(context.Background(), e.st.KMS(), mustMK(t, testkit.MasterKey())); err != nil {
		t.Fatalf("the old key no longer opens after a refused rotation: %v", err)
	}
}

func mustMK(t *testing.T, raw []byte) *kms.MasterKey {
	t.Helper()
	mk, err := kms.NewMasterKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return mk
}
