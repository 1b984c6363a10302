package oauth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
)

// UserSessionDeleter ends every browser session of a user
// (identity.Sessions, or the identity store itself).
type UserSessionDeleter interface {
	DeleteUserSessions(ctx context.Context, userID string) (int64, error)
}

// UserTokenRevoker revokes every refresh-token family a user holds, with
// every client, and returns the live access tokens to deny
// (sqlstore.OAuthStore).
type UserTokenRevoker interface {
	RevokeUser(ctx context.Context, userID string, now time.Time) ([]IssuedAccess, error)
}

// EventRecorder records an audit event durably (audit.Log).
type EventRecorder interface {
	Record(ctx context.Context, e audit.Event) error
}

// AccessEnder ends every access a user holds: the one step behind a
// password change, an administrator's password reset and disabling a
// user (what a compromised credential left behind must be nothing: OWASP
// Session Management Cheat Sheet, "Renew the Session ID After Any
// Privilege Level Change", and RFC 9700 §4.14.2 on revoking refresh
// tokens when the credential that granted them is withdrawn).
type AccessEnder struct {
	Sessions UserSessionDeleter
	Tokens   UserTokenRevoker
	Revoker  Revoker // denies the families' live access tokens on every list
	Audit    EventRecorder
	Now      func() time.Time // nil: time.Now
}

// EndedAccess is what EndUserAccess ended.
type EndedAccess struct {
	Sessions     int64 // browser sessions deleted
	AccessTokens int   // live access tokens denied (their families revoked)
}

// EndUserAccess deletes every session of the user, revokes every
// refresh-token family they hold and denies those families' live access
// tokens, then records session.end and user.access_end with actor and
// reason ("password_change", "password_reset", "user_disabled"). It
// stops at the first failure and returns it: the caller must not report
// success for a partial end (a retry is safe, every step is idempotent).
func (a AccessEnder) EndUserAccess(ctx context.Context, actor, userID, reason string) (EndedAccess, error) {
	var out EndedAccess
	if a.Sessions == nil || a.Tokens == nil || a.Audit == nil {
		return out, errors.New("oauth: access ender without its stores")
	}
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	n, err := a.Sessions.DeleteUserSessions(ctx, userID)
	if err != nil {
		return out, fmt.Errorf("oauth: end sessions: %w", err)
	}
	out.Sessions = n
	if err := a.Audit.Record(ctx, audit.Event{Actor: actor, Action: audit.ActionSessionEnd, Target: "user:" + userID, Outcome: audit.OutcomeSuccess,
		Reason: reason, Details: map[string]string{"sessions": strconv.FormatInt(n, 10), "scope": "all"}}); err != nil {
		return out, err
	}
	tokens, err := a.Tokens.RevokeUser(ctx, userID, now().UTC())
	if err != nil {
		return out, fmt.Errorf("oauth: revoke user's tokens: %w", err)
	}
	if err := a.Revoker.Revoke(ctx, tokens); err != nil {
		return out, err
	}
	out.AccessTokens = len(tokens)
	if err := a.Audit.Record(ctx, audit.Event{Actor: actor, Action: audit.ActionUserAccessEnd, Target: "user:" + userID, Outcome: audit.OutcomeSuccess,
		Reason: reason, Details: map[string]string{"sessions": strconv.FormatInt(n, 10), "access_tokens_denied": strconv.Itoa(len(tokens))}}); err != nil {
		return out, err
	}
	return out, nil
}
