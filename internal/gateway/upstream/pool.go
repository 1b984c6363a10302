// Package upstream holds the gateway's upstream pools (one per route):
// round-robin over healthy targets, active health checks, passive
// ejection of failing targets, connection pooling and upstream TLS; and
// the hardening of upstream answers (no Server header or stack traces,
// security headers).
package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// Defaults of a pool.
const (
	DefaultDialTimeout           = 5 * time.Second
	DefaultResponseHeaderTimeout = 30 * time.Second
	DefaultMaxIdleConnsPerHost   = 256
	DefaultHealthInterval        = 10 * time.Second
	DefaultHealthTimeout         = 2 * time.Second
	// MaxTargets bounds a pool (a shard set is a 64-bit mask).
	MaxTargets = 64
	// maxResponseHeaderBytes bounds an upstream's response headers: a
	// hostile or broken upstream cannot make the gateway buffer more.
	maxResponseHeaderBytes = 64 << 10
)

// ErrNoHealthyUpstream is Pick's answer when no target may be used; the
// gateway answers 503.
var ErrNoHealthyUpstream = errors.New("upstream: no healthy upstream")

// TLS is a route's upstream TLS: a CA bundle to verify the upstreams
// with (default: the system roots), a client certificate to present (mTLS),
// and the name to verify when it differs from the URL's host.
type TLS struct{ CAFile, CertFile, KeyFile, ServerName string }

// Health configures active checks: GET Path on every target every
// Interval; Unhealthy consecutive failures take a target out, Healthy
// consecutive successes bring it back. Path "" disables them.
type Health struct {
	Path               string
	Interval, Timeout  time.Duration
	Healthy, Unhealthy int
}

// Ejection configures passive outlier ejection (as Envoy's consecutive
// 5xx detection): Consecutive transport errors or 502/503/504 answers
// eject a target for BaseTime × the number of its ejections, at most
// MaxTime. Consecutive 0 disables it.
type Ejection struct {
	Consecutive       int
	BaseTime, MaxTime time.Duration
}

// Sharder picks a tenant's target among the healthy members of its
// shuffle shard (gateway.Sharder).
type Sharder interface {
	ShardFor(tenant string, healthy func(i int) bool) (int, error)
}

// Options configure a Pool.
type Options struct {
	Route    string
	URLs     []string
	TLS      TLS
	Health   Health
	Ejection Ejection
	// Shard, when set, confines each tenant to its shard of URLs.
	Shard                              Sharder
	MaxIdleConnsPerHost                int
	ResponseHeaderTimeout, DialTimeout time.Duration
	Logger                             *slog.Logger
	Clock                              func() time.Time
}

// Target is one upstream.
type Target struct {
	URL *url.URL
	// Origin is scheme://host[:port], lowercase, default port omitted:
	// the audience of the assertions sent to it.
	Origin string
	index  int
}

type targetState struct {
	healthy   atomic.Bool
	ejectEnd  atomic.Int64 // unix nanoseconds; 0 = not ejected
	fails     atomic.Int32 // consecutive passive failures
	ejections atomic.Int32
	checkOK   int // consecutive active results, used by the check loop only
	checkBad  int
}

// Pool is one route's upstreams. It is safe for concurrent use.
type Pool struct {
	o       Options
	targets []*Target
	state   []*targetState
	tr      *http.Transport
	next    atomic.Uint64
	now     func() time.Time
}

