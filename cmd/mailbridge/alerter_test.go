package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/alert"
)

// cmcBatch returns a CMC webhook body of one event type.
func cmcBatch(t *testing.T, eventType string, records []map[string]string) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"event_type":         eventType,
		"server_composition": "pro",
		"event":              map[string]any{eventType: records},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func record(status, to, messageID string) map[string]string {
	return map[string]string{
		"created": "2026-01-25 14:06:06", "returnPath": "info@return.pro.smtps.jp",
		"from": "info@example.com", "to": to, "messageId": messageID,
		"subject": "test", "reason": "550 5.1.1 user unknown", "status": status,
	}
}

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestServeAlertsWebhookOnHardBounces(t *testing.T) {
	receiver := make(chan http.Header, 10)
	webhook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		receiver <- r.Header.Clone()
	}))
	defer webhook.Close()

	t.Setenv("MAILBRIDGE_NATS_URL", "")
	// The embedded server's port 0 is nats-server's default port 4222, not
	// a free one, so the test picks a free port itself.
	t.Setenv("MAILBRIDGE_EMBEDDED_NATS_ADDR", freeLoopbackAddr(t))
	t.Setenv("MAILBRIDGE_DATA_DIR", t.TempDir())
	t.Setenv("MAILBRIDGE_HTTP_ADDR", "127.0.0.1:0")
	t.Setenv("MAILBRIDGE_ALERTER", "auto")
	t.Setenv("MAILBRIDGE_ALERT_WEBHOOK_URL", webhook.URL)
	t.Setenv("MAILBRIDGE_ALERT_HARD_BOUNCE_MIN_SENT", "10")
	var cfg serveConfig
	if err := loadConfig(&cfg); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	stopped := make(chan struct{})
	var serveErr error
	go func() {
		defer close(stopped)
		serveErr = serve(ctx, cfg, logger, ready)
		done <- serveErr
	}()
	defer func() {
		cancel()
		<-stopped
		if serveErr != nil {
			t.Errorf("serve: %v", serveErr)
		}
	}()
	var httpAddr net.Addr
	select {
	case httpAddr = <-ready:
	case err := <-done:
		t.Fatalf("serve stopped: %v\n%s", err, logs)
	case <-time.After(15 * time.Second):
		t.Fatalf("serve not ready within 15s\n%s", logs)
	}
	if !strings.Contains(logs.String(), `msg="component started" component=alerter`) {
		t.Fatalf("the alerter did not start with the embedded default\n%s", logs)
	}

	// Reach the embedded server through the port it logged.
	match := regexp.MustCompile(`msg="embedded nats server started" client_addr=(\S+)`).FindStringSubmatch(logs.String())
	if match == nil {
		t.Fatalf("no embedded server address in the log\n%s", logs)
	}
	nc, err := nats.Connect("nats://" + match[1])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	// Wait for the alerter's durable, so that the events below reach it
	// live rather than through the rebuild on start.
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancelWait := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelWait()
	for {
		if _, err := js.Consumer(waitCtx, "MAIL", "alerter"); err == nil {
			break
		}
		select {
		case <-waitCtx.Done():
			t.Fatalf("no alerter durable within 10s\n%s", logs)
		case <-time.After(10 * time.Millisecond):
		}
	}

	// Four user-unknown bounces, then their failed deliveries among 20
	// sends: 4 hard failures in 20 sends, 20%, each counted once.
	url := "http://" + httpAddr.String() + "/webhooks/cmc"
	var bounces, deliveries []map[string]string
	for i := range 20 {
		id := fmt.Sprintf("<m%d@example.com>", i)
		to := fmt.Sprintf("user%d@example.jp", i)
		if i < 4 {
			bounces = append(bounces, record("2", to, id))
			deliveries = append(deliveries, record("failed", to, id))
			continue
		}
		deliveries = append(deliveries, record("succeeded", to, id))
	}
	start := time.Now()
	for _, body := range [][]byte{cmcBatch(t, "bounces", bounces), cmcBatch(t, "deliveries", deliveries)} {
		resp, err := http.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook status = %d", resp.StatusCode)
		}
	}

	var header http.Header
	select {
	case header = <-receiver:
	case <-time.After(5*time.Second - time.Since(start)):
		t.Fatalf("no alert at the webhook within 5s\n%s", logs)
	}
	if got := header.Get("ce-type"); got != alert.TypeFiring {
		t.Errorf("ce-type = %q, want %q", got, alert.TypeFiring)
	}
	if got := header.Get("ce-subject"); got != "pro" {
		t.Errorf("ce-subject = %q, want pro", got)
	}

	// The CloudEvent was published before the webhook was called.
	infoCtx, cancelInfo := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelInfo()
	s, err := js.Stream(infoCtx, "MAIL")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(infoCtx, jetstream.WithSubjectFilter("mail.alerts.>"))
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Subjects["mail.alerts.hard_bounce_rate"]; got != 1 || len(info.State.Subjects) != 1 {
		t.Errorf("alert CloudEvents on mail.alerts.> = %v, want one on mail.alerts.hard_bounce_rate", info.State.Subjects)
	}
}
