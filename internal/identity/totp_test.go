package identity_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/testkit"
	"github.com/rampart-auth/rampart/internal/testkit/storetest"
)

// mfaEnv is an MFA service on a real store with a fake clock.
type mfaEnv struct {
	mfa   *identity.MFA
	store *storetest.Store
	clock *testkit.Clock
	user  *identity.User
}

func newMFAEnv(t *testing.T, driver string) *mfaEnv {
	t.Helper()
	st := storetest.Open(t, driver)
	mk, err := kms.LoadMasterKey("", testkit.MasterKeyBase64)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := kms.NewKEK(mk, 1)
	if err != nil {
		t.Fatal(err)
	}
	clock := testkit.NewClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
	u := &identity.User{ID: "u1", Username: "alice", PasswordHash: "x", CreatedAt: clock.Now(), UpdatedAt: clock.Now()}
	if err := st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return &mfaEnv{mfa: identity.NewMFA(st, kek, "Rampart", clock.Now, nil), store: st, clock: clock, user: u}
}

func forEachMFADriver(t *testing.T, fn func(t *testing.T, e *mfaEnv)) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) { fn(t, newMFAEnv(t, d)) })
	}
}

// code is the TOTP code of secret at t (an authenticator app).
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wrongCode is a 6-digit code valid at no step of the window around at.
func wrongCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	window := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		window[code(t, secret, at.Add(d))] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !window[c] {
			return c
		}
	}
	t.Fatal("no wrong code")
	return ""
}

// enrol sets up and confirms TOTP, returning the secret and recovery codes.
func (e *mfaEnv) enrol(t *testing.T) (string, []string) {
	t.Helper()
	ctx := context.Background()
	en, err := e.mfa.Begin(ctx, e.user)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := e.mfa.Confirm(ctx, e.user.ID, code(t, en.Secret, e.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	// The next step, so the confirming code's step is behind us.
	e.clock.Add(30 * time.Second)
	return en.Secret, codes
}

func TestTOTPEnrolmentIsInactiveUntilConfirmed(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		ctx := context.Background()
		en, err := e.mfa.Begin(ctx, e.user)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(en.URI, "otpauth://totp/Rampart:alice?") || !strings.Contains(en.URI, "secret="+en.Secret) {
			t.Fatalf("uri %q", en.URI)
		}
		// An unconfirmed enrolment is not a second factor.
		if _, err := e.mfa.Verify(ctx, e.user.ID, code(t, en.Secret, e.clock.Now()), -1); !errors.Is(err, identity.ErrMFANotEnrolled) {
			t.Fatalf("verify before confirm: %v", err)
		}
		if _, err := e.mfa.Confirm(ctx, e.user.ID, wrongCode(t, en.Secret, e.clock.Now())); !errors.Is(err, identity.ErrInvalidOTP) {
			t.Fatalf("wrong confirm: %v", err)
		}
		again, err := e.mfa.Pending(ctx, e.user)
		if err != nil || again.Secret != en.Secret {
			t.Fatalf("pending: %v %v", again, err)
		}
		codes, err := e.mfa.Confirm(ctx, e.user.ID, code(t, en.Secret, e.clock.Now()))
		if err != nil || len(codes) != identity.RecoveryCodeCount {
			t.Fatalf("confirm: %v %v", codes, err)
		}
		// An active enrolment cannot be replaced by starting another.
		if _, err := e.mfa.Begin(ctx, e.user); !errors.Is(err, identity.ErrMFAEnrolled) {
			t.Fatalf("begin over an active enrolment: %v", err)
		}
	})
}

func TestTOTPCodeRefusedASecondTimeInItsStep(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		ctx := context.Background()
		secret, _ := e.enrol(t)
		c := code(t, secret, e.clock.Now())
		if m, err := e.mfa.Verify(ctx, e.user.ID, c, -1); err != nil || m != identity.AMROTP {
			t.Fatalf("first use: %q %v", m, err)
		}
		if _, err := e.mfa.Verify(ctx, e.user.ID, c, -1); !errors.Is(err, identity.ErrInvalidOTP) {
			t.Fatalf("replay in the same step: %v", err)
		}
		// The previous step's code, still inside the ±1 window, is older
		// than the accepted one: refused too.
		if _, err := e.mfa.Verify(ctx, e.user.ID, code(t, secret, e.clock.Now().Add(-30*time.Second)), -1); !errors.Is(err, identity.ErrInvalidOTP) {
			t.Fatalf("older step after a newer one: %v", err)
		}
	})
}

