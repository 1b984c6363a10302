package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
)

// ValidateUser checks a new user's role, username and password, purely,
// so the CLI refuses a mistake before opening anything.
func ValidateUser(username, password, role string) error {
	if err := ValidateUsername(username, role); err != nil {
		return err
	}
	if err := identity.CheckPassword(password); err != nil {
		return invalid(err)
	}
	return nil
}

// ValidateUsername checks a new user's role and username (the part of
// ValidateUser a command can check before it reads the password).
func ValidateUsername(username, role string) error {
	if role != identity.RoleUser && role != identity.RoleAdmin {
		return invalid(fmt.Errorf("--role %q is not a role; use admin or leave it out", role))
	}
	if _, err := identity.NormalizeUsername(username); err != nil {
		return invalid(err)
	}
	return nil
}

// CreateUser creates a user; identity.Users records user.create.
func (s *Service) CreateUser(ctx context.Context, actor, username, password, role string) (*identity.User, error) {
	if s.o.Users == nil {
		return nil, ErrUnavailable
	}
	if err := ValidateUser(username, password, role); err != nil {
		return nil, err
	}
	u, err := s.o.Users.Create(ctx, identity.NewUser{Actor: actor, Username: username, Password: password, Role: role})
	if errors.Is(err, store.ErrConflict) {
		return nil, conflict(fmt.Errorf("user %s already exists", strings.ToLower(username)))
	}
	return u, err
}

// DevAdminName is the user dev mode creates.
const DevAdminName = "admin"

// EnsureDevAdmin creates the dev-mode admin with a one-time random
// password when the store has no user yet, and returns that password
// (empty when a user existed). It is for `rampart serve --dev` only: the
// password is printed once and never stored in clear.
func EnsureDevAdmin(ctx context.Context, users *identity.Users) (string, error) {
	n, err := users.Count(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	// The one-time password has a client secret's strength (256 bits).
	pw, err := oauth.GenerateSecret(rand.Reader)
	if err != nil {
		return "", err
	}
	if _, err := users.Create(ctx, identity.NewUser{Actor: "system", Username: DevAdminName, Password: pw, Role: identity.RoleAdmin, Dev: true,
		// The printed one-time password must be replaced at the first
		// sign-in: it has been on a terminal and maybe in a log.
		MustChangePassword: true}); err != nil {
		return "", err
	}
	return pw, nil
}

// RotateKey publishes a new signing key; keys.Manager records key.rotate.
func (s *Service) RotateKey(ctx context.Context, actor string) (keys.KeyInfo, error) {
	if s.o.Keys == nil {
		return keys.KeyInfo{}, ErrUnavailable
	}
	k, err := s.o.Keys.Rotate(ctx, actor)
	if errors.Is(err, keys.ErrRotationPending) {
		return k, conflict(err)
	}
	return k, err
}

// RevokeKey revokes a signing key at once; keys.Manager records
// key.revoke (and the replacement's events).
func (s *Service) RevokeKey(ctx context.Context, actor, kid string) (keys.Revocation, error) {
	if s.o.Keys == nil {
		return keys.Revocation{}, ErrUnavailable
	}
	if err := ValidateKID(kid); err != nil {
		return keys.Revocation{}, err
	}
	rev, err := s.o.Keys.Revoke(ctx, actor, kid)
	if errors.Is(err, keys.ErrUnknownKey) {
		return rev, notFound(err)
	}
	return rev, err
}

// ValidateKID refuses an empty key id.
func ValidateKID(kid string) error {
	if kid == "" {
		return invalid(errors.New("key revoke needs the KID of a key (see `rampart key list`)"))
	}
	return nil
}
