package app

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/audit"
	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/internal/identity"
	"github.com/rampart-auth/rampart/internal/keys"
	"github.com/rampart-auth/rampart/internal/kms"
	"github.com/rampart-auth/rampart/internal/oauth"
	"github.com/rampart-auth/rampart/internal/store/sqlstore"
	"github.com/rampart-auth/rampart/internal/web"
	"github.com/rampart-auth/rampart/jwtauth"
)

// AuthParts are the pieces of the authorization server that serve and the
// CLI share.
type AuthParts struct {
	Clients *oauth.Registry
	Users   *identity.Users
	// Hasher hashes and checks sign-in passwords.
	Hasher *identity.Hasher
	// SecretKey is the HMAC key of client secrets (nil without a master key).
	SecretKey []byte
	// SecretHasher checks argon2id client secrets (identity.NewClientSecretHasher).
	SecretHasher *identity.Hasher
	// SigningAlgorithm is keys.algorithm (fapi: admin.Options).
	SigningAlgorithm string
}

// NewAuthParts builds them. res carries the client secrets (nil for CLI
// commands, which use none: the file's clients are then built without
// them, listed and reserved but never authenticated); mk may be nil for
// commands that neither authenticate nor hash a client secret (client
// list and show); kr may be nil for commands that neither authenticate
// nor hash a client secret. al records the users created (nil: none can be).
func NewAuthParts(cfg *config.Config, db *sqlstore.DB, kr *kms.Keyring, res *config.Resolved, al identity.Auditor) (*AuthParts, error) {
	h, err := identity.NewPasswordHasher()
	if err != nil {
		return nil, err
	}
	var secretKey []byte
	if kr != nil {
		secretKey = kr.DataKey(kms.DataKeyClientSecret)
	}
	sh, err := identity.NewClientSecretHasher()
	if err != nil {
		return nil, err
	}
	return &AuthParts{
		Clients:      oauth.NewRegistry(configuredClients(cfg, secretKey, res), db.OAuth(), secretKey, sh),
		Users:        identity.NewUsers(db.Identity(), h, al, nil, nil),
		Hasher:       h,
		SecretKey:    secretKey,
		SecretHasher: sh,

		SigningAlgorithm: cfg.Keys.Algorithm,
	}, nil
}

// configuredClients turns the configuration's clients into oauth clients,
// with the secrets config.Resolve read from secret_env. With res nil a
// secret_env client is built without a secret, so it is listed but can
// never authenticate.
func configuredClients(cfg *config.Config, secretKey []byte, res *config.Resolved) []*oauth.Client {
	out := make([]*oauth.Client, 0, len(cfg.Clients))
	for _, c := range cfg.Clients {
		secret := ""
		if res != nil {
			secret = res.ClientSecrets[c.ID]
		}
		out = append(out, oauth.ClientFromConfig(c, secret, secretKey))
	}
	return out
}

// authDeps is what the OAuth server is built from.
type authDeps struct {
	res    *config.Resolved // ui.logo_file's content (nil: none)
	db     *sqlstore.DB
	kr     *kms.Keyring
	km     *keys.Manager
	audit  *audit.Log
	redis  redis.UniversalClient
	parts  *AuthParts
	logger *slog.Logger
	reg    prometheus.Registerer
	// mtls is the token endpoint's mTLS alias (nil: none).
	mtls *oauth.MTLSAlias
}

// newAuthServer builds the OAuth / OIDC server.
func newAuthServer(cfg *config.Config, d authDeps) (*oauth.Server, error) {
	secure := cfg.HTTP.TLS.Mode != config.TLSOff
	var deny oauth.DenyPublisher
	var assertionReplay jwtauth.ReplayCache // nil: the store's conditional insert
	if d.redis != nil {
		deny = jwtauth.NewRedisDenyList(d.redis, oauth.DenyListPrefix)
		assertionReplay = jwtauth.NewRedisReplayCache(d.redis, oauth.AssertionReplayPrefix)
	}
	loginL, tokenL, err := oauth.NewLimiters(cfg.RateLimits, d.redis, d.logger, d.reg)
	if err != nil {
		return nil, err
	}
	// DPoP (RFC 9449): proof ids are remembered fleet-wide when there is
	// Redis (§11.1: a proof must not be accepted twice, on any instance);
	// server nonces are stateless (HMAC of a time slot under a data key
	// every instance shares), so any instance accepts another's nonce.
	var replay jwtauth.ReplayCache
	if d.redis != nil {
		replay = jwtauth.NewRedisReplayCache(d.redis, oauth.DPoPReplayPrefix)
	}
	var nonces jwtauth.NonceChecker
	if cfg.OAuth.DPoP.Nonce {
		if nonces, err = oauth.NewDPoPNonces(d.kr.DataKey(kms.DataKeyDPoPNonce), nil); err != nil {
			return nil, err
		}
	}
	deviceL, err := oauth.NewDeviceLimiter(cfg.RateLimits, d.redis, d.logger, d.reg)
	if err != nil {
		return nil, err
	}
	otpL, err := oauth.NewOTPLimiter(cfg.RateLimits, d.redis, d.logger)
	if err != nil {
		return nil, err
	}
	web.SetBranding(branding(cfg.UI, d.res))
	return oauth.New(oauth.Options{
		DeviceLimiter: deviceL,
		LoginLimiter:  loginL,
		TokenLimiter:  tokenL,
		OTPLimiter:    otpL,
		// TOTP secrets are sealed with the keyring (AD binds the user).
		MFA:     identity.NewMFA(d.db.Identity(), d.kr, "Rampart", nil, nil),
		Issuer:  cfg.Issuer,
		Store:   d.db.OAuth(),
		Clients: d.parts.Clients,
		Users:   d.parts.Users,
		Sessions: identity.NewSessionsWith(identity.SessionOptions{Store: d.db.Identity(),
			TTL: cfg.Login.SessionTTL.D(), IdleTTL: cfg.Login.SessionIdleTTL.D(), Secure: secure, Audit: d.audit}),
		Signer:              d.km,
		Keys:                d.km,
		Audit:               d.audit,
		CSRF:                web.NewCSRF(d.kr.DataKey(kms.DataKeyCSRF), secure, nil),
		LoginProofKey:       d.kr.DataKey(kms.DataKeyLoginProof),
		Logger:              d.logger,
		Deny:                deny,
		DPoPReplay:          replay,
		DPoPNonces:          nonces,
		AssertionReplay:     assertionReplay,
		RequirePAR:          cfg.OAuth.RequirePushedAuthorizationRequests,
		AccessTokenTTL:      cfg.Tokens.AccessTokenTTL.D(),
		RefreshTokenTTL:     cfg.Tokens.RefreshTokenTTL.D(),
		RefreshTokenIdleTTL: cfg.Tokens.RefreshTokenIdleTTL.D(),
		IDTokenTTL:          cfg.Tokens.IDTokenTTL.D(),
		ScopeDescriptions:   cfg.OAuth.Scopes,
		MTLS:                d.mtls,
	})
}
