package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/store"
)

// Authentication method references (RFC 8176 §2) a session records.
const (
	AMRPassword = "pwd"
	AMROTP      = "otp"
)

// TOTP parameters: SHA-1, 6 digits, 30 s steps (RFC 6238 §4 defaults,
// and what every authenticator app implements; the otpauth URI of other
// values is ignored by several apps, which then show wrong codes).
const (
	TOTPPeriod = 30
	TOTPDigits = 6
	// TOTPSkew is the number of steps accepted either side of the current
	// one: RFC 6238 §5.2 recommends at most one step of network delay, and
	// phones' clocks drift. ±1 step keeps a code valid for 60–90 s.
	TOTPSkew = 1
	// totpSecretBytes is 160 bits, the HMAC-SHA-1 block-output size RFC
	// 4226 §4 R6 recommends for the shared secret.
	totpSecretBytes = 20
	// RecoveryCodeCount codes are made at enrolment (and shown once).
	RecoveryCodeCount = 10
	// recoveryCodeBytes is 80 random bits per recovery code (≥ 50 asked;
	// 16 base32 characters, grouped by 4 for reading).
	recoveryCodeBytes = 10
)

// Errors of the second factor.
var (
	// ErrMFANotEnrolled: the user has no confirmed TOTP.
	ErrMFANotEnrolled = errors.New("identity: two-step sign-in is not set up")
	// ErrMFAEnrolled: the user already has a confirmed TOTP.
	ErrMFAEnrolled = errors.New("identity: two-step sign-in is already set up")
	// ErrInvalidOTP is the one answer to a wrong, replayed, too old or
	// already used code, or a sign-in attempt that is no longer current.
	ErrInvalidOTP = errors.New("identity: the code is not valid")
)

// TOTPRecord is a user's TOTP enrolment as stored.
type TOTPRecord struct {
	UserID string
	// Sealed is the base32 secret sealed with AD kms.TOTPSecretAD(UserID).
	Sealed      []byte
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero until the first code confirmed it
	// LastStep is the last accepted time step: a code is accepted only for
	// a later step (one use per step, RFC 6238 §5.2).
	LastStep int64
	// Uses counts accepted second factors; a pending sign-in is bound to
	// it and dies once it changes.
	Uses int64
}

// Confirmed reports whether the enrolment is active.
func (r *TOTPRecord) Confirmed() bool { return !r.ConfirmedAt.IsZero() }

// MFAStore is the persistence of the second factor. Every change that
// consumes something (a step, a recovery code, a pending sign-in) is one
// conditional UPDATE, so two instances cannot both accept it.
type MFAStore interface {
	// PutTOTP stores an unconfirmed enrolment, replacing an unconfirmed
	// one; store.ErrConflict if a confirmed one exists.
	PutTOTP(ctx context.Context, r *TOTPRecord) error
	// GetTOTP returns the user's enrolment; store.ErrNotFound if none.
	GetTOTP(ctx context.Context, userID string) (*TOTPRecord, error)
	// ConfirmTOTP activates an unconfirmed enrolment whose last step is
	// below step, records step as used and replaces the recovery codes by
	// hashes, in one transaction; store.ErrUsed if nothing matched.
	ConfirmTOTP(ctx context.Context, userID string, step int64, now time.Time, recovery [][]byte) error
	// AcceptTOTP sets last_step = step and bumps uses where the enrolment
	// is confirmed, last_step < step and uses = uses; store.ErrUsed if
	// nothing matched.
	AcceptTOTP(ctx context.Context, userID string, step, uses int64) error
	// UseRecoveryCode marks the unused code hash used and bumps uses where
	// uses = uses, in one transaction; store.ErrUsed if either failed.
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, uses int64, now time.Time) error
	// BumpTOTPUses ends every pending sign-in of the user (uses + 1).
	BumpTOTPUses(ctx context.Context, userID string) error
	// DeleteTOTP removes the enrolment and the recovery codes.
	DeleteTOTP(ctx context.Context, userID string) error
}

// Sealer seals small secrets with associated data (kms.Keyring).
type Sealer interface {
	Seal(ad, plaintext []byte) ([]byte, error)
	Open(ad, ciphertext []byte) ([]byte, error)
}

// MFA is the TOTP second factor: enrolment, verification, recovery codes.
type MFA struct {
	store  MFAStore
	sealer Sealer
	issuer string // the name authenticator apps show
	now    func() time.Time
	rand   io.Reader
}

