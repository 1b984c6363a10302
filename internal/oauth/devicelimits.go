package oauth

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/rampart-auth/rampart/internal/config"
	"github.com/rampart-auth/rampart/ratelimit"
)

// Limit names of the DeviceLimiter, in its order: user-code submissions
// per address and for everyone (RFC 8628 §5.1). They differ from every
// other limit's name (a shared store keys buckets by name and key).
const (
	LimitDeviceIP     = "device_ip"
	LimitDeviceGlobal = "device_global"
)

// deviceGlobalKey is the one key of the global user-code limit.
const deviceGlobalKey = "all"

// NewDeviceLimiter builds the device page's user-code limiter from
// rate_limits (device_code_per_ip, device_code_global): fleet-wide on
// Redis when rc is not nil, in process otherwise. When Redis fails, each
// instance enforces the full limits locally (FailLocal): guessing stays
// bounded per instance and the page stays available (DESIGN principle 5).
func NewDeviceLimiter(rl config.RateLimits, rc redis.UniversalClient, logger *slog.Logger, reg prometheus.Registerer) (*ratelimit.Limiter, error) {
	conv := func(name string, l config.RateLimit) ratelimit.Limit {
		return ratelimit.Limit{Name: name, Rate: l.Rate, Period: l.Period.D(), Burst: l.Burst}
	}
	var store ratelimit.Store = ratelimit.NewMemoryStore(nil)
	if rc != nil {
		local := map[string]ratelimit.FailurePolicy{LimitDeviceIP: ratelimit.FailLocal, LimitDeviceGlobal: ratelimit.FailLocal}
		store = ratelimit.NewRedisStore(rc, ratelimit.RedisOptions{Prefix: rateLimitPrefix, Failure: local, Logger: logger, Registerer: reg})
	}
	return ratelimit.NewLimiter(store, conv(LimitDeviceIP, rl.DeviceCodePerIP), conv(LimitDeviceGlobal, rl.DeviceCodeGlobal))
}
