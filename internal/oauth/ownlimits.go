package oauth

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/ratelimit"
)

// DenyListPrefix is the Redis key prefix of revoked access-token ids, for
// resource servers using jwtauth.NewRedisDenyList.
const DenyListPrefix = "rampart:revoked:"

// rateLimitPrefix prefixes the Redis keys of Rampart's own limits.
const rateLimitPrefix = "rampart:rl:"

// NewLimiters builds the limiters of the sign-in and token endpoints from
// rate_limits: fleet-wide on Redis when rc is not nil, in process
// otherwise. When Redis fails, each instance falls back to enforcing the
// full limits locally (FailLocal): sign-in stays protected and available
// (DESIGN principle 5). The client address they key on is resolved once
// per request by httpx.ClientAddr (http.trusted_proxies).
func NewLimiters(rl config.RateLimits, rc redis.UniversalClient, logger *slog.Logger, reg prometheus.Registerer) (login, token *ratelimit.Limiter, err error) {
	conv := func(name string, l config.RateLimit) ratelimit.Limit {
		return ratelimit.Limit{Name: name, Rate: l.Rate, Period: l.Period.D(), Burst: l.Burst}
	}
	var store ratelimit.Store = ratelimit.NewMemoryStore(nil)
	if rc != nil {
		local := map[string]ratelimit.FailurePolicy{"ip": ratelimit.FailLocal, "username": ratelimit.FailLocal, "client": ratelimit.FailLocal,
			LimitTokenIP: ratelimit.FailLocal, LimitClientAuthFailed: ratelimit.FailLocal}
		store = ratelimit.NewRedisStore(rc, ratelimit.RedisOptions{Prefix: rateLimitPrefix, Failure: local, Logger: logger, Registerer: reg})
	}
	login, err = ratelimit.NewLimiter(store, conv("ip", rl.LoginPerIP), conv("username", rl.LoginPerUsername))
	if err != nil {
		return nil, nil, err
	}
	token, err = ratelimit.NewLimiter(store, conv(LimitTokenClient, rl.TokenPerClient),
		conv(LimitTokenIP, rl.TokenPerIP), conv(LimitClientAuthFailed, rl.ClientAuthFailuresPerIP))
	if err != nil {
		return nil, nil, err
	}
	return login, token, nil
}
