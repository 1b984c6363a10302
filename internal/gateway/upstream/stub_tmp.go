// Package upstream: TEMPORARY stub of gw-upstream's API for the lead's build; removed at merge.
package upstream

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"
)

type TLS struct{ CAFile, CertFile, KeyFile, ServerName string }
type Health struct {
	Path               string
	Interval, Timeout  time.Duration
	Healthy, Unhealthy int
}
type Ejection struct {
	Consecutive       int
	BaseTime, MaxTime time.Duration
}
type Options struct {
	Route                              string
	URLs                               []string
	TLS                                TLS
	Health                             Health
	Ejection                           Ejection
	ShardSize                          int
	ShardSecret                        []byte
	MaxIdleConnsPerHost                int
	ResponseHeaderTimeout, DialTimeout time.Duration
	Logger                             *slog.Logger
	Clock                              func() time.Time
}
type Target struct {
	URL    *url.URL
	Origin string
}
type Pool struct {
	t  []*Target
	n  atomic.Uint64
	tr *http.Transport
}

var ErrNoHealthyUpstream = errors.New("no healthy upstream")

func Validate(o Options) error { return nil }
func New(o Options) (*Pool, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	p := &Pool{tr: tr}
	for _, s := range o.URLs {
		u, err := url.Parse(s)
		if err != nil {
			return nil, err
		}
		p.t = append(p.t, &Target{URL: u, Origin: u.Scheme + "://" + u.Host})
	}
	return p, nil
}
func (p *Pool) Run(ctx context.Context)                  { <-ctx.Done() }
func (p *Pool) Transport() http.RoundTripper             { return p.tr }
func (p *Pool) Observe(t *Target, status int, err error) {}
func (p *Pool) Pick(tenant string) (*Target, error) {
	return p.t[p.n.Add(1)%uint64(len(p.t))], nil
}

type SecurityHeaders map[string]string

func DefaultSecurityHeaders(tls bool) SecurityHeaders {
	return SecurityHeaders{"X-Content-Type-Options": "nosniff"}
}
func ModifyResponse(sec SecurityHeaders) func(*http.Response) error {
	return func(r *http.Response) error {
		r.Header.Del("Server")
		for k, v := range sec {
			r.Header.Set(k, v)
		}
		return nil
	}
}
func WriteProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
}
func WithTarget(ctx context.Context, t *Target) context.Context { return ctx }
