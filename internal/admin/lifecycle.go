package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/store"
)

// The credential lifecycle of issue 13 ("lifecycle2"): an administrator's
// password reset, the username lookup the CLI needs, and disabling a
// stored client.

// ResetPassword sets a user's password to one the administrator chose
// (identity.CheckPassword applies) and makes the user choose their own at
// the next sign-in (the password has been seen by someone else: NIST SP
// 800-63B §6.1.2.3). It then ends everything the user holds — sessions,
// refresh-token families, live access tokens — through the shared
// oauth.AccessEnder with reason "password_reset" (whoever had the old
// password keeps nothing: RFC 9700 §4.14.2), and records
// user.password_reset. An administrator cannot reset their own password
// here: they change it on the account page, which asks for the current
// one (a stolen admin token alone must not set a new password).
func (s *Service) ResetPassword(ctx context.Context, actor, userID, newPassword string) (Ended, error) {
	if s.o.Users == nil || s.o.Ender == nil {
		// Checked before the password changes: a reset that could not end
		// the old access must not happen halfway.
		return Ended{}, ErrUnavailable
	}
	if actor == "user:"+userID {
		return Ended{}, conflict(errors.New("an administrator cannot reset their own password; change it on the account page"))
	}
	if err := identity.CheckPassword(newPassword); err != nil {
		return Ended{}, invalid(err)
	}
	if err := s.o.Users.ResetPassword(ctx, userID, newPassword); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Ended{}, notFound(fmt.Errorf("no user %s", userID))
		}
		return Ended{}, err
	}
	// The new hash is stored first: a sign-in with the old password racing
	// with this call fails from here on, so what endAccess ends cannot be
	// re-created with the old password.
	ended, err := s.endAccess(ctx, actor, userID, "password_reset")
	if err != nil {
		return ended, err
	}
	d := ended.details()
	d["must_change_password"] = "true"
	return ended, s.record(ctx, actor, audit.ActionPasswordReset, "user:"+userID, d)
}

// GetUserByName returns one user by username (exact, after the sign-in
// normalization): the CLI's --username.
func (s *Service) GetUserByName(ctx context.Context, username string) (UserView, error) {
	if s.o.Users == nil {
		return UserView{}, ErrUnavailable
	}
	if _, err := identity.NormalizeUsername(username); err != nil {
		return UserView{}, invalid(err)
	}
	u, err := s.o.Users.ByUsername(ctx, username)
	if errors.Is(err, store.ErrNotFound) {
		return UserView{}, notFound(fmt.Errorf("no user %s", username))
	}
	if err != nil {
		return UserView{}, err
	}
	return ViewUser(u), nil
}

// DisableClient disables a stored client: from the moment the flag is set
// the registry refuses it at every endpoint (oauth.Registry.Get). It then
// revokes every refresh-token family of the client, denies their live
// access tokens everywhere (oauth.Revoker: the store and the shared deny
// list) and deletes its pending authorization codes, device codes and
// PAR requests, so nothing issued before the disable works after it, even
// once the client is enabled again (RFC 9700 §4.14.2). It records
// client.disable. A configuration-file client is refused (change the
// file). Disabling a disabled client revokes again (nothing is left) and
// answers the same.
func (s *Service) DisableClient(ctx context.Context, actor, id string) (int, error) {
	if s.o.Clients == nil || s.o.Configured == nil || s.o.Revoker == nil {
		return 0, ErrUnavailable
	}
	if s.o.Configured.IsConfigured(id) {
		return 0, conflict(fmt.Errorf("client %s is defined in the configuration file; remove or change it there", id))
	}
	now := s.o.Now().UTC()
	if err := s.o.Clients.SetClientDisabled(ctx, id, true, now); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, notFound(fmt.Errorf("no client %s", id))
		}
		return 0, err
	}
	// The flag first: a token request racing with this call is refused
	// from here on, so what RevokeClient revokes cannot be re-issued.
	tokens, err := s.o.Clients.RevokeClient(ctx, id, now)
	if err != nil {
		return 0, fmt.Errorf("client disabled, but revoking its tokens failed (run it again): %w", err)
	}
	if err := s.o.Revoker.Revoke(ctx, tokens); err != nil {
		return 0, fmt.Errorf("client disabled, but denying its access tokens failed (run it again): %w", err)
	}
	if err := s.record(ctx, actor, audit.ActionClientDisable, "client:"+id, map[string]string{"revoked_access_tokens": fmt.Sprint(len(tokens))}); err != nil {
		return 0, err
	}
	return len(tokens), nil
}

// EnableClient clears a stored client's disabled flag; it records
// client.enable. What the disable revoked stays revoked.
func (s *Service) EnableClient(ctx context.Context, actor, id string) error {
	if s.o.Clients == nil || s.o.Configured == nil {
		return ErrUnavailable
	}
	if s.o.Configured.IsConfigured(id) {
		return conflict(fmt.Errorf("client %s is defined in the configuration file; change it there", id))
	}
	if err := s.o.Clients.SetClientDisabled(ctx, id, false, s.o.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound(fmt.Errorf("no client %s", id))
		}
		return err
	}
	return s.record(ctx, actor, audit.ActionClientEnable, "client:"+id, nil)
}
