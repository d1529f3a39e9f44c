package ingress

import (
	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	webhooks       *prometheus.CounterVec
	events         *prometheus.CounterVec
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
			Help: "Webhook records by CloudEvent type and outcome (accepted, duplicate, rejected).",
		}, []string{"type", "outcome"}),
		publishSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mailbridge_publish_duration_seconds",
			Help:    "Time from the first publish of a batch until JetStream acknowledged all of it.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	if reg != nil {
		reg.MustRegister(m.webhooks, m.events, m.publishSeconds)
	}
	return m
}
