package keys_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

func TestNewManagerOptions(t *testing.T) {
	mk := testMaster(t)
	st := storetest.Open(t, "sqlite")
	tests := []struct {
		name    string
		edit    func(o *keys.Options)
		wantErr string
	}{
		{"accept/defaults", func(o *keys.Options) {
			*o = keys.Options{Store: o.Store, Master: o.Master, Auditor: o.Auditor, MaxTokenLifetime: time.Minute}
		}, ""},
		{"accept/rs256-2048", func(o *keys.Options) { o.Algorithm, o.RSABits = keys.AlgRS256, 2048 }, ""},
		{"reject/rs256-1024", func(o *keys.Options) { o.Algorithm, o.RSABits = keys.AlgRS256, 1024 }, "at least 2048"},
		{"reject/ps256-2047", func(o *keys.Options) { o.Algorithm, o.RSABits = keys.AlgPS256, 2047 }, "at least 2048"},
		{"reject/alg-none", func(o *keys.Options) { o.Algorithm = "none" }, "unsupported algorithm"},
		{"reject/alg-hs256", func(o *keys.Options) { o.Algorithm = "HS256" }, "unsupported algorithm"},
		{"reject/no-store", func(o *keys.Options) { o.Store = nil }, "required"},
		{"reject/no-master", func(o *keys.Options) { o.Master = nil }, "required"},
		{"reject/no-auditor", func(o *keys.Options) { o.Auditor = nil }, "required"},
		{"reject/no-token-lifetime", func(o *keys.Options) { o.MaxTokenLifetime = 0 }, "MaxTokenLifetime"},
		{"reject/publish-ahead-below-max-age", func(o *keys.Options) { o.PublishAhead = time.Minute }, "shorter than JWKSMaxAge"},
		{"reject/rotation-below-publish-ahead", func(o *keys.Options) { o.RotationPeriod = 30 * time.Minute }, "longer than PublishAhead"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOpts(st, mk, newClock(), &recorder{})
			tc.edit(&o)
			_, err := keys.NewManager(o)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("NewManager: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestRotationSchedule walks one full rotation with the injected clock:
// pre-publish, activate, retire, remove, checking the JWKS at each step.
func TestRotationSchedule(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			clock, aud := newClock(), &recorder{}
			m := newManager(t, testOpts(st, testMaster(t), clock, aud))

			if err := m.Init(ctx, "system"); err != nil {
				t.Fatalf("Init: %v", err)
			}
			k1 := activeKID(t, m)
			if got := jwksKIDs(m); !slices.Equal(got, []string{k1}) {
				t.Fatalf("JWKS after Init = %v, want [%s]", got, k1)
			}
			want := []string{"key.generate key:" + k1 + " success", "key.activate key:" + k1 + " success"}
			if got := aud.actions(0); !slices.Equal(got, want) {
				t.Fatalf("audit after Init = %v, want %v", got, want)
			}

			type step struct {
				name      string
				at        time.Time
				wantKIDs  func(k1, k2 string) []string
				wantSign  func(k1, k2 string) string
				wantAudit func(k1, k2 string) []string
			}
			// The rotation period runs from activation (t0); the next key is
			// published PublishAhead (1h) before it ends and activates at
			// t0+720h; the old key leaves 10m (tokens) + 5m (skew) later.
			var k2 string
			steps := []step{
				{"before-pre-publish", t0.Add(719*time.Hour - time.Second),
					func(k1, _ string) []string { return []string{k1} },
					func(k1, _ string) string { return k1 }, nil},
				{"pre-publish", t0.Add(719 * time.Hour),
					func(k1, k2 string) []string { return []string{k1, k2} },
					func(k1, _ string) string { return k1 },
					func(_, k2 string) []string { return []string{"key.generate key:" + k2 + " success"} }},
				{"still-publishing", t0.Add(720*time.Hour - time.Second),
					func(k1, k2 string) []string { return []string{k1, k2} },
					func(k1, _ string) string { return k1 }, nil},
				{"activate", t0.Add(720 * time.Hour),
					func(k1, k2 string) []string { return []string{k2, k1} },
					func(_, k2 string) string { return k2 },
					func(k1, k2 string) []string {
						return []string{"key.retire key:" + k1 + " success", "key.activate key:" + k2 + " success"}
					}},
				{"retired-still-published", t0.Add(720*time.Hour + 15*time.Minute - time.Second),
					func(k1, k2 string) []string { return []string{k2, k1} },
					func(_, k2 string) string { return k2 }, nil},
				{"remove", t0.Add(720*time.Hour + 15*time.Minute),
					func(_, k2 string) []string { return []string{k2} },
					func(_, k2 string) string { return k2 },
					func(k1, _ string) []string { return []string{"key.remove key:" + k1 + " success"} }},
			}
			for _, s := range steps {
				clock.Set(s.at)
				before := len(aud.Events())
				if err := m.Tick(ctx); err != nil {
					t.Fatalf("%s: Tick: %v", s.name, err)
				}
				if k2 == "" {
					for _, kid := range jwksKIDs(m) {
						if kid != k1 {
							k2 = kid
						}
					}
				}
				if got, want := jwksKIDs(m), s.wantKIDs(k1, k2); !slices.Equal(got, want) {
					t.Fatalf("%s: JWKS = %v, want %v", s.name, got, want)
				}
				if got, want := activeKID(t, m), s.wantSign(k1, k2); got != want {
					t.Fatalf("%s: signing with %s, want %s", s.name, got, want)
				}
				var want []string
				if s.wantAudit != nil {
					want = s.wantAudit(k1, k2)
				}
				if got := aud.actions(before); !slices.Equal(got, want) {
					t.Fatalf("%s: audit = %v, want %v", s.name, got, want)
				}
			}

			// The removed key's row stays as history, its private key wiped.
			list, err := m.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 2 || list[0].KID != k1 || list[0].State != keys.StateRemoved || list[1].State != keys.StateActive {
				t.Fatalf("List = %+v", list)
			}
			if !list[0].RemoveAt.Equal(t0.Add(720*time.Hour+15*time.Minute)) || !list[1].ActivateAt.Equal(t0.Add(720*time.Hour)) {
				t.Fatalf("times: %+v", list)
			}
			kr, _ := st.LoadKeyRing(ctx)
			if len(kr.Keys[0].PrivateEnc) != 0 {
				t.Fatalf("removed key still holds %d bytes of sealed private key", len(kr.Keys[0].PrivateEnc))
			}
			if len(kr.Keys[1].PrivateEnc) == 0 {
				t.Fatal("active key lost its private key")
			}
		})
	}
}

// TestLateInstanceStillPublishesAhead: an instance down past the pre-publish
// time still gives the new key a full PublishAhead in the JWKS.
func TestLateInstanceStillPublishesAhead(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	clock := newClock()
	m := newManager(t, testOpts(st, testMaster(t), clock, &recorder{}))
	if err := m.Init(ctx, "system"); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(800 * time.Hour)) // past the rotation period
	if err := m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	list, _ := m.List(ctx)
	if len(list) != 2 || list[1].State != keys.StatePublished {
		t.Fatalf("List = %+v", list)
	}
	if got, want := list[1].ActivateAt, clock.Now().Add(time.Hour); !got.Equal(want) {
		t.Fatalf("activate_at = %s, want %s (now + PublishAhead)", got, want)
	}
}

