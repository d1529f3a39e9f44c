package ingress

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	webhooks       *prometheus.CounterVec
	events         *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	publishSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_webhooks_total",
			Help: "Webhook requests by HTTP status code and event_type.",
		}, []string{"code", "event_type"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_events_total",
			Help: "Webhook records published as CloudEvents, by CloudEvent type and outcome (accepted, duplicate).",
		}, []string{"type", "outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_rejected_total",
			Help: "Input kept on the rejected subject, by event_type (empty when unread, unknown when not one CMC sends) and kind (body or record).",
		}, []string{"event_type", "kind"}),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mailbridge_publish_duration_seconds",
			Help:    "Time from the first publish of a batch until JetStream acknowledged all of it.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.webhooks, m.events, m.rejected, m.publishSeconds)
	}
	return m
}
