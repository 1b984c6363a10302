// Package redisx sets up the optional shared Redis client (counters, replay
// caches). An empty URL means no Redis: callers use in-process state.
package redisx

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Open parses url (redis://, rediss:// or unix://), applies conservative
// timeouts so a slow Redis cannot stall request handling, and pings once.
func Open(ctx context.Context, url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		// The parse error may echo the URL (and a password); keep it out.
		return nil, fmt.Errorf("redisx: the redis URL is malformed")
	}
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	opts.PoolTimeout = time.Second
	// Context deadlines bound network calls (the rate limiter relies on it).
	opts.ContextTimeoutEnabled = true
	c := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("redisx: cannot reach redis at %s: %w", opts.Addr, err)
	}
	return c, nil
}

// Check returns a readiness check for /readyz.
func Check(c *redis.Client) func(context.Context) error {
	return func(ctx context.Context) error { return c.Ping(ctx).Err() }
}