// NewMFA returns the service. issuer names the account in authenticator
// apps; now and rnd may be nil (time.Now, crypto/rand).
func NewMFA(st MFAStore, sealer Sealer, issuer string, now func() time.Time, rnd io.Reader) *MFA {
	if now == nil {
		now = time.Now
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return &MFA{store: st, sealer: sealer, issuer: issuer, now: now, rand: rnd}
}

// Enrolment is a started TOTP set-up: the secret in base32 (typed by
// hand) and the otpauth URI the QR code carries.
type Enrolment struct {
	Secret string
	URI    string
}

// totpAD is the associated data of a user's sealed secret (kms.TOTPSecretAD:
// master-key rotation re-wraps it with the same).
func totpAD(userID string) []byte { return kms.TOTPSecretAD(userID) }

// Status returns the user's enrolment; nil when there is none.
func (m *MFA) Status(ctx context.Context, userID string) (*TOTPRecord, error) {
	r, err := m.store.GetTOTP(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return r, err
}

// Begin starts (or restarts) an enrolment for user with a new secret. It
// is inactive until Confirm; ErrMFAEnrolled if one is already active.
func (m *MFA) Begin(ctx context.Context, u *User) (*Enrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: m.issuer, AccountName: u.Username, Period: TOTPPeriod, SecretSize: totpSecretBytes,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: m.rand,
	})
	if err != nil {
		return nil, fmt.Errorf("identity: totp secret: %w", err)
	}
	sealed, err := m.sealer.Seal(totpAD(u.ID), []byte(key.Secret()))
	if err != nil {
		return nil, err
	}
	err = m.store.PutTOTP(ctx, &TOTPRecord{UserID: u.ID, Sealed: sealed, CreatedAt: m.now().UTC()})
	if errors.Is(err, store.ErrConflict) {
		return nil, ErrMFAEnrolled
	}
	if err != nil {
		return nil, err
	}
	return &Enrolment{Secret: key.Secret(), URI: otpauthURI(m.issuer, u.Username, key.Secret())}, nil
}

// Pending returns the unconfirmed enrolment of user to show again;
// ErrMFANotEnrolled if there is none, ErrMFAEnrolled if it is active.
func (m *MFA) Pending(ctx context.Context, u *User) (*Enrolment, error) {
	r, err := m.Status(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, ErrMFANotEnrolled
	}
	if r.Confirmed() {
		return nil, ErrMFAEnrolled
	}
	secret, err := m.secret(r)
	if err != nil {
		return nil, err
	}
	return &Enrolment{Secret: secret, URI: otpauthURI(m.issuer, u.Username, secret)}, nil
}

// otpauthURI is the Key URI Format authenticator apps read from the QR
// code (github.com/google/google-authenticator/wiki/Key-Uri-Format):
// otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30.
func otpauthURI(issuer, account, secret string) string {
	v := url.Values{"secret": {secret}, "issuer": {issuer}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: v.Encode()}
	return u.String()
}

func (m *MFA) secret(r *TOTPRecord) (string, error) {
	b, err := m.sealer.Open(totpAD(r.UserID), r.Sealed)
	if err != nil {
		return "", fmt.Errorf("identity: open totp secret of %s: %w", r.UserID, err)
	}
	return string(b), nil
}

// matchStep returns the time step within ±TOTPSkew of now whose code is
// code, or ok false. Every candidate is computed and compared in constant
// time, so the timing does not tell which step matched.
func (m *MFA) matchStep(secret, code string) (step int64, ok bool) {
	now := m.now().Unix() / TOTPPeriod
	opts := totp.ValidateOpts{Period: TOTPPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	for s := now - TOTPSkew; s <= now+TOTPSkew; s++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*TOTPPeriod, 0), opts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok
}