// Validate checks the URLs (pure: no file is read).
func Validate(o Options) error {
	if len(o.URLs) == 0 || len(o.URLs) > MaxTargets {
		return fmt.Errorf("want 1 to %d upstream URLs, got %d", MaxTargets, len(o.URLs))
	}
	seen := map[string]bool{}
	var errs []error
	for _, s := range o.URLs {
		t, err := parseTarget(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[t.URL.String()] {
			errs = append(errs, fmt.Errorf("%q is listed twice", s))
		}
		seen[t.URL.String()] = true
	}
	return errors.Join(errs...)
}

// parseTarget accepts http(s)://host[:port][/base] without userinfo,
// query or fragment.
func parseTarget(s string) (*Target, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q: the scheme must be http or https", s)
	case u.Host == "" || u.Hostname() == "":
		return nil, fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return nil, fmt.Errorf("%q carries credentials; use upstream_tls client certificates instead", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return nil, fmt.Errorf("%q has a query or fragment", s)
	case u.Opaque != "":
		return nil, fmt.Errorf("%q is not a hierarchical URL", s)
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil || strings.TrimLeft(p, "0123456789") != "" {
			return nil, fmt.Errorf("%q has an invalid port", s)
		}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	origin := u.Scheme + "://" + host
	if p := u.Port(); p != "" && !(u.Scheme == "http" && p == "80" || u.Scheme == "https" && p == "443") {
		origin += ":" + p
	}
	return &Target{URL: u, Origin: origin}, nil
}

// New builds a pool and its shared transport. Targets start healthy.
func New(o Options) (*Pool, error) {
	if err := Validate(o); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &Pool{o: o, now: o.Clock}
	if p.now == nil {
		p.now = time.Now
	}
	for i, s := range o.URLs {
		t, _ := parseTarget(s)
		t.index = i
		st := &targetState{}
		st.healthy.Store(true)
		p.targets = append(p.targets, t)
		p.state = append(p.state, st)
	}
	tr, err := newTransport(o)
	if err != nil {
		return nil, err
	}
	p.tr = tr
	return p, nil
}

func newTransport(o Options) (*http.Transport, error) {
	tc, err := clientTLS(o.TLS)
	if err != nil {
		return nil, err
	}
	dial := o.DialTimeout
	if dial <= 0 {
		dial = DefaultDialTimeout
	}
	rht := o.ResponseHeaderTimeout
	if rht <= 0 {
		rht = DefaultResponseHeaderTimeout
	}
	idle := o.MaxIdleConnsPerHost
	if idle <= 0 {
		idle = DefaultMaxIdleConnsPerHost
	}
	return &http.Transport{
		// Never a proxy from the environment: the upstream is the one the
		// route names, and HTTP_PROXY must not redirect identity-bearing
		// requests elsewhere.
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:        tc,
		TLSHandshakeTimeout:    dial,
		ForceAttemptHTTP2:      true,
		MaxIdleConnsPerHost:    idle,
		IdleConnTimeout:        90 * time.Second,
		ResponseHeaderTimeout:  rht,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
	}, nil
}

// clientTLS builds the upstream TLS configuration: TLS 1.2 or later
// (RFC 9325 §3.1.1), the CA bundle when given, the client certificate when
// given.
func clientTLS(t TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile) // #nosec G304 -- the operator's configured CA bundle
		if err != nil {
			return nil, fmt.Errorf("upstream_tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream_tls.ca_file %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("upstream_tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// Transport is the pool's shared, pooled transport.
func (p *Pool) Transport() http.RoundTripper { return p.tr }

// usable reports whether target i is healthy and not ejected.
func (p *Pool) usable(i int) bool {
	st := p.state[i]
	if !st.healthy.Load() {
		return false
	}
	end := st.ejectEnd.Load()
	return end == 0 || p.now().UnixNano() >= end
}

// Pick returns the target for one request: with a Sharder, a usable member
// of the tenant's shard (never another tenant's upstream); otherwise the
// next usable target in round-robin order.
func (p *Pool) Pick(tenant string) (*Target, error) {
	if p.o.Shard != nil {
		i, err := p.o.Shard.ShardFor(tenant, p.usable)
		if err != nil {
			return nil, ErrNoHealthyUpstream
		}
		return p.targets[i], nil
	}
	n := uint64(len(p.targets))
	start := p.next.Add(1)
	for j := uint64(0); j < n; j++ {
		if i := int((start + j) % n); p.usable(i) { // #nosec G115 -- i < n <= MaxTargets
			return p.targets[i], nil
		}
	}
	return nil, ErrNoHealthyUpstream
}

// Observe records the outcome of one exchange with t (passive health):
// a transport error or a 502/503/504 counts toward ejection; anything
// else resets the count.
func (p *Pool) Observe(t *Target, status int, err error) {
	if t == nil || t.index >= len(p.state) || p.targets[t.index] != t {
		return
	}
	st := p.state[t.index]
	if err == nil && status != http.StatusBadGateway && status != http.StatusServiceUnavailable && status != http.StatusGatewayTimeout {
		st.fails.Store(0)
		return
	}
	e := p.o.Ejection
	if e.Consecutive <= 0 || int(st.fails.Add(1)) < e.Consecutive {
		return
	}
	st.fails.Store(0)
	n := st.ejections.Add(1)
	d := min(e.BaseTime*time.Duration(n), e.MaxTime)
	if d <= 0 {
		d = e.BaseTime
	}
	st.ejectEnd.Store(p.now().Add(d).UnixNano())
	p.o.Logger.Warn("gateway: upstream ejected after consecutive failures", "route", p.o.Route, "upstream", t.Origin, "for", d)
}

// TargetStatus is one target's state, for readiness and metrics.
type TargetStatus struct {
	URL          string
	Healthy      bool
	EjectedUntil time.Time
}

// Status returns every target's state.
func (p *Pool) Status() []TargetStatus {
	out := make([]TargetStatus, len(p.targets))
	for i, t := range p.targets {
		out[i] = TargetStatus{URL: t.URL.String(), Healthy: p.state[i].healthy.Load()}
		if end := p.state[i].ejectEnd.Load(); end > p.now().UnixNano() {
			out[i].EjectedUntil = time.Unix(0, end)
		}
	}
	return out
}

// Run performs the active health checks until ctx ends.
func (p *Pool) Run(ctx context.Context) {
	h := p.o.Health
	if h.Path == "" {
		<-ctx.Done()
		return
	}
	interval, timeout := h.Interval, h.Timeout
	if interval <= 0 {
		interval = DefaultHealthInterval
	}
	if timeout <= 0 {
		timeout = DefaultHealthTimeout
	}
	client := &http.Client{Transport: p.tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for i := range p.targets {
			p.record(i, p.check(ctx, client, i))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *Pool) check(ctx context.Context, c *http.Client, i int) bool {
	u := *p.targets[i].URL
	u.Path += "/" + strings.TrimPrefix(p.o.Health.Path, "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false
	}
	req.Header.Set("User-Agent", "rampart-gateway-health")
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 400
}

// record applies one active-check result with the thresholds.
func (p *Pool) record(i int, ok bool) {
	st, h := p.state[i], p.o.Health
	up, down := max(h.Healthy, 1), max(h.Unhealthy, 1)
	if ok {
		st.checkOK, st.checkBad = st.checkOK+1, 0
		if !st.healthy.Load() && st.checkOK >= up {
			st.healthy.Store(true)
			p.o.Logger.Info("gateway: upstream healthy again", "route", p.o.Route, "upstream", p.targets[i].Origin)
		}
		return
	}
	st.checkBad, st.checkOK = st.checkBad+1, 0
	if st.healthy.Load() && st.checkBad >= down {
		st.healthy.Store(false)
		p.o.Logger.Warn("gateway: upstream failed its health checks", "route", p.o.Route, "upstream", p.targets[i].Origin)
	}
}
