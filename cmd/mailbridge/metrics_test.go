package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// scrape reads serve's /metrics.
func scrape(t *testing.T, baseURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics status = %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// metricValue returns the value of the series of name whose labels include
// labels, and false when there is none. Counters, gauges and the sample
// count of histograms are read.
func metricValue(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	family, ok := families[name]
	if !ok {
		return 0, false
	}
	total, found := 0.0, false
series:
	for _, m := range family.GetMetric() {
		have := map[string]string{}
		for _, pair := range m.GetLabel() {
			have[pair.GetName()] = pair.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue series
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total, found
}

func postWebhook(t *testing.T, baseURL string, body []byte) int {
	t.Helper()
	resp, err := http.Post(baseURL+ingress.WebhookPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestMetricsAfterTraffic(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	cfg := defaultServeConfig(t, ns.URL())
	baseURL := startServeConfig(t, cfg)
	ctx := natstest.Context(t, 60*time.Second)

	// Traffic: three batches, one repeated batch and one malformed body.
	for _, name := range []string{"deliveries-queued.json", "deliveries-failed.json", "bounces-user-unknown.json", "deliveries-queued.json"} {
		if status := postWebhook(t, baseURL, readTestdata(t, name)); status != http.StatusOK {
			t.Fatalf("%s: status %d", name, status)
		}
	}
	if status := postWebhook(t, baseURL, []byte(`{"event_type": "deliveries", "event": [`)); status != http.StatusBadRequest {
		t.Fatalf("malformed body: status %d, want 400", status)
	}

	// Consumers: "alerter" holds two or more messages unacknowledged, one
	// of them redelivered after a nak; "idle" has read nothing; an ordered consumer
	// is ephemeral and must not be exported.
	alerter, err := ns.JS.CreateOrUpdateConsumer(ctx, cfg.StreamName, jetstream.ConsumerConfig{
		Durable: "alerter", AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := alerter.Fetch(2, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var held []jetstream.Msg
	for msg := range batch.Messages() {
		held = append(held, msg)
	}
	if len(held) != 2 {
		t.Fatalf("fetched %d messages, want 2", len(held))
	}
	if err := held[0].Nak(); err != nil {
		t.Fatal(err)
	}
	// A nak is not acknowledged, so the next fetch may still get a new
	// message before the redelivery. Hold every message until then.
	var redelivered jetstream.Msg
	for redelivered == nil {
		msg, err := alerter.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("fetch the redelivery: %v", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		if meta.NumDelivered > 1 {
			redelivered = msg
		} else {
			held = append(held, msg)
		}
	}
	delivered := float64(len(held)) // the nakked message is held[0]
	if _, err := ns.JS.CreateOrUpdateConsumer(ctx, cfg.StreamName, jetstream.ConsumerConfig{Durable: "idle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.JS.OrderedConsumer(ctx, cfg.StreamName, jetstream.OrderedConsumerConfig{}); err != nil {
		t.Fatal(err)
	}

	families := scrape(t, baseURL)
	stream := map[string]string{"stream": cfg.StreamName}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"mailbridge_webhooks_total", map[string]string{"code": "200", "event_type": "deliveries"}, 3},
		{"mailbridge_webhooks_total", map[string]string{"code": "200", "event_type": "bounces"}, 1},
		{"mailbridge_webhooks_total", map[string]string{"code": "400"}, 1},
		{"mailbridge_events_total", map[string]string{"type": mailevent.TypeDeliveryQueued, "outcome": "accepted"}, 1},
		{"mailbridge_events_total", map[string]string{"type": mailevent.TypeDeliveryQueued, "outcome": "duplicate"}, 1},
		{"mailbridge_events_total", map[string]string{"type": mailevent.TypeDeliveryFailed, "outcome": "accepted"}, 1},
		{"mailbridge_events_total", map[string]string{"type": mailevent.TypeBounce, "outcome": "accepted"}, 1},
		{"mailbridge_rejected_total", map[string]string{"kind": "body"}, 1},
		{"mailbridge_publish_duration_seconds", nil, 4},
		{"mailbridge_pub_acks_pending", nil, 0},
		{"mailbridge_nats_connected", nil, 1},
		{"mailbridge_nats_reconnects_total", nil, 0},
		{"mailbridge_stream_up", stream, 1},
		// Three events and the malformed body on the rejected subject.
		{"mailbridge_stream_messages", stream, 4},
		{"mailbridge_consumer_pending", map[string]string{"consumer": "alerter"}, 4 - delivered},
		{"mailbridge_consumer_ack_pending", map[string]string{"consumer": "alerter"}, delivered},
		{"mailbridge_consumer_redelivered", map[string]string{"consumer": "alerter"}, 1},
		{"mailbridge_consumer_pending", map[string]string{"consumer": "idle"}, 4},
		{"mailbridge_consumer_ack_pending", map[string]string{"consumer": "idle"}, 0},
	}
	for _, c := range checks {
		got, ok := metricValue(families, c.name, c.labels)
		if !ok {
			t.Errorf("%s%v: no such series", c.name, c.labels)
			continue
		}
		if got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if bytesStored, _ := metricValue(families, "mailbridge_stream_bytes", stream); bytesStored <= 0 {
		t.Errorf("mailbridge_stream_bytes = %v, want more than 0", bytesStored)
	}
	for _, m := range families["mailbridge_consumer_pending"].GetMetric() {
		for _, pair := range m.GetLabel() {
			if pair.GetName() == "consumer" && pair.GetValue() != "alerter" && pair.GetValue() != "idle" {
				t.Errorf("consumer %q is exported, want only the durables", pair.GetValue())
			}
		}
	}
	for _, msg := range append(held[1:], redelivered) {
		if err := msg.Ack(); err != nil {
			t.Fatal(err)
		}
	}

	// A NATS server restart shows as a reconnect.
	ns.Restart(t)
	waitForMetric(t, baseURL, "mailbridge_nats_reconnects_total", 1)
	waitForMetric(t, baseURL, "mailbridge_nats_connected", 1)
}

// waitForMetric scrapes until the unlabeled metric name has the value
// want, failing after 15 s.
func waitForMetric(t *testing.T, baseURL, name string, want float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	var got float64
	for {
		got, _ = metricValue(scrape(t, baseURL), name, nil)
		if got == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s = %v after 15s, want %v", name, got, want)
		case <-ticker.C:
		}
	}
}
