package httpx

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTPMetrics are the request metrics Metrics records. Several listeners
// may share one: their routes differ.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

// NewHTTPMetrics creates the HTTP metrics and registers them with reg:
// rampart_http_requests_total{method,route,code},
// rampart_http_request_duration_seconds{method,route} (histogram) and
// rampart_http_in_flight_requests. When reg already holds them (a second
// listener), the registered collectors are reused. reg may be nil
// (nothing is registered). It panics on any other registration conflict,
// which is a wiring bug.
func NewHTTPMetrics(reg prometheus.Registerer) *HTTPMetrics {
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rampart_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rampart_http_request_duration_seconds",
			Help: "Time to answer HTTP requests, by method and route pattern.",
			// 5 ms … 10 s: the Prometheus default, covering cached
			// lookups up to argon2id logins and slow upstreams.
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rampart_http_in_flight_requests",
			Help: "HTTP requests being served.",
		}),
	}
	if reg == nil {
		return m
	}
	m.requests = register(reg, m.requests)
	m.duration = register(reg, m.duration)
	m.inFlight = register(reg, m.inFlight)
	return m
}

// register registers c, or returns the equal collector already registered.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic("httpx: register metrics: " + err.Error())
}

// Metrics records every request in m. The route label is the matched
// ServeMux pattern (r.Pattern) or "unmatched", and the method label is one
// of the standard methods or "OTHER": raw paths and methods are chosen by
// clients, and one series per distinct value would let anyone exhaust the
// server's (and Prometheus's) memory.
func Metrics(m *HTTPMetrics) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			m.inFlight.Inc()
			rw := wrapWriter(w)
			defer func() {
				m.inFlight.Dec()
				status := rw.statusOr()
				if p := recover(); p != nil {
					if !rw.wroteHeader() {
						status = http.StatusInternalServerError
					}
					defer panic(p)
				}
				method, route := methodLabel(r.Method), routeLabel(r)
				m.requests.WithLabelValues(method, route, codeLabel(status)).Inc()
				m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
			}()
			next.ServeHTTP(rw, r)
		})
	}
}

// codeLabels holds "100"…"599" so labelling a request does not allocate.
var codeLabels = func() (t [600]string) {
	for i := 100; i < len(t); i++ {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

func codeLabel(status int) string {
	if status >= 100 && status < len(codeLabels) {
		return codeLabels[status]
	}
	return "other"
}

// MetricsHandler serves g in the Prometheus exposition format. A collector
// that fails is skipped and the rest served (ContinueOnError), so an error
// text never reaches the scraper's response body.
func MetricsHandler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		// Scrapes are cheap but not free; a few at once are plenty.
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}
