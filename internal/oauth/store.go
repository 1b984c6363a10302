package oauth

import (
	"context"
	"time"
)

// Client is a registered OAuth client. Clients from the configuration file
// live in memory only; clients made with `rampart client create` are rows
// in the store. The registry serves both (config first).
type Client struct {
	ID string
	// SecretHash verifies a confidential client's secret: "hmac-sha256$"
	// followed by the unpadded base64url HMAC-SHA-256 of the secret under a
	// key derived from the master key (generated secrets), or an argon2id
	// PHC string (secret_hash in the configuration). Empty for public
	// clients.
	SecretHash string
	Public     bool
	// GrantTypes, RedirectURIs, Scopes and Audience are allowlists; an
	// empty list allows nothing (deny by default).
	GrantTypes   []string
	RedirectURIs []string
	Scopes       []string
	Audience     []string
	// SkipConsent: a first-party client whose users are not asked.
	SkipConsent bool
	// RequireMFA: every authorization needs a sign-in with the second
	// factor (amr otp); a session without it steps up.
	RequireMFA bool
	// ResourceServer lets the client introspect every token, not only
	// those whose audience includes its id.
	ResourceServer bool
	// RequireDPoP: the client's token requests must carry a DPoP proof
	// (RFC 9449 §5), so every access token it gets is sender-constrained.
	RequireDPoP bool
	// CertificateBoundAccessTokens: the client's token requests must come
	// over the mTLS endpoint alias with a valid X509-SVID, so every access
	// token it gets is bound to the certificate (RFC 8705 §3.4,
	// tls_client_certificate_bound_access_tokens). Configured clients only.
	CertificateBoundAccessTokens bool
	// Token lifetimes; zero means the server default.
	AccessTokenTTL      time.Duration
	RefreshTokenTTL     time.Duration
	RefreshTokenIdleTTL time.Duration
	// parjwt: AuthMethod is the token_endpoint_auth_method
	// (config.AuthMethod*); "" is the default of the client's kind (a
	// secret in Basic or the form, or none for a public client). JWKS (an
	// inline JWK Set, JSON) or JWKSURI holds a private_key_jwt client's
	// public keys (RFC 7523 §3). RequirePAR: its authorization requests
	// must be pushed (RFC 9126 §6).
	AuthMethod string
	JWKS       []byte
	JWKSURI    string
	RequirePAR bool
	// What pages show of the client (consent, device, account): a
	// display name and https links to its logo, privacy policy and terms.
	DisplayName string
	LogoURI     string
	PolicyURI   string
	TOSURI      string
	// PostLogoutRedirectURIs are where RP-initiated logout may send the
	// browser afterwards, matched exactly (logout_rp.go).
	PostLogoutRedirectURIs []string
	// fapi: Profile is "" or config.ProfileFAPI2 (fapi.go: what the FAPI
	// 2.0 Security Profile changes at run time).
	Profile string
	// Disabled: an administrator disabled the stored client (`rampart
	// client disable`); the registry refuses it everywhere (client.go).
	Disabled bool
	// Source is "config" or "cli".
	Source    string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AuthCode is an issued authorization code, stored by the SHA-256 of the
// code (the code itself is never stored).
type AuthCode struct {
	Hash          []byte // SHA-256 of the code, 32 bytes
	ClientID      string
	UserID        string
	RedirectURI   string
	CodeChallenge string // S256 challenge (base64url, 43 chars)
	Scopes        []string
	Audience      []string // the audience the access token will carry
	Nonce         string
	// DPoPJKT is the authorization request's dpop_jkt (RFC 9449 §10): the
	// code is redeemed only with a proof of that key. "" for none.
	DPoPJKT  string
	AuthTime time.Time
	// AMR are the RFC 8176 methods of the sign-in ("pwd", "otp").
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Family groups every token that descends from one authorization code (or
// one first refresh token): revoking it revokes them all (RFC 9700 §4.14.2,
// RFC 6749 §4.1.2).
type Family struct {
	ID        string
	ClientID  string
	UserID    string
	CodeHash  []byte // the code it came from; nil if none
	CreatedAt time.Time
	ExpiresAt time.Time // absolute end of every refresh token in it
	RevokedAt time.Time // zero while not revoked
}

// RefreshToken is an issued refresh token, stored by the SHA-256 of the
// token.
type RefreshToken struct {
	Hash      []byte // SHA-256 of the token, 32 bytes
	FamilyID  string
	ClientID  string
	UserID    string
	Scopes    []string
	Audience  []string
	AuthTime  time.Time
	AMR       []string // the sign-in's RFC 8176 methods, kept across rotation
	CreatedAt time.Time
	ExpiresAt time.Time // idle expiry, never after the family's ExpiresAt
	UsedAt    time.Time // zero until rotated
	RevokedAt time.Time // zero unless revoked (its own or its family's)
	// JKT binds a public client's refresh token to a DPoP key (RFC 9449
	// §5): it is redeemed only with a proof of that key. "" for none.
	JKT string
	// X5T binds a public client's refresh token to a client certificate
	// (RFC 8705 §4): the base64url SHA-256 thumbprint of the certificate
	// of the mutual-TLS token request it was issued on; it is redeemed
	// only over mutual TLS with that certificate. "" for none.
	X5T string
	// FamilyExpiresAt is read only: the family's ExpiresAt, filled in by
	// GetRefresh and RotateRefresh (a join), ignored by SaveRefresh.
	FamilyExpiresAt time.Time
}

// IssuedAccess is an access token recorded in a family, so that revoking
// the family can deny its jti until it expires.
type IssuedAccess struct {
	JTI       string
	ExpiresAt time.Time
}

// Consent is what a user allowed a client: every scope in Scopes for
// every resource server in Audience (the client's configured audiences the
// consent page named). A request is covered only when both contain all it
// asks for. Consents remembered before Audience existed (migration 0003)
// have none: they cover only requests for no configured resource.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	Audience  []string
	GrantedAt time.Time
}

// Store is everything the server needs from storage; each part consumes
// only its slice, an interface defined next to it. Every method is atomic
// on its own. Implementations must keep each method's contract under
// concurrent calls from several processes (a fleet on PostgreSQL).
type Store interface {
	ClientGetter  // Registry (client.go)
	clientAdmin   // the CLI's client commands (below)
	clientDeleter // `rampart client delete` (below)
	codeSaver     // the authorization endpoint (authorize.go)
	consentStore  // the consent decision (authorize.go)
	accountStore  // the account page (login.go)

	codeRedeemer   // the authorization_code grant (grant_code.go)
	refreshRotator // the refresh_token grant (grant_refresh.go)
	refreshKeeper  // the refresh_token grant without rotation (fapi.go)
	grantRecorder  // minting in a family (issue.go)
	familyRevoker  // the grants and revocation (grant.go)
	refreshReader  // revocation and introspection (revoke.go)

	DenyStore   // Revoker (revoker.go)
	denyChecker // the server's own token verifier (mint.go)

	assertionIDStore // private_key_jwt jti (clientauth_jwt.go)
	parStore         // pushed authorization requests (par.go)

	familyCreator // families without a code (below)
	deviceSaver   // the device authorization endpoint (device_authorize.go)
	deviceDecider // the device page (device_page.go)
	devicePoller  // the device_code grant (grant_device_code.go)
	purger        // the purge loop (below)

	UserTokenRevoker // ending a user's access (access_end.go)
}

// clientAdmin manages the clients made with the CLI (`rampart client
// create`, `list`, `rotate-secret`).
type clientAdmin interface {
	CreateClient(ctx context.Context, c *Client) error // store.ErrConflict if the id exists
	ListClients(ctx context.Context) ([]Client, error) // ordered by id
	// UpdateClientSecret replaces the secret hash; store.ErrNotFound if
	// there is no such client.
	UpdateClientSecret(ctx context.Context, id, secretHash string, now time.Time) error
}

// clientDeleter deletes a client made with the CLI with all it holds.
type clientDeleter interface {
	// DeleteClient removes the client and revokes (as RevokeFamily does)
	// every family of it, deletes its codes and consents, and returns the
	// access tokens to deny. store.ErrNotFound if there is no such client.
	DeleteClient(ctx context.Context, id string, now time.Time) ([]IssuedAccess, error)
}

// familyCreator starts a family not made from a code.
type familyCreator interface {
	// CreateFamily stores a family not made from a code.
	CreateFamily(ctx context.Context, f *Family) error
}

// purger removes what expired (the server's purge loop).
type purger interface {
	// PurgeExpired deletes codes, refresh tokens, families and deny-list
	// entries that expired before now (minus nothing: callers pass a time
	// with their own margin) and returns how many rows went.
	PurgeExpired(ctx context.Context, before time.Time) (int64, error)
}

// PushedRequest is a pushed authorization request (RFC 9126), stored by
// the SHA-256 of its request_uri.
type PushedRequest struct {
	Hash      []byte // SHA-256 of the request_uri, 32 bytes
	ClientID  string
	Params    string // the authorization request, form-encoded
	CreatedAt time.Time
	ExpiresAt time.Time // the request_uri must be first used before this
	OpenedAt  time.Time // the first authorization request naming it
	UsedAt    time.Time // its code was issued
}
