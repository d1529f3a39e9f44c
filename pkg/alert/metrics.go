package alert

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the alerter's Prometheus metrics. The counters count live
// events only: the events read again on start are in the windows but not
// in the counters, which would otherwise count them twice.
type metrics struct {
	sent          *prometheus.CounterVec
	failures      *prometheus.CounterVec
	deferrals     *prometheus.CounterVec
	domainSent    *prometheus.CounterVec
	domainFailed  *prometheus.CounterVec
	lastEvent     prometheus.Gauge
	events        *prometheus.CounterVec
	state         *prometheus.GaugeVec
	transitions   *prometheus.CounterVec
	notifications *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_alert_sent_total",
			Help: "Succeeded and failed deliveries by server composition.",
		}, []string{"server_composition"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_alert_failures_total",
			Help: "Failures (a failed delivery and its bounce count once) by server composition, severity (hard or soft) and classification reason.",
		}, []string{"server_composition", "severity", "reason"}),
		deferrals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_alert_deferrals_total",
			Help: "Deferred deliveries by server composition.",
		}, []string{"server_composition"}),
		domainSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_alert_domain_sent_total",
			Help: "Succeeded and failed deliveries by recipient domain (domains beyond the alerter's limit count as (other)).",
		}, []string{"recipient_domain"}),
		domainFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_alert_domain_failures_total",
			Help: "Failures by recipient domain (domains beyond the alerter's limit count as (other)).",
		}, []string{"recipient_domain"}),
		lastEvent: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailbridge_alert_last_event_timestamp_seconds",
			Help: "Unix time at which the alerter last received an event.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_alert_events_total",
			Help: "Events read by the alerter, by phase: rebuild (read again on start) or live.",
		}, []string{"phase"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailbridge_alert_state",
			Help: "Alerts firing by rule and key: 1 for warning, 2 for critical. Keys that are ok have no series.",
		}, []string{"rule", "key"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_alert_transitions_total",
			Help: "Alert transitions published, by rule, transition (fired, escalated, repeated, resolved) and level.",
		}, []string{"rule", "transition", "level"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_alert_notifications_total",
			Help: "Alert notifications by notifier and outcome (sent, failed, dropped when the notifier's queue was full).",
		}, []string{"notifier", "outcome"}),
	}
}

// collectors returns every metric, for registration.
func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.sent, m.failures, m.deferrals, m.domainSent, m.domainFailed,
		m.lastEvent, m.events, m.state, m.transitions, m.notifications,
	}
}

// observe counts one live event.
func (m *metrics) observe(obs observation) {
	switch {
	case obs.deferred:
		m.deferrals.WithLabelValues(obs.composition).Inc()
		return
	case obs.sent:
		m.sent.WithLabelValues(obs.composition).Inc()
		if obs.domain != "" {
			m.domainSent.WithLabelValues(obs.domain).Inc()
		}
	}
	if !obs.failure {
		return
	}
	severity := "soft"
	if obs.hard {
		severity = "hard"
	}
	// NOTE: a failure is counted here by its first report. When CMC's
	// bounce later turns a soft failure into a hard one (a failed delivery
	// without classification), only the alerter's windows move it, so the
	// severity label undercounts hard failures until the ingress
	// classifies failed deliveries.
	m.failures.WithLabelValues(obs.composition, severity, obs.reason).Inc()
	if obs.domain != "" {
		m.domainFailed.WithLabelValues(obs.domain).Inc()
	}
}

// setState sets or removes the state series of a rule and key.
func (m *metrics) setState(rule, key string, level Level) {
	if level.rank() == 0 {
		m.state.DeleteLabelValues(rule, key)
		return
	}
	m.state.WithLabelValues(rule, key).Set(float64(level.rank()))
}
