package gateway

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the gateway's Prometheus series, labelled by route (issue
// 12 "Evidence"). Route names are bounded by the configuration, so the
// label sets are too; reasons and codes come from fixed lists.
type metrics struct {
	requests     *prometheus.CounterVec   // route, code
	latency      *prometheus.HistogramVec // route
	authFailures *prometheus.CounterVec   // route, reason
	rateLimited  *prometheus.CounterVec   // route
	upstreamErrs *prometheus.CounterVec   // route
	refused      *prometheus.CounterVec   // reason: before any route (bad_path, no_route, ...)
	reloads      *prometheus.CounterVec   // outcome
	routes       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_gateway_requests_total",
			Help: "Requests served by a gateway route, by status code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rampart_gateway_request_duration_seconds",
			Help:    "Time from the request reaching the gateway to the end of its answer.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_gateway_auth_failures_total",
			Help: "Requests refused by a route's authentication or authorization, by reason."}, []string{"route", "reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_gateway_rate_limited_total",
			Help: "Requests refused with 429 by a route's rate limits."}, []string{"route"}),
		upstreamErrs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_gateway_upstream_errors_total",
			Help: "Requests whose upstream failed (transport error, timeout, 5xx, no healthy upstream)."}, []string{"route"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_gateway_unrouted_total",
			Help: "Requests refused before a route was chosen (bad_path, no_route, method_not_allowed, bad_host)."}, []string{"reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_gateway_config_reloads_total",
			Help: "Route-table reloads by outcome (success, failure: the old table kept serving)."}, []string{"outcome"}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rampart_gateway_routes",
			Help: "Routes in the table being served."}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.authFailures, m.rateLimited, m.upstreamErrs, m.refused, m.reloads, m.routes} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			return nil, errors.New("gateway: metrics registered twice (one Gateway per registry)")
		}
	}
	return m, nil
}

// routeMetrics are one route's series, resolved once when the route is
// built so a request does no label lookup.
type routeMetrics struct {
	latency  prometheus.Observer
	limited  prometheus.Counter
	upstream prometheus.Counter
	codes    *prometheus.CounterVec
	route    string
}

func (m *metrics) forRoute(name string) routeMetrics {
	rm := routeMetrics{latency: m.latency.WithLabelValues(name), limited: m.rateLimited.WithLabelValues(name),
		upstream: m.upstreamErrs.WithLabelValues(name), codes: m.requests, route: name}
	return rm
}

func (rm *routeMetrics) observe(code int, d time.Duration) {
	rm.latency.Observe(d.Seconds())
	rm.codes.WithLabelValues(rm.route, strconv.Itoa(code)).Inc()
	if code == 429 {
		rm.limited.Inc()
	}
}
