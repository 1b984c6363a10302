package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

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
	"github.com/rampart-auth/rampart/ratelimit"
)

// DenyListPrefix is the Redis key prefix of revoked access-token ids, for
// resource servers using jwtauth.NewRedisDenyList.
const DenyListPrefix = "rampart:revoked:"

// configuredClients turns the configuration's clients into oauth clients,
// with the secrets config.Resolve read from secret_env. With res nil (a
// command that uses no client secret) a secret_env client is built without
// a secret, so it is listed but can never authenticate.
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

// maxTokenLifetime is the longest a token signed now can stay valid: a
// retired key stays published at least that long.
func maxTokenLifetime(cfg *config.Config) time.Duration {
	m := max(cfg.Tokens.AccessTokenTTL.D(), cfg.Tokens.IDTokenTTL.D())
	for _, c := range cfg.Clients {
		m = max(m, c.AccessTokenTTL.D())
	}
	// CLI clients may set their own access TTL up to 24h.
	return max(m, 24*time.Hour)
}

// newHasher is the argon2id hasher for passwords. At most GOMAXPROCS
// hashes (19 MiB each) run at once; a login flood queues instead of
// exhausting memory.
func newHasher() (*identity.Hasher, error) {
	return identity.NewHasher(identity.Params{}, runtime.GOMAXPROCS(0), rand.Reader)
}

// secretHashMaxWait bounds how long a token request waits for the
// client-secret hasher before it is answered 503 temporarily_unavailable.
const secretHashMaxWait = 250 * time.Millisecond

// newSecretHasher is the argon2id hasher for clients' secret_hash, apart
// from sign-in's: anyone can make the token endpoint check a wrong secret,
// so that work gets a small budget of its own (1 slot, 2 from 4 cores on)
// and a bounded wait, and a flood of it never takes sign-in's slots.
// Clients with secret_env (HMAC-SHA-256) never use it.
func newSecretHasher() (*identity.Hasher, error) {
	return identity.NewBoundedHasher(identity.Params{}, max(1, min(2, runtime.GOMAXPROCS(0)/2)), secretHashMaxWait, rand.Reader)
}

// authParts are the pieces of the authorization server shared by serve and
// the CLI.
type authParts struct {
	clients *oauth.Registry
	users   *identity.Users
	hasher  *identity.Hasher // sign-in
	// secretHasher checks argon2id client secrets (newSecretHasher).
	secretHasher *identity.Hasher
}

// newAuthParts builds them. res carries the client secrets (nil for CLI
// commands, which use none); kr may be nil for commands that neither
// authenticate nor hash a client secret (client list and show).
func newAuthParts(cfg *config.Config, s *sqlstore.DB, kr *kms.Keyring, res *config.Resolved) (*authParts, error) {
	h, err := newHasher()
	if err != nil {
		return nil, err
	}
	var secretKey []byte
	if kr != nil {
		secretKey = kr.DataKey(kms.DataKeyClientSecret)
	}
	configured := configuredClients(cfg, secretKey, res)
	sh, err := newSecretHasher()
	if err != nil {
		return nil, err
	}
	return &authParts{
		clients:      oauth.NewRegistry(configured, s.OAuth(), secretKey, sh),
		users:        identity.NewUsers(s.Identity(), h, nil, nil),
		hasher:       h,
		secretHasher: sh,
	}, nil
}

// newAuthServer builds the OAuth / OIDC server.
func newAuthServer(cfg *config.Config, s *sqlstore.DB, kr *kms.Keyring, km *keys.Manager, al *audit.Log,
	rc redis.UniversalClient, parts *authParts, logger *slog.Logger, reg prometheus.Registerer) (*oauth.Server, error) {
	secure := cfg.HTTP.TLS.Mode != config.TLSOff
	var deny oauth.DenyPublisher
	if rc != nil {
		deny = jwtauth.NewRedisDenyList(rc, DenyListPrefix)
	}
	loginL, tokenL, err := ownLimits(cfg, rc, logger, reg)
	if err != nil {
		return nil, err
	}
	return oauth.New(oauth.Options{
		LoginLimiter:        loginL,
		TokenLimiter:        tokenL,
		Issuer:              cfg.Issuer,
		Store:               s.OAuth(),
		Clients:             parts.clients,
		Users:               parts.users,
		Sessions:            identity.NewSessions(s.Identity(), cfg.Login.SessionTTL.D(), secure, nil, nil),
		Signer:              km,
		Keys:                km,
		Audit:               al,
		CSRF:                web.NewCSRF(kr.DataKey(kms.DataKeyCSRF), secure, nil),
		LoginProofKey:       kr.DataKey(kms.DataKeyLoginProof),
		Logger:              logger,
		Deny:                deny,
		AccessTokenTTL:      cfg.Tokens.AccessTokenTTL.D(),
		RefreshTokenTTL:     cfg.Tokens.RefreshTokenTTL.D(),
		RefreshTokenIdleTTL: cfg.Tokens.RefreshTokenIdleTTL.D(),
		IDTokenTTL:          cfg.Tokens.IDTokenTTL.D(),
	})
}