func TestRotateOnDemand(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, driver)
			clock, aud := newClock(), &recorder{}
			m := newManager(t, testOpts(st, testMaster(t), clock, aud))
			if err := m.Init(ctx, "system"); err != nil {
				t.Fatal(err)
			}
			k1 := activeKID(t, m)
			clock.Add(24 * time.Hour)
			before := len(aud.Events())
			info, err := m.Rotate(ctx, "cli:alice")
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if info.State != keys.StatePublished || !info.ActivateAt.Equal(clock.Now().Add(time.Hour)) || info.Algorithm != keys.AlgES256 {
				t.Fatalf("Rotate = %+v", info)
			}
			if got, want := jwksKIDs(m), []string{k1, info.KID}; !slices.Equal(got, want) {
				t.Fatalf("JWKS = %v, want %v (new key published before it signs)", got, want)
			}
			if activeKID(t, m) != k1 {
				t.Fatal("the new key signs before it was published for PublishAhead")
			}
			want := []string{"key.rotate key:" + info.KID + " success", "key.generate key:" + info.KID + " success"}
			if got := aud.actions(before); !slices.Equal(got, want) {
				t.Fatalf("audit = %v, want %v", got, want)
			}
			for _, e := range aud.Events()[before:] {
				if e.Actor != "cli:alice" || e.Details["generation"] == "" {
					t.Fatalf("event %+v: want actor cli:alice and a generation", e)
				}
			}

			// A second rotation does not stack keys: it reports the waiting one.
			before = len(aud.Events())
			again, err := m.Rotate(ctx, "cli:alice")
			if !errors.Is(err, keys.ErrRotationPending) || again.KID != info.KID {
				t.Fatalf("second Rotate = %+v, %v; want the waiting key and ErrRotationPending", again, err)
			}
			if got := aud.Events()[before:]; len(got) != 1 || got[0].Action != keys.ActionRotate || got[0].Outcome != audit.OutcomeFailure || got[0].Reason != "rotation_pending" {
				t.Fatalf("audit of the refused rotation = %+v", got)
			}
			if n := stateCounts(t, st); n[keys.StatePublished] != 1 || n[keys.StateActive] != 1 {
				t.Fatalf("states = %v", n)
			}

			clock.Add(time.Hour)
			if err := m.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			if activeKID(t, m) != info.KID {
				t.Fatal("rotated key did not activate after PublishAhead")
			}
		})
	}
}

