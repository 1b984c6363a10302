package agent

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Renewal outcomes, the values of rampart_agent_renewals_total's label.
const (
	outcomeSuccess = "success"
	outcomeFailure = "failure"
)

// metrics are the agent's Prometheus series, in a registry of its own
// (served on the socket's /metrics and on --metrics-listen).
type metrics struct {
	reg      *prometheus.Registry
	expiry   prometheus.Gauge
	expiring prometheus.Gauge
	renewals *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rampart_agent_svid_expiry_timestamp_seconds",
			Help: "NotAfter of the SVID the agent serves, as a Unix time; 0 while it has none."}),
		expiring: prometheus.NewGauge(prometheus.GaugeOpts{Name: "rampart_agent_svid_expiring",
			Help: "1 when at most a quarter of the SVID's lifetime is left and renewal has not succeeded, else 0."}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rampart_agent_renewals_total",
			Help: "Attempts to obtain an SVID (enrolment or renewal), by outcome (success, failure)."}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.expiry, m.expiring, m.renewals)
	// Both outcomes exist from the start, so a rate() sees the first failure.
	m.renewals.WithLabelValues(outcomeSuccess)
	m.renewals.WithLabelValues(outcomeFailure)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