// devAdmin creates the dev-mode admin with a one-time random password when
// there are no users yet, and prints it once.
func devAdmin(ctx context.Context, users *identity.Users, al *audit.Log, out io.Writer) error {
	n, err := users.Count(ctx)
	if err != nil || n > 0 {
		return err
	}
	pw, err := oauth.GenerateSecret(rand.Reader)
	if err != nil {
		return err
	}
	u, err := users.Create(ctx, "admin", pw, identity.RoleAdmin)
	if err != nil {
		return err
	}
	if err := al.Record(ctx, audit.Event{Actor: "system", Action: "user.create", Target: "user:" + u.ID, Outcome: audit.OutcomeSuccess,
		Details: map[string]string{"role": identity.RoleAdmin, "dev": "true"}}); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n  DEV MODE: created user \"admin\" with the one-time password\n\n      %s\n\n  It is shown only now; create more users with `rampart user create`.\n\n", pw)
	return nil
}

// purgeLoop deletes expired codes, tokens and sessions every interval.
func purgeLoop(ctx context.Context, s *sqlstore.DB, logger *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A margin of an hour keeps rows a little past expiry, so a replay
		// just after expiry is still recognised as a replay.
		before := time.Now().Add(-time.Hour)
		n, err := s.OAuth().PurgeExpired(ctx, before)
		if err == nil {
			var m int64
			m, err = s.Identity().PurgeSessions(ctx, before)
			n += m
		}
		if err != nil {
			logger.Warn("purging expired tokens failed", "err", err)
		} else if n > 0 {
			logger.Info("purged expired codes, tokens and sessions", "rows", n)
		}
	}
}

// ownLimits builds the limiters of Rampart's own endpoints: fleet-wide on
// Redis when it is configured, in process otherwise. When Redis fails, each
// instance falls back to enforcing the full limits locally (policy local):
// sign-in stays protected and available.
func ownLimits(cfg *config.Config, rc redis.UniversalClient, logger *slog.Logger, reg prometheus.Registerer) (login, token *ratelimit.Limiter, err error) {
	conv := func(name string, l config.RateLimit) ratelimit.Limit {
		return ratelimit.Limit{Name: name, Rate: l.Rate, Period: l.Period.D(), Burst: l.Burst}
	}
	var store ratelimit.Store = ratelimit.NewMemoryStore(nil)
	if rc != nil {
		local := map[string]ratelimit.FailurePolicy{"ip": ratelimit.FailLocal, "username": ratelimit.FailLocal, "client": ratelimit.FailLocal,
			oauth.LimitTokenIP: ratelimit.FailLocal, oauth.LimitClientAuthFailed: ratelimit.FailLocal}
		store = ratelimit.NewRedisStore(rc, ratelimit.RedisOptions{Prefix: "rampart:rl:", Failure: local, Logger: logger, Registerer: reg})
	}
	login, err = ratelimit.NewLimiter(store, conv("ip", cfg.RateLimits.LoginPerIP), conv("username", cfg.RateLimits.LoginPerUsername))
	if err != nil {
		return nil, nil, err
	}
	token, err = ratelimit.NewLimiter(store, conv(oauth.LimitTokenClient, cfg.RateLimits.TokenPerClient),
		conv(oauth.LimitTokenIP, cfg.RateLimits.TokenPerIP), conv(oauth.LimitClientAuthFailed, cfg.RateLimits.ClientAuthFailuresPerIP))
	if err != nil {
		return nil, nil, err
	}
	// The client address these limits key on is resolved once per request
	// by httpx.ClientAddr (http.trusted_proxies), see newHandler.
	return login, token, nil
}
