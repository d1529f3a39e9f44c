package suppression

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of an event handled by Store.HandleEvent, the values of the
// outcome label of mailbridge_suppression_events_total.
const (
	OutcomeChanged   = "changed"   // the event changed the address's record
	OutcomeUnchanged = "unchanged" // the event was read but changed nothing, such as a repeat
	OutcomeIgnored   = "ignored"   // the event type carries nothing about the recipient
	OutcomeInvalid   = "invalid"   // the data or recipient cannot be read: dead-lettered
	OutcomeFailed    = "failed"    // the record could not be written: delivered again
)

// Metrics are the suppression list's Prometheus metrics. One value serves a
// Store (Config.Metrics), an API (APIConfig.Metrics) and the size of an
// Index, all registered at once with Register. A nil *Metrics records
// nothing.
type Metrics struct {
	changes        *prometheus.CounterVec
	events         *prometheus.CounterVec
	checkAddresses prometheus.Histogram
	checkDuration  prometheus.Histogram
}

// NewMetrics returns the suppression metrics, not yet registered:
//
//   - mailbridge_suppression_changes_total{change}: records that changed
//     the list, by change (added, removed, updated).
//   - mailbridge_suppression_events_total{outcome}: events handled by the
//     suppression consumer, by outcome (see the Outcome constants).
//   - mailbridge_suppression_check_addresses: addresses per bulk check.
//   - mailbridge_suppression_check_duration_seconds: time to look up the
//     addresses of one bulk check in the index.
//   - mailbridge_suppression_addresses{severity, source}: suppressed
//     addresses in the index, by severity (hard or soft) and source
//     (bounce, manual, import, or unknown for records without one).
func NewMetrics() *Metrics {
	return &Metrics{
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_suppression_changes_total",
			Help: "Changes written to the suppression list by this process, by change: added, removed or updated.",
		}, []string{"change"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailbridge_suppression_events_total",
			Help: "Events handled by the suppression consumer, by outcome: changed, unchanged, ignored, invalid (dead-lettered) or failed (delivered again).",
		}, []string{"outcome"}),
		checkAddresses: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mailbridge_suppression_check_addresses",
			Help:    "Addresses per bulk check of the admin API.",
			Buckets: prometheus.ExponentialBuckets(1, 10, 6), // 1 to 100,000, the default MaxCheck
		}),
		checkDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mailbridge_suppression_check_duration_seconds",
			Help:    "Time to look up the addresses of one bulk check in the index.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10), // 100µs to about 26s
		}),
	}
}

// Register registers every metric on reg. index, when not nil, is read at
// each scrape for mailbridge_suppression_addresses.
func (m *Metrics) Register(reg prometheus.Registerer, index *Index) error {
	collectors := []prometheus.Collector{m.changes, m.events, m.checkAddresses, m.checkDuration}
	if index != nil {
		collectors = append(collectors, sizeCollector{index: index, desc: prometheus.NewDesc(
			"mailbridge_suppression_addresses",
			"Suppressed addresses in this process's index, by severity (hard or soft) and source (bounce, manual, import or unknown).",
			[]string{"severity", "source"}, nil)})
	}
	var errs []error
	for _, c := range collectors {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}

func (m *Metrics) change(kind string) {
	if m != nil {
		m.changes.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) event(outcome string) {
	if m != nil {
		m.events.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) check(addresses int, took time.Duration) {
	if m != nil {
		m.checkAddresses.Observe(float64(addresses))
		m.checkDuration.Observe(took.Seconds())
	}
}

// sizeCollector reports the index's size by severity and source.
type sizeCollector struct {
	index *Index
	desc  *prometheus.Desc
}

func (c sizeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c sizeCollector) Collect(ch chan<- prometheus.Metric) {
	counts := c.index.counts()
	for code, source := range indexSources {
		for _, hard := range []bool{true, false} {
			severity := "soft"
			if hard {
				severity = "hard"
			}
			n := counts[sizeKey{hard: hard, source: uint8(code)}]
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), severity, source)
		}
	}
}
