package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/store"
)

// Roles.
const (
	RoleUser  = ""
	RoleAdmin = "admin"
)

// ErrInvalidCredentials is the one answer to a failed login, whether the
// user is unknown, disabled or the password wrong (OWASP Authentication
// Cheat Sheet, "Authentication and Error Messages").
var ErrInvalidCredentials = errors.New("identity: invalid username or password")

// MinPasswordLength follows NIST SP 800-63B §3.1.1.2 (at least 8; we ask 12
// because these accounts can grant tokens to other systems).
const MinPasswordLength = 12

// NormalizeUsername lowercases and trims a username and checks its syntax:
// 1 to 64 characters from a-z 0-9 . _ - @ +. Usernames compare
// case-insensitively, so "Alice" and "alice" are one account.
func NormalizeUsername(s string) (string, error) {
	u := strings.ToLower(strings.TrimSpace(s))
	if u == "" || len(u) > 64 {
		return "", errors.New("identity: a username has 1 to 64 characters")
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@' || c == '+') {
			return "", errors.New("identity: a username uses only letters, digits and . _ - @ +")
		}
	}
	return u, nil
}

// CheckPassword enforces the password policy of NIST SP 800-63B §3.1.1.2:
// a minimum length, a maximum well above it, valid UTF-8, no composition
// rules.
func CheckPassword(p string) error {
	switch {
	case !utf8.ValidString(p):
		return errors.New("identity: the password is not valid UTF-8")
	case utf8.RuneCountInString(p) < MinPasswordLength:
		return fmt.Errorf("identity: the password needs at least %d characters", MinPasswordLength)
	case len(p) > MaxPasswordBytes:
		return fmt.Errorf("identity: the password is longer than %d bytes", MaxPasswordBytes)
	}
	return nil
}

// Auditor records an audit event durably (audit.Log).
type Auditor interface {
	Record(ctx context.Context, e audit.Event) error
}

// Users creates and authenticates users.
type Users struct {
	store  Store
	hasher *Hasher
	audit  Auditor
	now    func() time.Time
	rand   io.Reader
}

