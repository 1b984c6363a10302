package upstream

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Observe records the outcome of one request to t, for passive ejection:
// a transport error (refused connection, TLS failure, reset, timeout) or
// a 502, 503 or 504 answer is a failure; anything else resets t's run of
// failures. Consecutive failures in a row eject t (see Ejection).
//
// Only the gateway-failure statuses count, not every 5xx (Envoy's
// consecutive_gateway_failure rather than consecutive_5xx): a 500 is
// usually the application refusing one request, and a tenant could send
// requests that provoke 500s on purpose to eject upstreams that other
// tenants share. A request the client abandoned (context.Canceled) says
// nothing about the upstream and is not counted either way. Observe
// ignores a nil target or one of another pool.
func (p *Pool) Observe(t *Target, status int, err error) {
	if t == nil || t.pool != p {
		return
	}
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		return
	case err != nil || status == http.StatusBadGateway || status == http.StatusServiceUnavailable ||
		status == http.StatusGatewayTimeout:
		p.failure(t)
	default:
		p.success(t)
	}
}

// success resets the failure run; after an ejection ended it clears the
// ejection time (so Pick stops reading the clock for t) and, once t has
// been back a quiet MaxTime, the backoff level.
func (p *Pool) success(t *Target) {
	if t.failures.Load() != 0 {
		t.failures.Store(0)
	}
	if t.ejectedUntil.Load() == 0 && t.level.Load() == 0 {
		return
	}
	now := p.clock().UnixNano()
	t.mu.Lock()
	defer t.mu.Unlock()
	if until := t.ejectedUntil.Load(); until != 0 && now >= until {
		t.returnedAt = until
		t.ejectedUntil.Store(0)
	}
	if t.ejectedUntil.Load() == 0 && t.level.Load() != 0 && now-t.returnedAt >= int64(p.ejection.MaxTime) {
		t.level.Store(0)
	}
}

// failure counts one failure and ejects t at the Consecutive-th in a row.
// Failures of requests still in flight when t was ejected do not extend
// the ejection.
func (p *Pool) failure(t *Target) {
	if p.ejection.Consecutive < 0 {
		return // passive ejection off
	}
	if int(t.failures.Add(1)) < p.ejection.Consecutive {
		return
	}
	now := p.clock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ejectedUntil.Load() > now.UnixNano() {
		t.failures.Store(0) // requests in flight when t was ejected: already accounted for
		return
	}
	if int(t.failures.Load()) < p.ejection.Consecutive {
		return // reset by a success meanwhile
	}
	if until := t.ejectedUntil.Load(); until != 0 {
		t.returnedAt = until
	}
	level := t.level.Add(1)
	d := backoff(p.ejection.BaseTime, p.ejection.MaxTime, level)
	t.ejectedUntil.Store(now.Add(d).UnixNano())
	t.failures.Store(0)
	t.ejections.Add(1)
	p.logger.Warn("upstream: target ejected after consecutive failures",
		slog.String("route", p.route), slog.String("upstream", t.URL.String()),
		slog.Int("failures", p.ejection.Consecutive), slog.Duration("for", d))
}

// backoff returns base·2^(level-1), at most max, without overflow.
func backoff(base, maxTime time.Duration, level int32) time.Duration {
	d := base
	for i := int32(1); i < level && d < maxTime; i++ {
		if d > maxTime/2 {
			return maxTime
		}
		d *= 2
	}
	return min(d, maxTime)
}