func TestTOTPCodeFromTwoStepsAgoRefused(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		ctx := context.Background()
		secret, _ := e.enrol(t)
		e.clock.Add(5 * time.Minute)
		old := code(t, secret, e.clock.Now().Add(-60*time.Second))
		if old == code(t, secret, e.clock.Now()) || old == code(t, secret, e.clock.Now().Add(-30*time.Second)) || old == code(t, secret, e.clock.Now().Add(30*time.Second)) {
			t.Skip("the old code collides with one inside the window")
		}
		if _, err := e.mfa.Verify(ctx, e.user.ID, old, -1); !errors.Is(err, identity.ErrInvalidOTP) {
			t.Fatalf("code from two steps ago: %v", err)
		}
		// One step of skew either way is accepted (RFC 6238 §5.2).
		if _, err := e.mfa.Verify(ctx, e.user.ID, code(t, secret, e.clock.Now().Add(-30*time.Second)), -1); err != nil {
			t.Fatalf("one step behind: %v", err)
		}
	})
}

func TestTOTPConcurrentUseAcceptedOnce(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		ctx := context.Background()
		secret, _ := e.enrol(t)
		c := code(t, secret, e.clock.Now())
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := e.mfa.Verify(ctx, e.user.ID, c, -1); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d concurrent verifications of one code succeeded, want 1", ok)
		}
	})
}

func TestRecoveryCodeWorksOnceNotTwice(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		ctx := context.Background()
		_, codes := e.enrol(t)
		if len(codes) != 10 || len(codes[0]) != 19 {
			t.Fatalf("codes %q", codes)
		}
		// Typed in lower case without dashes: the same code.
		typed := strings.ToLower(strings.ReplaceAll(codes[3], "-", ""))
		if m, err := e.mfa.Verify(ctx, e.user.ID, typed, -1); err != nil || m != identity.MethodRecovery {
			t.Fatalf("first use: %q %v", m, err)
		}
		if _, err := e.mfa.Verify(ctx, e.user.ID, codes[3], -1); !errors.Is(err, identity.ErrInvalidOTP) {
			t.Fatalf("second use: %v", err)
		}
		// Another user's store row is not consulted: a made-up code fails.
		if _, err := e.mfa.Verify(ctx, e.user.ID, "AAAA-AAAA-AAAA-AAAA", -1); !errors.Is(err, identity.ErrInvalidOTP) {
			t.Fatalf("made-up code: %v", err)
		}
	})
}

func TestTOTPVerifyBoundToPendingUses(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		ctx := context.Background()
		secret, codes := e.enrol(t)
		rec, err := e.mfa.Status(ctx, e.user.ID)
		if err != nil {
			t.Fatal(err)
		}
		at := rec.Uses
		if _, err := e.mfa.Verify(ctx, e.user.ID, code(t, secret, e.clock.Now()), at); err != nil {
			t.Fatal(err)
		}
		// A pending sign-in made before that success is dead, even with a
		// fresh code or a recovery code.
		e.clock.Add(30 * time.Second)
		if _, err := e.mfa.Verify(ctx, e.user.ID, code(t, secret, e.clock.Now()), at); !errors.Is(err, identity.ErrInvalidOTP) {
			t.Fatalf("stale pending with a fresh code: %v", err)
		}
		if _, err := e.mfa.Verify(ctx, e.user.ID, codes[0], at); !errors.Is(err, identity.ErrInvalidOTP) {
			t.Fatalf("stale pending with a recovery code: %v", err)
		}
		// EndPending (the OTP lockout) kills the current one too.
		rec, _ = e.mfa.Status(ctx, e.user.ID)
		if err := e.mfa.EndPending(ctx, e.user.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.mfa.Verify(ctx, e.user.ID, code(t, secret, e.clock.Now()), rec.Uses); !errors.Is(err, identity.ErrInvalidOTP) {
			t.Fatalf("pending after EndPending: %v", err)
		}
	})
}

