package oauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/store"
)

// Device grant errors (RFC 8628 §3.5).
const (
	ErrAuthorizationPending = "authorization_pending"
	ErrSlowDown             = "slow_down"
	ErrExpiredToken         = "expired_token"
)

// devicePoller is what the device grant needs of the store.
type devicePoller interface {
	// PollDevice records a token request for the code with hash by client
	// at now and returns the request as it is after the poll. When the
	// previous poll was less than the interval ago, the interval grows by
	// step (persisted) and slow is true. A request of another client is
	// returned unchanged (the caller refuses it). store.ErrNotFound if
	// there is no such code.
	PollDevice(ctx context.Context, hash []byte, clientID string, now time.Time, step time.Duration) (d *DeviceCode, slow bool, err error)
	// RedeemDevice marks the approved request redeemed and creates family
	// f (f.CodeHash = hash, client and user from the request) in one
	// transaction. When it was already redeemed it returns store.ErrUsed
	// and changes nothing (the caller revokes with RevokeCodeFamily);
	// store.ErrNotFound when there is no approved request with the hash.
	RedeemDevice(ctx context.Context, hash []byte, f *Family, now time.Time) (*DeviceCode, error)
	// RevokeCodeFamily revokes the family made from the code (codeRedeemer).
	RevokeCodeFamily(ctx context.Context, codeHash []byte, now time.Time) ([]IssuedAccess, error)
}

// deviceGrant is RFC 8628 §3.4: the device polls with its device_code
// until the user decided; an approved request is exchanged for the user's
// tokens once, starting a new family.
type deviceGrant struct {
	devices   devicePoller
	families  familyRevoker
	users     userFinder
	mint      *tokenIssuer
	revoker   Revoker
	trail     auditTrail
	now       func() time.Time
	rand      io.Reader
	familyTTL time.Duration
}

// errBadDeviceCode is the one answer for a device code that is unknown,
// another client's or already redeemed.
const errBadDeviceCode = "the device_code is invalid or already used"

func (g *deviceGrant) grant(r *http.Request, c *Client, req *TokenRequest) (*tokenResponse, *Error) {
	ctx := r.Context()
	if !c.Allows(GrantDeviceCode) {
		return nil, oerr(ErrUnauthorizedClient, "the client may not use this grant")
	}
	if req.DeviceCode == "" || len(req.DeviceCode) > 128 {
		return nil, oerr(ErrInvalidRequest, "device_code is required")
	}
	hash := hashToken(req.DeviceCode)
	now := g.now().UTC()
	// Every poll is recorded, so a device that polls sooner than its
	// interval is told to slow down and the interval grows by 5 s for all
	// later polls, on every instance (RFC 8628 §3.5).
	d, slow, err := g.devices.PollDevice(ctx, hash, c.ID, now, DeviceSlowDown)
	if errors.Is(err, store.ErrNotFound) {
		g.fail(r, c, "", "unknown_device_code")
		return nil, oerr(ErrInvalidGrant, errBadDeviceCode)
	}
	if err != nil {
		return nil, serverError(err)
	}
	if d.ClientID != c.ID {
		// RFC 8628 §3.4 / RFC 6749 §4.1.3: the code was issued to another
		// client; the poll changed nothing of it.
		g.fail(r, c, d.UserID, "device_code_wrong_client")
		return nil, oerr(ErrInvalidGrant, errBadDeviceCode)
	}
	// A scope on the token request (golang.org/x/oauth2 repeats the
	// configured ones) may only narrow what the user approved (RFC 6749
	// §3.3: never more than was granted).
	scopes := d.Scopes
	if req.ScopeGiven {
		if !subset(req.Scopes, d.Scopes) {
			return nil, oerr(ErrInvalidScope, "the scope exceeds what the device was authorized for")
		}
		scopes = req.Scopes
	}
	switch {
	case !now.Before(d.ExpiresAt):
		return nil, oerr(ErrExpiredToken, "the device_code has expired; start again")
	case !d.RedeemedAt.IsZero():
		return g.replay(r, c, d, hash, now)
	case d.Status == DeviceDenied:
		g.fail(r, c, d.UserID, "user_denied")
		return nil, oerr(ErrAccessDenied, "the user denied the request")
	case d.Status == DevicePending && slow:
		// The raised interval is a state change and evidence of a client
		// ignoring it: audited. A poll on time only moves the last-poll
		// time and is not (one event per device every 5 s would bury the
		// trail).
		g.fail(r, c, "", "slow_down")
		return nil, oerr(ErrSlowDown, "poll every %d s", int64(d.Interval/time.Second))
	case d.Status == DevicePending:
		return nil, oerr(ErrAuthorizationPending, "the user has not decided yet")
	}
	return g.redeem(r, c, hash, scopes, now)
}

