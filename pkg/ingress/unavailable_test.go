package ingress_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/ingress"
)

func TestUnavailableJetStreamAnswers503(t *testing.T) {
	t.Parallel()
	const publishTimeout = 500 * time.Millisecond
	// margin covers the HTTP round trip and a slow machine; a handler that
	// waited for the NATS reconnect instead would take seconds longer.
	const margin = 1500 * time.Millisecond

	breakers := []struct {
		name    string
		disrupt func(t *testing.T, b *bridge)
	}{
		{"server stopped", func(t *testing.T, b *bridge) { b.nats.Shutdown() }},
		{"stream deleted", func(t *testing.T, b *bridge) {
			if err := b.nats.JS.DeleteStream(natstest.Context(t, 5*time.Second), streamName); err != nil {
				t.Fatal(err)
			}
		}},
	}
	bodies := []struct {
		name string
		body []byte
	}{
		{"vendor example", readExample(t, "bounces-user-unknown.json")},
		{"batch of 100", mixedDeliveries(t, 100)},
		{"unreadable body", []byte(`{"event_type":`)},
	}
	for _, br := range breakers {
		for _, body := range bodies {
			t.Run(br.name+"/"+body.name, func(t *testing.T) {
				t.Parallel()
				b := setup(t, func(cfg *ingress.Config) {
					cfg.PublishTimeout = publishTimeout
					cfg.RetryAfter = 3 * time.Second
				})
				br.disrupt(t, b)

				start := time.Now()
				resp := b.post(t, "application/json", body.body, nil)
				elapsed := time.Since(start)

				if resp.status != http.StatusServiceUnavailable {
					t.Fatalf("status = %d, want 503; body %s", resp.status, resp.body)
				}
				if got := resp.header.Get("Retry-After"); got != strconv.Itoa(3) {
					t.Errorf("Retry-After = %q, want 3", got)
				}
				resp.errorMessage(t)
				if elapsed > publishTimeout+margin {
					t.Errorf("answered after %s, want within %s", elapsed, publishTimeout+margin)
				}
			})
		}
	}
}

func TestReadyzFollowsStream(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	get := func(path string) int {
		resp, err := b.http.Client().Get(b.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := get("/healthz"); status != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", status)
	}
	if status := get("/readyz"); status != http.StatusOK {
		t.Errorf("/readyz = %d, want 200", status)
	}
	if err := b.nats.JS.DeleteStream(natstest.Context(t, 5*time.Second), streamName); err != nil {
		t.Fatal(err)
	}
	if status := get("/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz without the stream = %d, want 503", status)
	}
	b.nats.Shutdown()
	waitFor(t, 5*time.Second, "/readyz to report the lost connection", func() bool {
		return get("/readyz") == http.StatusServiceUnavailable
	})
	if status := get("/healthz"); status != http.StatusOK {
		t.Errorf("/healthz with NATS down = %d, want 200", status)
	}
}

// TestRequestDeadlineEndsPublishWait gives a webhook a context deadline
// far shorter than the publish timeout, as a function invocation has, and
// a subject that takes messages without ever acknowledging them.
func TestRequestDeadlineEndsPublishWait(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *ingress.Config) { cfg.PublishTimeout = time.Minute })
	if err := b.nats.JS.DeleteStream(natstest.Context(t, 5*time.Second), streamName); err != nil {
		t.Fatal(err)
	}
	// A plain subscriber keeps the publishes from failing with no
	// responders, and never replies.
	sub, err := b.nats.Conn.SubscribeSync("mail.>")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })

	const deadline = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/webhooks/cmc", bytes.NewReader(readExample(t, "bounces-user-unknown.json")))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	start := time.Now()
	b.handler.ServeHTTP(rec, req)
	elapsed := time.Since(start)

	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503; body %s", rec.Code, rec.Body)
	}
	// The margin allows for a slow machine, far below the minute-long
	// publish timeout.
	if elapsed > deadline+5*time.Second {
		t.Errorf("responded after %s, want soon after the request's %s deadline", elapsed, deadline)
	}
}

// TestOtherStreamStoresNothing points the ingress at a stream name while
// another stream captures its subjects. JetStream must reject every
// message, the events and the rejected record alike, and the sender must
// get 503.
func TestOtherStreamStoresNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *ingress.Config) { cfg.StreamName = "ELSEWHERE" })
	body := `{"event_type":"bounces","server_composition":"pro","event":{"bounces":[
		{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"2"},
		"not a record",
		{"created":"2023-01-25 14:03:07","to":"b@example.jp","status":"2"}]}}`
	for attempt := range 2 {
		resp := b.post(t, "application/json", []byte(body), nil)
		if resp.status != http.StatusServiceUnavailable {
			t.Fatalf("attempt %d: status = %d, want 503; body %s", attempt, resp.status, resp.body)
		}
	}
	if stored := b.stored(t); len(stored) != 0 {
		t.Errorf("%s contains %d messages, want none: the first on %s", streamName, len(stored), stored[0].Subject)
	}
}
