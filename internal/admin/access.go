package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store"
)

// Ended is what ending a user's access took away.
type Ended struct {
	Sessions            int64 `json:"sessions_ended"`
	RevokedAccessTokens int   `json:"revoked_access_tokens"`
}

func (e Ended) details() map[string]string {
	return map[string]string{"sessions_ended": fmt.Sprint(e.Sessions), "revoked_access_tokens": fmt.Sprint(e.RevokedAccessTokens)}
}

// UserAccessEnder ends every session, refresh-token family and live access
// token of a user, and records it (oauth.AccessEnder: the one step a
// password change, a password reset and disabling a user share).
type UserAccessEnder interface {
	EndUserAccess(ctx context.Context, actor, userID, reason string) (oauth.EndedAccess, error)
}

// endAccess ends everything the user holds through the shared
// oauth.AccessEnder (which records session.end and user.access_end).
func (s *Service) endAccess(ctx context.Context, actor, userID, reason string) (Ended, error) {
	if s.o.Ender == nil {
		return Ended{}, ErrUnavailable
	}
	e, err := s.o.Ender.EndUserAccess(ctx, actor, userID, reason)
	return Ended{Sessions: e.Sessions, RevokedAccessTokens: e.AccessTokens}, err
}

// DisableUser disables a user (sign-in, refresh and userinfo all refuse a
// disabled user) and ends everything they hold; it records user.disable.
// Disabling an already disabled user ends their access again (nothing is
// left to end, but the answer is the same).
func (s *Service) DisableUser(ctx context.Context, actor, id string) (Ended, error) {
	if s.o.Directory == nil {
		return Ended{}, ErrUnavailable
	}
	if actor == "user:"+id {
		// An administrator cannot lock themself out by mistake: another
		// administrator (or the CLI on the store) must do it.
		return Ended{}, conflict(errors.New("an administrator cannot disable their own account"))
	}
	if err := s.o.Directory.SetUserDisabled(ctx, id, true, s.o.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Ended{}, notFound(fmt.Errorf("no user %s", id))
		}
		return Ended{}, err
	}
	// The flag is set first: a sign-in racing with this call is refused
	// from here on, so what endAccess ends cannot be re-created.
	ended, err := s.endAccess(ctx, actor, id, "user_disabled")
	if err != nil {
		return ended, err
	}
	return ended, s.record(ctx, actor, audit.ActionUserDisable, "user:"+id, ended.details())
}

// EnableUser clears a user's disabled flag; it records user.enable.
func (s *Service) EnableUser(ctx context.Context, actor, id string) error {
	if s.o.Directory == nil {
		return ErrUnavailable
	}
	if err := s.o.Directory.SetUserDisabled(ctx, id, false, s.o.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound(fmt.Errorf("no user %s", id))
		}
		return err
	}
	return s.record(ctx, actor, audit.ActionUserEnable, "user:"+id, nil)
}

// EndUserSessions ends every browser session of a user (their tokens are
// left alone: a client keeps working until the user's next sign-in is
// needed); it records user.sessions_end.
func (s *Service) EndUserSessions(ctx context.Context, actor, id string) (int64, error) {
	if s.o.Sessions == nil {
		return 0, ErrUnavailable
	}
	if _, err := s.user(ctx, id); err != nil {
		return 0, err
	}
	n, err := s.o.Sessions.DeleteUserSessions(ctx, id)
	if err != nil {
		return 0, err
	}
	return n, s.record(ctx, actor, audit.ActionUserSessionsEnd, "user:"+id, map[string]string{"sessions_ended": fmt.Sprint(n)})
}

// SetUserRole gives a user another role ("" or "admin") and ends their
// browser sessions, so the next sign-in starts a new session with the new
// privilege (OWASP Session Management Cheat Sheet, "Renew the Session ID
// After Any Privilege Level Change"); it records user.role_change. The
// admin API reads the role on every call, so a demotion also ends API
// access at once.
func (s *Service) SetUserRole(ctx context.Context, actor, id, role string) (int64, error) {
	if s.o.Directory == nil || s.o.Sessions == nil {
		return 0, ErrUnavailable
	}
	if role != identity.RoleUser && role != identity.RoleAdmin {
		return 0, invalid(fmt.Errorf("role %q is not a role; use admin or user", role))
	}
	if actor == "user:"+id {
		return 0, conflict(errors.New("an administrator cannot change their own role"))
	}
	u, err := s.user(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := s.o.Directory.SetUserRole(ctx, id, role, s.o.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, notFound(fmt.Errorf("no user %s", id))
		}
		return 0, err
	}
	n, err := s.o.Sessions.DeleteUserSessions(ctx, id)
	if err != nil {
		return 0, err
	}
	return n, s.record(ctx, actor, audit.ActionUserRoleChange, "user:"+id,
		map[string]string{"from": roleName(u.Role), "to": roleName(role), "sessions_ended": fmt.Sprint(n)})
}

func roleName(r string) string {
	if r == identity.RoleUser {
		return "user"
	}
	return r
}