// NewUsers returns the user service. Every user it creates is recorded in
// al (user.create); al may be nil only for a service that never creates a
// user (Create then fails). now and rnd may be nil (time.Now, crypto/rand).
func NewUsers(s Store, h *Hasher, al Auditor, now func() time.Time, rnd io.Reader) *Users {
	if now == nil {
		now = time.Now
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	return &Users{store: s, hasher: h, audit: al, now: now, rand: rnd}
}

// NewUser is a user to create.
type NewUser struct {
	// Actor is who creates the user, for the audit trail ("cli:<os user>",
	// "system", "user:<id>").
	Actor    string
	Username string
	Password string
	Role     string
	// Dev marks the dev-mode admin in the audit event.
	Dev bool
	// MustChangePassword makes the user choose a new password at the
	// first sign-in (User.MustChangePassword).
	MustChangePassword bool
}

// NewID returns a random 128-bit identifier in base64url (22 characters).
func NewID(rnd io.Reader) (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return "", fmt.Errorf("identity: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Create makes a user with a hashed password and records user.create
// before it returns; a user whose creation could not be recorded is still
// stored, and the error says so. A taken username is store.ErrConflict.
func (u *Users) Create(ctx context.Context, nu NewUser) (*User, error) {
	if u.audit == nil {
		return nil, errors.New("identity: internal error: no audit log to record the new user in")
	}
	username, password, role := nu.Username, nu.Password, nu.Role
	name, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	if role != RoleUser && role != RoleAdmin {
		return nil, fmt.Errorf("identity: %q is not a role; use admin or leave it out", role)
	}
	hash, err := u.hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	id, err := NewID(u.rand)
	if err != nil {
		return nil, err
	}
	now := u.now().UTC()
	user := &User{ID: id, Username: name, PasswordHash: hash, Role: role, MustChangePassword: nu.MustChangePassword, CreatedAt: now, UpdatedAt: now}
	if err := u.store.CreateUser(ctx, user); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("identity: the username %q is taken: %w", name, store.ErrConflict)
		}
		return nil, err
	}
	details := map[string]string{"role": role}
	if nu.Dev {
		details["dev"] = "true"
	}
	if err := u.audit.Record(ctx, audit.Event{Actor: nu.Actor, Action: audit.ActionUserCreate, Target: "user:" + user.ID,
		Outcome: audit.OutcomeSuccess, Details: details}); err != nil {
		return user, fmt.Errorf("identity: user %s created, but recording it in the audit log failed: %w", user.ID, err)
	}
	return user, nil
}

// Authenticate checks a username and password. Every failure is
// ErrInvalidCredentials after the same argon2id work: an unknown username
// runs a dummy verification, so neither the answer nor its timing tells
// whether the account exists. A hash with outdated parameters is replaced
// after a successful check (rehash on login). Other errors (store down,
// context ended while queued for a hashing slot) are returned as they are.
func (u *Users) Authenticate(ctx context.Context, username, password string) (*User, error) {
	name, nerr := NormalizeUsername(username)
	var user *User
	if nerr == nil {
		var err error
		user, err = u.store.UserByUsername(ctx, name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if user == nil || len(password) > MaxPasswordBytes {
		u.hasher.VerifyDummy(ctx, password)
		return nil, ErrInvalidCredentials
	}
	ok, rehash, err := u.hasher.Verify(ctx, password, user.PasswordHash)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrInvalidCredentials
	}
	if !ok || user.Disabled {
		return nil, ErrInvalidCredentials
	}
	if rehash {
		if h, err := u.hasher.Hash(ctx, password); err == nil {
			// A failed upgrade is not a failed login; the next login retries.
			_ = u.store.UpdatePasswordHash(ctx, user.ID, h, u.now().UTC())
		}
	}
	return user, nil
}

// ByID returns a user.
func (u *Users) ByID(ctx context.Context, id string) (*User, error) { return u.store.UserByID(ctx, id) }

// ByUsername returns a user by username (normalized as at sign-in);
// store.ErrNotFound if there is none.
func (u *Users) ByUsername(ctx context.Context, username string) (*User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return nil, err
	}
	return u.store.UserByUsername(ctx, name)
}

// ResetPassword replaces a user's password with one an administrator
// chose, after CheckPassword, and sets MustChangePassword: the password
// has been seen by someone other than its user, so the user must choose
// their own at the next sign-in (NIST SP 800-63B §6.1.2.3, OWASP
// Forgot Password Cheat Sheet). Recording the reset and ending the user's
// access are the caller's steps (admin.ResetPassword).
func (u *Users) ResetPassword(ctx context.Context, userID, next string) error {
	if err := CheckPassword(next); err != nil {
		return err
	}
	if _, err := u.store.UserByID(ctx, userID); err != nil {
		return err
	}
	hash, err := u.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	return u.store.SetPassword(ctx, userID, hash, true, u.now().UTC())
}

// Count returns how many users exist.
func (u *Users) Count(ctx context.Context) (int, error) { return u.store.CountUsers(ctx) }

// ErrSamePassword refuses a "new" password equal to the current one: a
// forced change (User.MustChangePassword) must replace the password.
var ErrSamePassword = errors.New("identity: the new password must differ from the current one")

// ChangePassword replaces the user's password after checking the current
// one (ErrInvalidCredentials when wrong: a stolen session alone cannot
// take over the account, OWASP Authentication Cheat Sheet, "Change
// Password Feature"), applies CheckPassword to the new one, clears
// MustChangePassword and records user.password_change. Ending the user's
// other access is the caller's step (oauth.AccessEnder.EndUserAccess).
func (u *Users) ChangePassword(ctx context.Context, userID, current, next string) error {
	if u.audit == nil {
		return errors.New("identity: internal error: no audit log to record the change in")
	}
	user, err := u.store.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	if len(current) > MaxPasswordBytes {
		u.hasher.VerifyDummy(ctx, current)
		return ErrInvalidCredentials
	}
	ok, _, err := u.hasher.Verify(ctx, current, user.PasswordHash)
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil || !ok || user.Disabled {
		return ErrInvalidCredentials
	}
	if err := CheckPassword(next); err != nil {
		return err
	}
	if next == current {
		return ErrSamePassword
	}
	hash, err := u.hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	if err := u.store.SetPassword(ctx, userID, hash, false, u.now().UTC()); err != nil {
		return err
	}
	details := map[string]string{}
	if user.MustChangePassword {
		details["forced"] = "true"
	}
	return u.audit.Record(ctx, audit.Event{Actor: "user:" + userID, Action: audit.ActionPasswordChange, Target: "user:" + userID,
		Outcome: audit.OutcomeSuccess, Details: details})
}
