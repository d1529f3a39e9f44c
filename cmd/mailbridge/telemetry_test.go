package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
	"github.com/mailbridge/mailbridge/pkg/suppression"
)

func TestSuppressorRegistersOnServeRegistry(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	registry := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	run, err := startSuppressor(ctx, srv.JS, testSuppressorSettings(), testServeConfig(t).StreamConfig,
		mailevent.ModeBinary, discardLogger(), telemetry{Registry: registry})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = run.wait()
	})

	client := &suppression.Client{BaseURL: "http://" + run.adminAddr.String()}
	if _, err := client.SuppressionAdd(natstest.Context(t, 10*time.Second), "a@example.jp", "complaint", ""); err != nil {
		t.Fatalf("add through the suppressor's API: %v", err)
	}
	families, err := registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, f := range families {
		found[f.GetName()] = true
	}
	for _, name := range []string{"mailbridge_suppression_addresses", "mailbridge_suppression_changes_total"} {
		if !found[name] {
			t.Errorf("serve's registry lacks %s", name)
		}
	}
}

// scrapeUntil scrapes url until every name has a series, and fails the
// test after timeout.
func scrapeUntil(t *testing.T, baseURL string, timeout time.Duration, names ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		// The listener starts after the connection to NATS, so a refused
		// connection means not yet.
		var families map[string]*dto.MetricFamily
		if resp, err := http.Get(baseURL + "/metrics"); err == nil {
			resp.Body.Close()
			families = scrape(t, baseURL)
		}
		var missing []string
		for _, name := range names {
			if _, ok := families[name]; !ok {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics at %s lacks %v after %s", baseURL, missing, timeout)
		}
		<-ticker.C
	}
}

// traceCollector is an OTLP/HTTP endpoint that reports each trace export.
func traceCollector(t *testing.T) (url string, exports <-chan string) {
	t.Helper()
	received := make(chan string, 64)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case received <- r.URL.Path:
		default:
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(collector.Close)
	return collector.URL, received
}

// runCommandAsync runs a mailbridge command until the returned stop is
// called, which returns the command's error.
func runCommandAsync(t *testing.T, run func(context.Context, []string, io.Reader, io.Writer, io.Writer) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := run(ctx, nil, nil, io.Discard, testLogWriter{t})
		if ctx.Err() == nil {
			t.Errorf("command returned before its stop: %v", err)
		}
		done <- err
	}()
	return func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(20 * time.Second):
			t.Fatal("command did not stop within 20s")
			return nil
		}
	}
}

func TestStandaloneConsumersExportMetricsAndTraces(t *testing.T) {
	for _, tc := range []struct {
		command    string
		run        func(context.Context, []string, io.Reader, io.Writer, io.Writer) error
		metricsVar string
		metrics    []string
	}{
		{"suppressor", runSuppressor, "MAILBRIDGE_SUPPRESSOR_METRICS_ADDR",
			[]string{"mailbridge_suppression_addresses", "mailbridge_nats_connected", "mailbridge_stream_up", "mailbridge_consumer_pending"}},
		{"alerter", runAlerter, "MAILBRIDGE_ALERT_METRICS_ADDR",
			[]string{"mailbridge_alert_last_event_timestamp_seconds", "mailbridge_nats_connected", "mailbridge_stream_up", "mailbridge_consumer_pending"}},
	} {
		t.Run(tc.command, func(t *testing.T) {
			srv := natstest.Start(t)
			if _, err := stream.Ensure(natstest.Context(t, 10*time.Second), srv.JS, streamSettings(testServeConfig(t).StreamConfig)); err != nil {
				t.Fatalf("ensure stream: %v", err)
			}
			collectorURL, exports := traceCollector(t)
			metricsAddr := freeLoopbackAddr(t)
			t.Setenv("MAILBRIDGE_NATS_URL", srv.URL())
			t.Setenv("MAILBRIDGE_OTEL_EXPORTER_OTLP_ENDPOINT", collectorURL)
			t.Setenv(tc.metricsVar, metricsAddr)
			t.Setenv("MAILBRIDGE_LOG_LEVEL", "debug")

			// A failed delivery that carries a trace, for the consumer
			// to continue.
			ev := mailevent.Event{
				ID: "traced-" + tc.command, Source: mailevent.Source("pro"), Type: mailevent.TypeDeliveryFailed,
				Subject: "user@example.jp", Time: time.Now().UTC(), DataContentType: "application/json",
				Data: []byte(`{"created":"2026-01-25 14:06:06","to":"user@example.jp","messageId":"<m1@example.com>","status":"failed",` +
					`"reason":"550 5.1.1 user unknown","classification":{"reason":"userunknown","hard":true}}`),
				Extensions: map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
			}
			stop := runCommandAsync(t, tc.run)
			scrapeUntil(t, "http://"+metricsAddr, 20*time.Second, tc.metrics...)
			ctx := natstest.Context(t, 10*time.Second)
			if _, err := srv.JS.PublishMsg(ctx, mailevent.Encode(&ev, "mail.deliveries.failed", mailevent.ModeBinary)); err != nil {
				t.Fatal(err)
			}
			waitForAckFloor(t, srv, tc.command)

			if err := stop(); err != nil {
				t.Fatalf("%s: %v", tc.command, err)
			}
			select {
			case path := <-exports:
				if path != "/v1/traces" {
					t.Errorf("collector received %s, want /v1/traces", path)
				}
			default:
				t.Error("the collector received no spans from the consumer")
			}
		})
	}
}

// waitForAckFloor waits until the durable has acked every message.
func waitForAckFloor(t *testing.T, srv *natstest.Server, durable string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	for {
		ctx := natstest.Context(t, 5*time.Second)
		if cons, err := srv.JS.Consumer(ctx, "MAIL", durable); err == nil {
			if info, err := cons.Info(ctx); err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Stream > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s did not ack the event within 20s", durable)
		}
		<-ticker.C
	}
}
