package natsmetrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// StreamCollector reads a stream's state and its durable consumers' state
// from JetStream at each scrape. Ephemeral consumers, such as those of
// tail commands, are left out because their random names would make a new
// series each time.
type StreamCollector struct {
	js      jetstream.JetStream
	stream  string
	timeout time.Duration
	logger  *slog.Logger

	up          *prometheus.Desc
	messages    *prometheus.Desc
	bytes       *prometheus.Desc
	pending     *prometheus.Desc
	ackPending  *prometheus.Desc
	redelivered *prometheus.Desc
	waiting     *prometheus.Desc
}

// StreamCollectorConfig configures a StreamCollector.
type StreamCollectorConfig struct {
	// Stream is the stream's name. Required.
	Stream string

	// Timeout bounds the JetStream requests of one scrape. Defaults to 5s.
	Timeout time.Duration

	// Logger receives a Warn line when a scrape cannot read the stream.
	// Defaults to slog.Default().
	Logger *slog.Logger
}

// NewStreamCollector returns a collector of the stream's metrics, each
// labeled with the stream's name:
//
//   - mailbridge_stream_up: 1 when the last scrape read the stream.
//   - mailbridge_stream_messages and mailbridge_stream_bytes.
//   - mailbridge_consumer_pending{consumer}: messages not yet delivered.
//   - mailbridge_consumer_ack_pending{consumer}: delivered, not yet acked.
//   - mailbridge_consumer_redelivered{consumer}: delivered more than once
//     and not yet acked.
//   - mailbridge_consumer_waiting{consumer}: pull requests waiting.
func NewStreamCollector(js jetstream.JetStream, cfg StreamCollectorConfig) *StreamCollector {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	streamLabel := prometheus.Labels{"stream": cfg.Stream}
	consumerDesc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"consumer"}, streamLabel)
	}
	return &StreamCollector{
		js:      js,
		stream:  cfg.Stream,
		timeout: timeout,
		logger:  logger,

		up:       prometheus.NewDesc("mailbridge_stream_up", "1 when the last scrape read the stream's state from JetStream, else 0.", nil, streamLabel),
		messages: prometheus.NewDesc("mailbridge_stream_messages", "Messages stored in the stream.", nil, streamLabel),
		bytes:    prometheus.NewDesc("mailbridge_stream_bytes", "Bytes stored in the stream.", nil, streamLabel),
		pending: consumerDesc("mailbridge_consumer_pending",
			"Messages on the durable consumer's subjects not yet delivered to it (its lag)."),
		ackPending: consumerDesc("mailbridge_consumer_ack_pending",
			"Messages delivered to the durable consumer and not yet acknowledged."),
		redelivered: consumerDesc("mailbridge_consumer_redelivered",
			"Messages delivered to the durable consumer more than once and not yet acknowledged."),
		waiting: consumerDesc("mailbridge_consumer_waiting",
			"Pull requests waiting on the durable consumer."),
	}
}

// Describe sends the descriptors of every metric.
func (c *StreamCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.messages, c.bytes, c.pending, c.ackPending, c.redelivered, c.waiting} {
		ch <- d
	}
}

// Collect reads the stream and its consumers from JetStream. When the
// stream cannot be read it sends only mailbridge_stream_up 0, so the rest
// of the scrape still succeeds.
func (c *StreamCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()

	s, err := c.js.Stream(ctx, c.stream)
	if err != nil {
		c.logger.Warn("stream metrics unavailable", slog.String("stream", c.stream), slog.Any("error", err))
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	info := s.CachedInfo()
	ch <- prometheus.MustNewConstMetric(c.messages, prometheus.GaugeValue, float64(info.State.Msgs))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(info.State.Bytes))

	consumers := s.ListConsumers(ctx)
	for ci := range consumers.Info() {
		if ci.Config.Durable == "" {
			continue
		}
		name := ci.Name
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(ci.NumPending), name)
		ch <- prometheus.MustNewConstMetric(c.ackPending, prometheus.GaugeValue, float64(ci.NumAckPending), name)
		ch <- prometheus.MustNewConstMetric(c.redelivered, prometheus.GaugeValue, float64(ci.NumRedelivered), name)
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(ci.NumWaiting), name)
	}
	if err := consumers.Err(); err != nil {
		c.logger.Warn("consumer metrics incomplete", slog.String("stream", c.stream), slog.Any("error", err))
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
}