// redeem exchanges an approved request for tokens, once.
func (g *deviceGrant) redeem(r *http.Request, c *Client, hash []byte, scopes []string, now time.Time) (*tokenResponse, *Error) {
	ctx := r.Context()
	familyID, err := randomToken(g.rand, 16)
	if err != nil {
		return nil, serverError(err)
	}
	fam := &Family{ID: familyID, ClientID: c.ID, CreatedAt: now, ExpiresAt: now.Add(orDefault(c.RefreshTokenTTL, g.familyTTL))}
	d, err := g.devices.RedeemDevice(ctx, hash, fam, now)
	switch {
	case errors.Is(err, store.ErrUsed):
		return g.replay(r, c, d, hash, now)
	case errors.Is(err, store.ErrNotFound):
		return nil, oerr(ErrInvalidGrant, errBadDeviceCode)
	case err != nil:
		return nil, serverError(err)
	}
	user, err := g.users.ByID(ctx, d.UserID)
	if err != nil || user.Disabled {
		tokens, rerr := g.families.RevokeFamily(ctx, familyID, now)
		if rerr == nil {
			rerr = g.revoker.Revoke(ctx, tokens)
		}
		g.fail(r, c, d.UserID, "user_unavailable")
		if rerr != nil {
			return nil, serverError(rerr)
		}
		return nil, oerr(ErrInvalidGrant, "the user is no longer active")
	}
	resp, e := g.mint.issue(ctx, userGrant{client: c, user: user, familyID: familyID, scopes: scopes, aud: d.Audience,
		authTime: d.AuthTime, amr: d.AMR, now: now, familyExpiry: fam.ExpiresAt, refresh: true})
	if e != nil {
		return nil, e
	}
	if err := g.trail.must(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionToken, Target: "user:" + user.ID, Outcome: audit.OutcomeSuccess,
		Details: bindingDetails(ctx, map[string]string{"grant_type": GrantDeviceCode, "scope": scopeString(scopes), "family": familyID})}); err != nil {
		return nil, serverError(err)
	}
	return resp, nil
}

// replay answers a device code presented after its tokens were issued:
// whoever presents it again holds a copy, so the family issued from it
// is revoked, as for a replayed authorization code (RFC 9700 §4.5).
func (g *deviceGrant) replay(r *http.Request, c *Client, d *DeviceCode, hash []byte, now time.Time) (*tokenResponse, *Error) {
	ctx := r.Context()
	tokens, err := g.devices.RevokeCodeFamily(ctx, hash, now)
	if err == nil {
		err = g.revoker.Revoke(ctx, tokens)
	}
	g.trail.record(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionCodeReplay, Target: "user:" + d.UserID, Outcome: audit.OutcomeFailure,
		Reason: "device_code_reused", Details: map[string]string{"grant_type": GrantDeviceCode, "revoked_access_tokens": itoa(len(tokens))}})
	if err != nil {
		return nil, serverError(err)
	}
	return nil, oerr(ErrInvalidGrant, errBadDeviceCode)
}

// fail records a refused device token request.
func (g *deviceGrant) fail(r *http.Request, c *Client, userID, reason string) {
	target := "client:" + c.ID
	if userID != "" {
		target = "user:" + userID
	}
	g.trail.record(r, audit.Event{Actor: "client:" + c.ID, Action: audit.ActionToken, Target: target, Outcome: audit.OutcomeFailure,
		Reason: reason, Details: map[string]string{"grant_type": GrantDeviceCode}})
}