func TestTOTPSecretSealedToItsUser(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		ctx := context.Background()
		secret, _ := e.enrol(t)
		rec, _ := e.mfa.Status(ctx, e.user.ID)
		if strings.Contains(string(rec.Sealed), secret) {
			t.Fatal("the secret is stored in the clear")
		}
		// An attacker with database write access copies alice's sealed
		// secret onto mallory's row (whose authenticator they hold): it
		// does not open under mallory's associated data.
		m := &identity.User{ID: "u2", Username: "mallory", PasswordHash: "x", CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
		if err := e.store.CreateUser(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := e.mfa.Begin(ctx, m); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.DB.SQL().ExecContext(ctx, e.store.DB.Q(`UPDATE user_totp SET secret_sealed = ?, confirmed_at = 1 WHERE user_id = ?`), rec.Sealed, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.mfa.Verify(ctx, m.ID, code(t, secret, e.clock.Now()), -1); err == nil || errors.Is(err, identity.ErrInvalidOTP) {
			t.Fatalf("a secret moved to another user opened: %v", err)
		}
	})
}

func TestDisableRequiresCurrentCode(t *testing.T) {
	forEachMFADriver(t, func(t *testing.T, e *mfaEnv) {
		ctx := context.Background()
		secret, _ := e.enrol(t)
		wrong := wrongCode(t, secret, e.clock.Now())
		if err := e.mfa.Disable(ctx, e.user.ID, wrong); !errors.Is(err, identity.ErrInvalidOTP) {
			t.Fatalf("disable with a wrong code: %v", err)
		}
		if r, _ := e.mfa.Status(ctx, e.user.ID); r == nil || !r.Confirmed() {
			t.Fatal("a wrong code disabled TOTP")
		}
		if err := e.mfa.Disable(ctx, e.user.ID, code(t, secret, e.clock.Now())); err != nil {
			t.Fatal(err)
		}
		if r, _ := e.mfa.Status(ctx, e.user.ID); r != nil {
			t.Fatal("still enrolled")
		}
	})
}

func TestParseOTPInput(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		kind     identity.OTPKind
		norm     string
	}{
		{"totp/plain", "123456", identity.OTPKindTOTP, "123456"},
		{"totp/spaced", " 123 456 ", identity.OTPKindTOTP, "123456"},
		{"recovery/grouped", "abcd-efgh-ijkl-mnop", identity.OTPKindRecovery, "ABCDEFGHIJKLMNOP"},
		{"reject/five-digits", "12345", identity.OTPKindInvalid, ""},
		{"reject/seven-digits", "1234567", identity.OTPKindInvalid, ""},
		{"reject/unicode-digits", "١٢٣٤٥٦", identity.OTPKindInvalid, ""},
		{"reject/base32-bad-letter", "ABCD-EFGH-IJKL-MN01", identity.OTPKindInvalid, ""},
		{"reject/long", strings.Repeat("1", 100), identity.OTPKindInvalid, ""},
		{"reject/empty", "", identity.OTPKindInvalid, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, n := identity.ParseOTPInput(tc.in)
			if k != tc.kind || n != tc.norm {
				t.Fatalf("got %v %q, want %v %q", k, n, tc.kind, tc.norm)
			}
		})
	}
}

func TestTOTPSecretSurvivesMasterKeyRotation(t *testing.T) {
	for _, d := range storetest.Drivers(t) {
		t.Run(d, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.Open(t, d)
			mk1, err := kms.LoadMasterKey("", testkit.MasterKeyBase64)
			if err != nil {
				t.Fatal(err)
			}
			mk2, err := kms.LoadMasterKey("", testkit.OtherMasterKeyBase64)
			if err != nil {
				t.Fatal(err)
			}
			kr1, err := kms.Open(ctx, st.KMS(), mk1)
			if err != nil {
				t.Fatal(err)
			}
			clock := testkit.NewClock(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC))
			u := &identity.User{ID: "u1", Username: "alice", PasswordHash: "x"}
			if err := st.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			m1 := identity.NewMFA(st, kr1, "Rampart", clock.Now, nil)
			en, err := m1.Begin(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m1.Confirm(ctx, u.ID, code(t, en.Secret, clock.Now())); err != nil {
				t.Fatal(err)
			}
			kr2, err := kms.Rotate(ctx, kr1, mk2, kms.RotateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// The secret was re-wrapped in the rotation's transaction: the
			// new key opens it, and the retired one no longer does.
			clock.Add(30 * time.Second)
			if _, err := identity.NewMFA(st, kr2, "Rampart", clock.Now, nil).Verify(ctx, u.ID, code(t, en.Secret, clock.Now()), -1); err != nil {
				t.Fatalf("after rotation: %v", err)
			}
			rec, _ := st.GetTOTP(ctx, u.ID)
			if kms.CiphertextVersion(rec.Sealed) != kr2.Version() {
				t.Fatalf("sealed under version %d, want %d", kms.CiphertextVersion(rec.Sealed), kr2.Version())
			}
		})
	}
}
