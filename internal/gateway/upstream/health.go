package upstream

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// healthUserAgent names the probes in upstream logs.
const healthUserAgent = "rampart-gateway-health/1"

// maxHealthBody is how much of a probe's body is read, so the connection
// can be reused; a longer body is cut off and the connection dropped.
const maxHealthBody = 4 << 10

// Run performs active health checks until ctx is done: a round at once,
// then one every Health.Interval, each probing all targets at the same
// time (so one slow target cannot delay the others' verdicts) and waiting
// for all probes before the next round. It returns at once when
// Health.Path is "" or when Run is already running for the pool; it
// returns after ctx is done and the round in flight has ended. This is
// the pool's one long-lived goroutine.
func (p *Pool) Run(ctx context.Context) {
	if p.health.Path == "" || !p.running.CompareAndSwap(false, true) {
		return
	}
	defer p.running.Store(false)
	tick := time.NewTicker(p.health.Interval)
	defer tick.Stop()
	for {
		p.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// round probes every target once, in parallel.
func (p *Pool) round(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range p.targets {
		wg.Go(func() {
			ok := p.probe(ctx, t)
			if ctx.Err() == nil {
				p.record(t, ok)
			}
		})
	}
	wg.Wait()
}

// probe GETs the health path of t through the pool's transport and
// reports whether it answered 2xx within Health.Timeout. Redirects are
// not followed: a health endpoint that redirects is misconfigured.
func (p *Pool) probe(ctx context.Context, t *Target) bool {
	ctx, cancel := context.WithTimeout(ctx, p.health.Timeout)
	defer cancel()
	// From the host's root, as written (query and escapes kept).
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.Origin+p.health.Path, nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", healthUserAgent)
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxHealthBody))
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// record applies one probe's verdict: Unhealthy failures in a row take t
// down, Healthy passes in a row bring it back up; transitions are logged.
// A probe cut short because ctx ended (Run stopping) is not recorded.
func (p *Pool) record(t *Target, ok bool) {
	if !ok {
		t.passes = 0
		t.fails++
		if t.fails >= p.health.Unhealthy && t.healthy.CompareAndSwap(true, false) {
			p.logger.Warn("upstream: target failed its health checks; out of rotation",
				slog.String("route", p.route), slog.String("upstream", t.URL.String()), slog.Int("failures", t.fails))
		}
		return
	}
	t.fails = 0
	t.passes++
	if t.passes >= p.health.Healthy && t.healthy.CompareAndSwap(false, true) {
		p.logger.Info("upstream: target passed its health checks; back in rotation",
			slog.String("route", p.route), slog.String("upstream", t.URL.String()))
	}
}
