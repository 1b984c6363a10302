package ratelimit

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MiddlewareOptions configures Middleware.
type MiddlewareOptions struct {
	// Keys holds one KeyFunc per limit of the Limiter, in order.
	Keys []KeyFunc
	// Cost returns a request's cost (default 1): expensive routes may
	// charge more.
	Cost func(r *http.Request) int64
	// Registerer receives rampart_ratelimit_decisions_total{limit,decision}
	// and rampart_ratelimit_decision_seconds; nil for none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

type mwMetrics struct {
	decisions *prometheus.CounterVec
	latency   prometheus.Histogram
	errors    prometheus.Counter
}

// Middleware enforces l on every request. Each response carries the
// RateLimit-Policy and RateLimit fields of the IETF httpapi draft
// (draft-ietf-httpapi-ratelimit-headers): the policies as quota q and
// window w in seconds, and the current state as remaining r and reset t
// for the limit closest to exhaustion. A denied request gets 429 with
// Retry-After (seconds, rounded up, from the limit that denied) and an
// application/problem+json body (RFC 9457). A store error that the store's
// failure policy did not absorb answers 503: the limiter fails closed.
func Middleware(l *Limiter, opts MiddlewareOptions) (func(http.Handler) http.Handler, error) {
	if len(opts.Keys) != len(l.limits) {
		return nil, errMismatch(len(opts.Keys), len(l.limits))
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	policy := policyHeader(l.limits)
	var m *mwMetrics
	if opts.Registerer != nil {
		m = &mwMetrics{
			decisions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_ratelimit_decisions_total",
				Help: "Rate-limit decisions by limit and outcome (allowed, denied)."}, []string{"limit", "decision"}),
			latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rampart_ratelimit_decision_seconds",
				Help: "Time to decide a request against all its limits.", Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10)}),
			errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "rampart_ratelimit_store_errors_total",
				Help: "Decisions that failed because the store failed."}),
		}
		for _, c := range []prometheus.Collector{m.decisions, m.latency, m.errors} {
			if err := opts.Registerer.Register(c); err != nil {
				if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
					switch c.(type) {
					case *prometheus.CounterVec:
						m.decisions = are.ExistingCollector.(*prometheus.CounterVec)
					case prometheus.Histogram:
						m.latency = are.ExistingCollector.(prometheus.Histogram)
					case prometheus.Counter:
						m.errors = are.ExistingCollector.(prometheus.Counter)
					}
					continue
				}
				return nil, err
			}
		}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var keyBuf [MaxLimits]string
			keys := keyBuf[:len(opts.Keys)]
			for i, kf := range opts.Keys {
				keys[i] = kf(r)
			}
			cost := int64(1)
			if opts.Cost != nil {
				if c := opts.Cost(r); c > 1 {
					cost = c
				}
			}
			start := time.Now()
			var res [MaxLimits]Result
			d, err := l.Decide(r.Context(), cost, res[:], keys...)
			if m != nil {
				m.latency.Observe(time.Since(start).Seconds())
			}
			h := w.Header()
			h.Set("RateLimit-Policy", policy)
			if err != nil {
				if m != nil {
					m.errors.Inc()
				}
				logger.ErrorContext(r.Context(), "rate limiter failed; request refused (fail closed)", "err", err)
				h.Set("Retry-After", "1")
				writeProblem(w, http.StatusServiceUnavailable, "Service Unavailable", "The rate limiter is unavailable; retry shortly.")
				return
			}
			h.Set("RateLimit", stateHeader(l.limits, &d))
			if m != nil {
				for i, lim := range l.limits {
					if keys[i] == "" {
						continue
					}
					outcome := "allowed"
					if !res[i].Allowed {
						outcome = "denied"
					}
					m.decisions.WithLabelValues(lim.Name, outcome).Inc()
				}
			}
			if !d.Allowed && d.RetryAfter == InfDuration {
				// The cost exceeds a limit's burst: waiting cannot help, so
				// no Retry-After (RFC 6585 §4 makes it optional) rather than
				// a wait that would only end in another 429. The key's
				// state is unchanged: the next requests are limited as
				// before.
				name := l.limits[d.Denied].Name
				writeProblem(w, http.StatusTooManyRequests, "Too Many Requests",
					"The request's cost exceeds what rate limit \""+name+"\" ever allows ("+
						strconv.FormatInt(l.limits[d.Denied].Burst, 10)+"); it cannot succeed by retrying.")
				return
			}
			if !d.Allowed {
				secs := retrySeconds(d.RetryAfter)
				h.Set("Retry-After", strconv.FormatInt(secs, 10))
				name := l.limits[d.Denied].Name
				writeProblem(w, http.StatusTooManyRequests, "Too Many Requests",
					"Rate limit \""+name+"\" exceeded; retry after "+strconv.FormatInt(secs, 10)+" s.")
				return
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

func errMismatch(keys, limits int) error {
	return &mismatchError{keys, limits}
}

type mismatchError struct{ keys, limits int }

func (e *mismatchError) Error() string {
	return "ratelimit: " + strconv.Itoa(e.keys) + " key functions for " + strconv.Itoa(e.limits) + " limits"
}

// retrySeconds rounds a wait up to whole seconds, at least 1 (RFC 9110
// §10.2.3: delay-seconds is a non-negative integer; 0 would invite an
// immediate retry that is still denied).
func retrySeconds(d time.Duration) int64 {
	return max(1, int64(ceilDiv(int64(d), int64(time.Second)))) // divides first: no overflow
}

// window is how long an empty bucket takes to refill, in whole seconds.
func window(l *Limit) int64 {
	return max(1, int64(ceilDiv(satMul(l.Burst, int64(l.Period)), l.Rate)+time.Second-1)/int64(time.Second))
}

// policyHeader builds RateLimit-Policy: a structured-field list of policy
// items, "name";q=<quota>;w=<window seconds>.
func policyHeader(limits []*Limit) string {
	var b strings.Builder
	for i, l := range limits {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"` + l.Name + `";q=` + strconv.FormatInt(l.Burst, 10) + ";w=" + strconv.FormatInt(window(l), 10))
	}
	return b.String()
}

// stateHeader builds RateLimit for the applied limit with the fewest
// remaining requests: "name";r=<remaining>;t=<seconds until full>.
func stateHeader(limits []*Limit, d *Decision) string {
	best := max(d.Closest, 0) // no limit applied: report the first, full
	rem, reset := d.Remaining, d.Reset
	if d.Closest < 0 {
		rem, reset = limits[0].Burst, 0
	}
	t := int64((reset + time.Second - 1) / time.Second)
	return `"` + limits[best].Name + `";r=` + strconv.FormatInt(max(0, rem), 10) + ";t=" + strconv.FormatInt(t, 10)
}

func writeProblem(w http.ResponseWriter, status int, title, detail string) {
	body, _ := json.Marshal(map[string]any{"type": "about:blank", "title": title, "status": status, "detail": detail})
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
