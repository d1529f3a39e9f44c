package natsmetrics_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/natsmetrics"
)

func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	values := map[string]float64{}
	for _, family := range families {
		for _, m := range family.GetMetric() {
			key := family.GetName()
			for _, pair := range m.GetLabel() {
				if pair.GetName() == "consumer" {
					key += "/" + pair.GetValue()
				}
			}
			switch {
			case m.Gauge != nil:
				values[key] = m.GetGauge().GetValue()
			case m.Counter != nil:
				values[key] = m.GetCounter().GetValue()
			}
		}
	}
	return values
}

func TestStreamCollectorMissingStream(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	reg := prometheus.NewRegistry()
	reg.MustRegister(natsmetrics.NewStreamCollector(ns.JS, natsmetrics.StreamCollectorConfig{
		Stream:  "NOPE",
		Timeout: 2 * time.Second,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}))

	values := gather(t, reg)
	if up, ok := values["mailbridge_stream_up"]; !ok || up != 0 {
		t.Errorf("mailbridge_stream_up = %v (present %v), want 0", up, ok)
	}
	if len(values) != 1 {
		t.Errorf("got %d series, want only mailbridge_stream_up: %v", len(values), values)
	}
}

func TestStreamCollectorDurablesOnly(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := ns.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "MAIL", Subjects: []string{"mail.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := ns.JS.Publish(ctx, "mail.deliveries.queued", []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ns.JS.CreateOrUpdateConsumer(ctx, "MAIL", jetstream.ConsumerConfig{Durable: "worker", FilterSubject: "mail.deliveries.*"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.JS.CreateConsumer(ctx, "MAIL", jetstream.ConsumerConfig{InactiveThreshold: time.Minute}); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(natsmetrics.NewStreamCollector(ns.JS, natsmetrics.StreamCollectorConfig{Stream: "MAIL"}))
	values := gather(t, reg)

	want := map[string]float64{
		"mailbridge_stream_up":                   1,
		"mailbridge_stream_messages":             3,
		"mailbridge_consumer_pending/worker":     3,
		"mailbridge_consumer_ack_pending/worker": 0,
		"mailbridge_consumer_redelivered/worker": 0,
		"mailbridge_consumer_waiting/worker":     0,
	}
	for key, v := range want {
		if got, ok := values[key]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, v)
		}
	}
	if n := testutil.CollectAndCount(natsmetrics.NewStreamCollector(ns.JS, natsmetrics.StreamCollectorConfig{Stream: "MAIL"}), "mailbridge_consumer_pending"); n != 1 {
		t.Errorf("mailbridge_consumer_pending has %d series, want 1: the ephemeral consumer must be left out", n)
	}
}

func TestConnectionMetricsFollowState(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	nc := ns.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := natsmetrics.RegisterConnection(reg, nc, js); err != nil {
		t.Fatal(err)
	}

	values := gather(t, reg)
	if values["mailbridge_nats_connected"] != 1 {
		t.Errorf("mailbridge_nats_connected = %v, want 1", values["mailbridge_nats_connected"])
	}
	if v, ok := values["mailbridge_pub_acks_pending"]; !ok || v != 0 {
		t.Errorf("mailbridge_pub_acks_pending = %v (present %v), want 0", v, ok)
	}

	nc.Close()
	if v := gather(t, reg)["mailbridge_nats_connected"]; v != 0 {
		t.Errorf("mailbridge_nats_connected after Close = %v, want 0", v)
	}
}