// TestAuditFailureChangesNothing: evidence first; no evidence, no change.
func TestAuditFailureChangesNothing(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	clock, aud := newClock(), &recorder{}
	aud.fail.Store(true)
	m := newManager(t, testOpts(st, testMaster(t), clock, aud))
	if err := m.Init(ctx, "system"); !errors.Is(err, errAuditDown) {
		t.Fatalf("Init with the audit log down: %v, want the audit error", err)
	}
	if g, _ := st.KeyRingGeneration(ctx); g != 0 || len(stateCounts(t, st)) != 0 {
		t.Fatalf("ring changed without evidence: generation %d, %v", g, stateCounts(t, st))
	}
	aud.fail.Store(false)
	if err := m.Init(ctx, "system"); err != nil {
		t.Fatal(err)
	}
	aud.fail.Store(true)
	if _, err := m.Rotate(ctx, "cli"); !errors.Is(err, errAuditDown) {
		t.Fatalf("Rotate with the audit log down: %v", err)
	}
	if n := stateCounts(t, st); n[keys.StatePublished] != 0 {
		t.Fatalf("Rotate changed the ring without evidence: %v", n)
	}
}

// TestAlgorithms: each algorithm gives one pinned alg, an RFC 7638 kid and
// public members only, and signs tokens that verify against the JWKS.
func TestAlgorithms(t *testing.T) {
	tests := []struct {
		alg     string
		bits    int
		kty     string
		members []string
	}{
		{keys.AlgES256, 0, "EC", []string{"alg", "crv", "kid", "kty", "use", "x", "y"}},
		{keys.AlgEdDSA, 0, "OKP", []string{"alg", "crv", "kid", "kty", "use", "x"}},
		{keys.AlgRS256, 2048, "RSA", []string{"alg", "e", "kid", "kty", "n", "use"}},
		{keys.AlgPS256, 2048, "RSA", []string{"alg", "e", "kid", "kty", "n", "use"}},
	}
	for _, tc := range tests {
		t.Run(tc.alg, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, "sqlite")
			o := testOpts(st, testMaster(t), newClock(), &recorder{})
			o.Algorithm, o.RSABits = tc.alg, tc.bits
			m := newManager(t, o)
			if err := m.Init(ctx, "system"); err != nil {
				t.Fatal(err)
			}
			ak, err := m.Signer()
			if err != nil || ak.Algorithm != tc.alg {
				t.Fatalf("Signer = %v, %v", ak, err)
			}
			set := m.PublicJWKS()
			if len(set.Keys) != 1 {
				t.Fatalf("JWKS has %d keys", len(set.Keys))
			}
			pub := set.Keys[0]
			if !pub.IsPublic() || pub.Algorithm != tc.alg || pub.Use != "sig" || pub.KeyID != ak.KID {
				t.Fatalf("JWK = %+v", pub)
			}
			tp, _ := pub.Thumbprint(crypto.SHA256)
			if base64.RawURLEncoding.EncodeToString(tp) != ak.KID {
				t.Fatal("kid is not the RFC 7638 SHA-256 thumbprint")
			}
			raw, _ := json.Marshal(pub)
			var members map[string]any
			if err := json.Unmarshal(raw, &members); err != nil {
				t.Fatal(err)
			}
			got := make([]string, 0, len(members))
			for k := range members {
				got = append(got, k)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.members) || members["kty"] != tc.kty {
				t.Fatalf("JWK members = %v (kty %v), want %v", got, members["kty"], tc.members)
			}

			// Sign with the active key, verify with the published key,
			// pinning the algorithm.
			signer, err := jose.NewSigner(ak.SigningKey(), nil)
			if err != nil {
				t.Fatal(err)
			}
			jws, err := signer.Sign([]byte(`{"sub":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			compact, _ := jws.CompactSerialize()
			parsed, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(tc.alg)})
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Signatures[0].Header.KeyID != ak.KID {
				t.Fatal("the kid header is not set")
			}
			if _, err := parsed.Verify(set.Key(ak.KID)[0]); err != nil {
				t.Fatalf("verify with the JWKS: %v", err)
			}
			// The private key never shows in fmt or the logs.
			want := fmt.Sprintf(`keys.ActiveKey{KID: %q, Algorithm: %q}`, ak.KID, ak.Algorithm)
			if got := fmt.Sprintf("%v|%+v|%#v|%s|%x|%d", ak, ak, ak, ak, ak, ak); got != strings.Repeat(want+"|", 5)+want {
				t.Fatalf("ActiveKey prints %q", got)
			}
		})
	}
}

// TestCiphertextBoundToRow: a sealed private key moved to another row, or
// flipped, does not decrypt, so the instance refuses to start and to change
// the ring.
func TestCiphertextBoundToRow(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, db *sqlExec, kid1, kid2 string)
	}{
		{"reject/swapped-between-rows", func(t *testing.T, db *sqlExec, kid1, kid2 string) {
			enc1, enc2 := db.enc(t, kid1), db.enc(t, kid2)
			db.setEnc(t, kid1, enc2)
			db.setEnc(t, kid2, enc1)
		}},
		{"reject/copied-from-other-row", func(t *testing.T, db *sqlExec, kid1, kid2 string) {
			db.setEnc(t, kid2, db.enc(t, kid1))
		}},
		{"reject/flipped-bit", func(t *testing.T, db *sqlExec, _, kid2 string) {
			enc := db.enc(t, kid2)
			enc[len(enc)/2] ^= 1
			db.setEnc(t, kid2, enc)
		}},
		{"reject/other-envelope-version", func(t *testing.T, db *sqlExec, _, kid2 string) {
			db.exec(t, "UPDATE signing_keys SET enc_version = 2 WHERE kid = ?", kid2)
		}},
		{"reject/algorithm-edited", func(t *testing.T, db *sqlExec, _, kid2 string) {
			db.exec(t, "UPDATE signing_keys SET algorithm = 'RS256' WHERE kid = ?", kid2)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, "sqlite")
			clock := newClock()
			m := newManager(t, testOpts(st, testMaster(t), clock, &recorder{}))
			if err := m.Init(ctx, "system"); err != nil {
				t.Fatal(err)
			}
			info, err := m.Rotate(ctx, "cli")
			if err != nil {
				t.Fatal(err)
			}
			db := &sqlExec{st}
			tc.tamper(t, db, activeKID(t, m), info.KID)

			m2 := newManager(t, testOpts(st, testMaster(t), clock, &recorder{}))
			err = m2.Init(ctx, "system")
			if err == nil || !strings.Contains(err.Error(), "master key") {
				t.Fatalf("Init on a tampered ring: %v, want a refusal naming the master key", err)
			}
			if _, err := m2.Rotate(ctx, "cli"); err == nil {
				t.Fatal("Rotate on a tampered ring was accepted")
			}
			// Tampered keys are never published.
			for _, k := range m2.PublicJWKS().Keys {
				if k.KeyID == info.KID {
					t.Fatal("a tampered key is in the JWKS")
				}
			}
		})
	}
}

// TestWrongMasterKey: another master key cannot open the ring, and is not
// allowed to add keys the real instances could not use.
func TestWrongMasterKey(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, "sqlite")
	clock := newClock()
	if err := newManager(t, testOpts(st, testMaster(t), clock, &recorder{})).Init(ctx, "system"); err != nil {
		t.Fatal(err)
	}
	otherMK, err := kms.LoadMasterKey("", testkit.OtherMasterKeyBase64)
	if err != nil {
		t.Fatal(err)
	}
	other, err := kms.NewKEK(otherMK, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := newManager(t, testOpts(st, other, clock, &recorder{}))
	if err := m.Init(ctx, "system"); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("Init with another master key: %v", err)
	}
	if _, err := m.Rotate(ctx, "cli"); err == nil {
		t.Fatal("Rotate with another master key was accepted")
	}
	if _, err := m.Signer(); !errors.Is(err, keys.ErrNoActiveKey) {
		t.Fatalf("Signer = %v, want ErrNoActiveKey", err)
	}
	if n := stateCounts(t, st); n[keys.StatePublished] != 0 || n[keys.StateActive] != 1 {
		t.Fatalf("states = %v", n)
	}
}

// sqlExec tampers with rows directly, as an attacker with database access.
type sqlExec struct{ st *storetest.Store }

func (d *sqlExec) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := d.st.SQL().ExecContext(context.Background(), d.st.Q(q), args...); err != nil {
		t.Fatal(err)
	}
}

func (d *sqlExec) enc(t *testing.T, kid string) []byte {
	t.Helper()
	var b []byte
	if err := d.st.SQL().QueryRowContext(context.Background(), d.st.Q("SELECT private_enc FROM signing_keys WHERE kid = ?"), kid).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(b)
}

func (d *sqlExec) setEnc(t *testing.T, kid string, b []byte) {
	t.Helper()
	d.exec(t, "UPDATE signing_keys SET private_enc = ? WHERE kid = ?", b, kid)
}

// TestRunFollowsTheRing: Run notices a rotation made by another instance
// and performs the promotion when it is due.
func TestRunFollowsTheRing(t *testing.T) {
	for _, driver := range storetest.Drivers(t) {
		t.Run(driver, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			a, b, _ := openShared(t, driver)
			clock := newClock()
			o := testOpts(a, testMaster(t), clock, &recorder{})
			o.PollInterval = 10 * time.Millisecond
			server := newManager(t, o)
			if err := server.Init(ctx, "system"); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { server.Run(ctx); close(done) }()

			info, err := newManager(t, testOpts(b, testMaster(t), clock, &recorder{})).Rotate(ctx, "cli")
			if err != nil {
				t.Fatal(err)
			}
			testkit.WaitFor(t, "the new key in the JWKS", 5*time.Second, func() bool { return slices.Contains(jwksKIDs(server), info.KID) })
			clock.Add(time.Hour)
			testkit.WaitFor(t, "the new key to sign", 5*time.Second, func() bool { k, _ := server.Signer(); return k.KID == info.KID })
			cancel()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Run did not return after cancel")
			}
		})
	}
}