// Confirm activates the pending enrolment with a first code and returns
// the recovery codes, to be shown once. A wrong code is ErrInvalidOTP.
func (m *MFA) Confirm(ctx context.Context, userID, code string) ([]string, error) {
	kind, norm := ParseOTPInput(code)
	if kind != OTPKindTOTP {
		return nil, ErrInvalidOTP
	}
	r, err := m.Status(ctx, userID)
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, ErrMFANotEnrolled
	}
	if r.Confirmed() {
		return nil, ErrMFAEnrolled
	}
	secret, err := m.secret(r)
	if err != nil {
		return nil, err
	}
	step, ok := m.matchStep(secret, norm)
	if !ok {
		return nil, ErrInvalidOTP
	}
	codes, hashes, err := m.newRecoveryCodes(userID)
	if err != nil {
		return nil, err
	}
	err = m.store.ConfirmTOTP(ctx, userID, step, m.now().UTC(), hashes)
	if errors.Is(err, store.ErrUsed) {
		return nil, ErrInvalidOTP
	}
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// Verify checks a second factor of userID: a TOTP code (once per step)
// or a recovery code (once). uses is the enrolment's Uses the pending
// sign-in was made at (see TOTPRecord.Uses); a negative value takes the
// current one (a signed-in user's own action). method is AMROTP for a code,
// "recovery" for a recovery code. Every failure is ErrInvalidOTP,
// ErrMFANotEnrolled, or a store error.
func (m *MFA) Verify(ctx context.Context, userID, input string, uses int64) (method string, err error) {
	r, err := m.Status(ctx, userID)
	if err != nil {
		return "", err
	}
	if r == nil || !r.Confirmed() {
		return "", ErrMFANotEnrolled
	}
	if uses < 0 {
		uses = r.Uses
	}
	if uses != r.Uses {
		return "", ErrInvalidOTP
	}
	kind, norm := ParseOTPInput(input)
	switch kind {
	case OTPKindTOTP:
		secret, err := m.secret(r)
		if err != nil {
			return "", err
		}
		step, ok := m.matchStep(secret, norm)
		// A step at or before the last accepted one is a replay (or an
		// older code of the same window): refused, RFC 6238 §5.2 "MUST
		// NOT accept the second attempt of the same OTP".
		if !ok || step <= r.LastStep {
			return "", ErrInvalidOTP
		}
		if err := m.store.AcceptTOTP(ctx, userID, step, uses); err != nil {
			if errors.Is(err, store.ErrUsed) {
				return "", ErrInvalidOTP
			}
			return "", err
		}
		return AMROTP, nil
	case OTPKindRecovery:
		err := m.store.UseRecoveryCode(ctx, userID, recoveryHash(userID, norm), uses, m.now().UTC())
		if errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrNotFound) {
			return "", ErrInvalidOTP
		}
		if err != nil {
			return "", err
		}
		return MethodRecovery, nil
	}
	return "", ErrInvalidOTP
}

// MethodRecovery is Verify's method for a recovery code (its amr is
// still "otp": RFC 8176 has no value for it, and it is a one-time code).
const MethodRecovery = "recovery"

// Disable removes the user's TOTP after a current code (or a recovery
// code): a stolen session alone cannot turn the second factor off.
func (m *MFA) Disable(ctx context.Context, userID, code string) error {
	if _, err := m.Verify(ctx, userID, code, -1); err != nil {
		return err
	}
	return m.store.DeleteTOTP(ctx, userID)
}

// EndPending ends every pending sign-in of the user (their OTP lockout).
func (m *MFA) EndPending(ctx context.Context, userID string) error {
	return m.store.BumpTOTPUses(ctx, userID)
}

// recoveryEncoding is RFC 4648 base32 without padding.
var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func (m *MFA) newRecoveryCodes(userID string) (codes []string, hashes [][]byte, err error) {
	for range RecoveryCodeCount {
		b := make([]byte, recoveryCodeBytes)
		if _, err := io.ReadFull(m.rand, b); err != nil {
			return nil, nil, fmt.Errorf("identity: random: %w", err)
		}
		s := recoveryEncoding.EncodeToString(b)
		codes = append(codes, s[0:4]+"-"+s[4:8]+"-"+s[8:12]+"-"+s[12:16])
		hashes = append(hashes, recoveryHash(userID, s))
	}
	return codes, hashes, nil
}

// recoveryHash is the stored form of a normalized recovery code. SHA-256
// (not argon2id) is enough: a code has 80 random bits, so an attacker
// holding the hash cannot search the code space, which is what a slow
// hash protects low-entropy passwords from. The user id separates equal
// codes of two users.
func recoveryHash(userID, norm string) []byte {
	h := sha256.New()
	h.Write([]byte("rampart recovery code v1\x00" + userID + "\x00" + norm))
	return h.Sum(nil)
}
