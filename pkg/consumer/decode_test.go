package consumer_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// extraBodies are webhook bodies for the event types that the vendor's
// examples lack.
var extraBodies = map[string]string{
	"deferred": `{"event_type":"deliveries","server_composition":"pro","event":{"deliveries":[` +
		`{"created":"2023-01-25 14:10:00","to":"slow@example.jp","status":"deferred",` +
		`"reason":"451 4.7.1 try again later","messageId":"<m1@example.com>"}]}}`,
	"unknown status": `{"event_type":"deliveries","server_composition":"pro","event":{"deliveries":[` +
		`{"created":"2023-01-25 14:11:00","to":"odd@example.jp","status":"bouncing"}]}}`,
	"block": `{"event_type":"blocks","server_composition":"pro","event":{"blocks":[` +
		`{"created":"2023-01-25 14:12:00","email":"blocked@example.jp","status":"1"}]}}`,
}

// classify replaces the bounce classifier in tests. Every failure is hard.
func classify(diagnostic, bounceCode, status string) mailevent.Classification {
	return mailevent.Classification{Reason: "userunknown", Hard: true, SMTPCode: "550", EnhancedStatus: "5.1.1"}
}

// postAll posts the vendor's examples and extraBodies to an ingress that
// publishes in mode, and returns how many events it published.
func postAll(t *testing.T, srv http.Handler) int {
	t.Helper()
	paths, err := filepath.Glob("../../testdata/cmc/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("vendor examples not found: %v", err)
	}
	var bodies [][]byte
	for _, path := range paths {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	for _, body := range extraBodies {
		bodies = append(bodies, []byte(body))
	}

	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	for _, body := range bodies {
		resp, err := http.Post(ts.URL+ingress.WebhookPath, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook answered %d: %s", resp.StatusCode, answer)
		}
	}
	return len(bodies) // every body holds one record
}

func TestRunDecodesEveryType(t *testing.T) {
	t.Parallel()
	for _, mode := range []mailevent.Mode{mailevent.ModeBinary, mailevent.ModeStructured} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			srv := setup(t)
			h, err := ingress.New(srv.Conn, srv.JS, ingress.Config{
				StreamName: stream.DefaultName,
				Builder:    &mailevent.Builder{Subjects: subjects, Location: time.UTC, Classify: classify},
				Mode:       mode,
				Logger:     testLogger(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			want := postAll(t, h.Routes(nil))

			var mu sync.Mutex
			got := make(map[string]any) // by event type and subject
			runAsync(t, srv.JS, fastConfig(t, "decode"), func(_ context.Context, msg *consumer.Msg) error {
				data, err := msg.Data()
				if err != nil {
					return consumer.Permanent(err)
				}
				mu.Lock()
				defer mu.Unlock()
				got[msg.Event.Type+" "+msg.Subject] = data
				return nil
			})
			waitFor(t, 10*time.Second, "every event", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(got) == want
			})

			mu.Lock()
			defer mu.Unlock()
			checkDelivery(t, got, mailevent.TypeDeliveryQueued, "mail.deliveries.queued", false)
			checkDelivery(t, got, mailevent.TypeDeliverySucceeded, "mail.deliveries.succeeded", false)
			checkDelivery(t, got, mailevent.TypeDeliveryFailed, "mail.deliveries.failed", true)
			checkDelivery(t, got, mailevent.TypeDeliveryDeferred, "mail.deliveries.deferred", true)
			checkDelivery(t, got, mailevent.TypeDeliveryUnknown, "mail.deliveries.unknown", false)
			checkBounce(t, got, "mail.bounces.user_unknown", 2)
			checkBounce(t, got, "mail.bounces.host_unknown", 1)

			block, ok := got[mailevent.TypeBlock+" mail.blocks.1"].(*mailevent.Block)
			if !ok {
				t.Fatalf("block: got %T, want *mailevent.Block", got[mailevent.TypeBlock+" mail.blocks.1"])
			}
			if block.Email != "blocked@example.jp" || block.Status != "1" || block.ServerComposition != "pro" {
				t.Errorf("block = %+v", block)
			}
		})
	}
}

func checkDelivery(t *testing.T, got map[string]any, eventType, subject string, classified bool) {
	t.Helper()
	d, ok := got[eventType+" "+subject].(*mailevent.Delivery)
	if !ok {
		t.Errorf("%s on %s: got %T, want *mailevent.Delivery", eventType, subject, got[eventType+" "+subject])
		return
	}
	if d.To == "" || d.Created == "" || d.ServerComposition != "pro" {
		t.Errorf("%s: data missing to, created or server_composition: %+v", eventType, d)
	}
	if classified != (d.Classification != nil) {
		t.Errorf("%s: classification = %+v, want present %v", eventType, d.Classification, classified)
	}
	if classified && !d.Classification.Hard {
		t.Errorf("%s: classification.hard = false, want the classifier's true", eventType)
	}
}

func checkBounce(t *testing.T, got map[string]any, subject string, code int) {
	t.Helper()
	b, ok := got[mailevent.TypeBounce+" "+subject].(*mailevent.Bounce)
	if !ok {
		t.Errorf("bounce on %s: got %T, want *mailevent.Bounce", subject, got[mailevent.TypeBounce+" "+subject])
		return
	}
	if b.BounceCode == nil || *b.BounceCode != code {
		t.Errorf("%s: bounce_code = %v, want %d", subject, b.BounceCode, code)
	}
	if b.BounceName != mailevent.BounceName(b.Status) || b.To == "" {
		t.Errorf("%s: data = %+v", subject, b)
	}
	if b.Classification == nil || b.Classification.Reason != "userunknown" {
		t.Errorf("%s: classification = %+v, want the classifier's verdict", subject, b.Classification)
	}
}
