package backfill_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/cmcapitest"
	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/backfill"
	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/cmcapi"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/replay"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

const testStream = "MAIL"

var tokyo = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		panic(err)
	}
	return loc
}()

func newBuilder() *mailevent.Builder {
	return &mailevent.Builder{Subjects: mailevent.Subjects{Prefix: "mail"}, Location: tokyo}
}

// dayRecords returns n records of 2023-01-25 in the webhook's version 2
// field names, as the API is assumed to send them.
func dayRecords(n int, kind string) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		status, reason := []string{"queued", "succeeded", "failed", "deferred"}[i%4], ""
		if kind == "bounces" {
			status, reason = "2", "550 5.1.1 user unknown"
		}
		created := time.Date(2023, 1, 25, 8, 0, i, 0, tokyo).Format(time.DateTime)
		raw, _ := json.Marshal(map[string]string{
			"created": created, "returnPath": "info@return.pro.smtps.jp", "from": "info@example.com",
			"to": fmt.Sprintf("%s%03d@example.jp", kind, i), "messageId": fmt.Sprintf("<%s-%d@example.com>", kind, i),
			"subject": "テスト", "reason": reason, "senderIp": "", "sourceIp": "", "apiData": "", "status": status,
		})
		out[i] = raw
	}
	return out
}

type fixture struct {
	srv     *natstest.Server
	api     *cmcapitest.Server
	client  *cmcapi.Client
	webhook *httptest.Server
}

func setup(t *testing.T, records map[string][]json.RawMessage) *fixture {
	t.Helper()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Name: testStream, Subjects: []string{"mail.>"}}); err != nil {
		t.Fatal(err)
	}
	handler, err := ingress.New(srv.Conn, srv.JS, ingress.Config{
		StreamName: testStream, Builder: newBuilder(), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	webhook := httptest.NewServer(handler.Routes(nil))
	t.Cleanup(webhook.Close)

	api := cmcapitest.Start(t, records)
	client, err := cmcapi.New(cmcapi.Config{
		BaseURL: api.URL, APIUser: cmcapitest.APIUser, APIKey: cmcapitest.APIKey, ServerComposition: cmcapitest.ServerComposition,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, api: api, client: client, webhook: webhook}
}

// post sends records to the ingress as CMC's JSON webhook does, in
// batches of at most 100.
func (f *fixture) post(t *testing.T, kind string, records []json.RawMessage) {
	t.Helper()
	for start := 0; start < len(records); start += 100 {
		body, _ := json.Marshal(map[string]any{
			"event_type": kind, "server_composition": cmcapitest.ServerComposition,
			"event": map[string]any{kind: records[start:min(start+100, len(records))]},
		})
		resp, err := http.Post(f.webhook.URL+ingress.WebhookPath, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook status = %d, want 200", resp.StatusCode)
		}
	}
}

func (f *fixture) run(t *testing.T, cfg backfill.Config) (backfill.Summary, error) {
	t.Helper()
	cfg.JS, cfg.Stream, cfg.API, cfg.Builder = f.srv.JS, testStream, f.client, newBuilder()
	if cfg.Date == "" {
		cfg.Date = "2023-01-25"
	}
	return backfill.Run(natstest.Context(t, 20*time.Second), cfg)
}

// storedIDs returns the ids of every event in the stream, in order.
func (f *fixture) storedIDs(t *testing.T) []string {
	t.Helper()
	var ids []string
	err := replay.ReadRange(natstest.Context(t, 10*time.Second), f.srv.JS, replay.Range{Stream: testStream},
		func(msg jetstream.Msg, _ *jetstream.MsgMetadata) error {
			ev, err := mailevent.Decode(msg.Headers(), msg.Data())
			if err != nil {
				return err
			}
			ids = append(ids, ev.ID)
			return nil
		})
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	return ids
}

// webhookIDs returns the ids the webhook gives the records.
func webhookIDs(t *testing.T, records map[string][]json.RawMessage) []string {
	t.Helper()
	var ids []string
	for kind, list := range records {
		for _, raw := range list {
			ev, _, err := newBuilder().Build(cmc.EventType(kind), cmcapitest.ServerComposition, raw)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ev.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func TestBackfillPublishesOnlyMissingHalf(t *testing.T) {
	t.Parallel()
	records := map[string][]json.RawMessage{"deliveries": dayRecords(130, "deliveries"), "bounces": dayRecords(40, "bounces")}
	f := setup(t, records)
	// Half of each list reached the bridge by webhook.
	f.post(t, "deliveries", records["deliveries"][:65])
	f.post(t, "bounces", records["bounces"][20:])

	summary, err := f.run(t, backfill.Config{})
	if err != nil {
		t.Fatalf("backfill: %v", err)
	}

	if summary.Deliveries != 130 || summary.Bounces != 40 {
		t.Errorf("records = %d deliveries, %d bounces; want 130, 40", summary.Deliveries, summary.Bounces)
	}
	if summary.AlreadyStored != 85 {
		t.Errorf("AlreadyStored = %d, want 85", summary.AlreadyStored)
	}
	if summary.Published != 85 {
		t.Errorf("Published = %d, want 85", summary.Published)
	}
	if summary.Duplicates != 0 || summary.Unmappable != 0 {
		t.Errorf("Duplicates = %d, Unmappable = %d; want 0", summary.Duplicates, summary.Unmappable)
	}
	got := f.storedIDs(t)
	slices.Sort(got)
	if want := webhookIDs(t, records); !slices.Equal(got, want) {
		t.Errorf("stream holds %d ids, want each of the %d webhook ids once", len(got), len(want))
	}
	if f.api.Concurrent() {
		t.Error("API requests overlapped, want one at a time")
	}
}

func TestBackfillTwicePublishesNothing(t *testing.T) {
	t.Parallel()
	records := map[string][]json.RawMessage{"deliveries": dayRecords(30, "deliveries"), "bounces": dayRecords(10, "bounces")}
	f := setup(t, records)

	first, err := f.run(t, backfill.Config{})
	if err != nil {
		t.Fatalf("first backfill: %v", err)
	}
	second, err := f.run(t, backfill.Config{})
	if err != nil {
		t.Fatalf("second backfill: %v", err)
	}

	if first.Published != 40 {
		t.Errorf("first run Published = %d, want 40", first.Published)
	}
	if second.Published != 0 || second.Duplicates != 0 {
		t.Errorf("second run Published = %d, Duplicates = %d; want 0", second.Published, second.Duplicates)
	}
	if second.AlreadyStored != 40 {
		t.Errorf("second run AlreadyStored = %d, want 40", second.AlreadyStored)
	}
	if n := len(f.storedIDs(t)); n != 40 {
		t.Errorf("stream holds %d events, want 40", n)
	}
}

func TestBackfillDryRunPublishesNothing(t *testing.T) {
	t.Parallel()
	records := map[string][]json.RawMessage{"deliveries": dayRecords(10, "deliveries")}
	f := setup(t, records)
	f.post(t, "deliveries", records["deliveries"][:4])

	summary, err := f.run(t, backfill.Config{DryRun: true})
	if err != nil {
		t.Fatalf("backfill: %v", err)
	}

	if summary.Published != 6 {
		t.Errorf("Published = %d, want 6 that would be published", summary.Published)
	}
	if n := len(f.storedIDs(t)); n != 4 {
		t.Errorf("stream holds %d events, want the 4 posted", n)
	}
}

func TestBackfillRenamesAPIFields(t *testing.T) {
	t.Parallel()
	webhook := dayRecords(3, "bounces")
	// The API record differs from the webhook's by one name and one
	// field of its own.
	api := make([]json.RawMessage, len(webhook))
	for i, raw := range webhook {
		var fields map[string]any
		json.Unmarshal(raw, &fields)
		fields["recipient"] = fields["to"]
		delete(fields, "to")
		fields["record_id"] = i
		api[i], _ = json.Marshal(fields)
	}
	f := setup(t, map[string][]json.RawMessage{"bounces": api})
	f.post(t, "bounces", webhook)

	summary, err := f.run(t, backfill.Config{FieldNames: map[string]string{"recipient": "to", "record_id": ""}})
	if err != nil {
		t.Fatalf("backfill: %v", err)
	}

	if summary.AlreadyStored != 3 || summary.Published != 0 {
		t.Errorf("AlreadyStored = %d, Published = %d; want 3, 0", summary.AlreadyStored, summary.Published)
	}
}

func TestBackfillCountsUnmappable(t *testing.T) {
	t.Parallel()
	records := map[string][]json.RawMessage{"deliveries": append(dayRecords(2, "deliveries"),
		json.RawMessage(`{"created":"2023-01-25 09:00:00","status":"queued"}`), json.RawMessage(`"not an object"`))}
	f := setup(t, records)

	summary, err := f.run(t, backfill.Config{})
	if err != nil {
		t.Fatalf("backfill: %v", err)
	}
	if summary.Unmappable != 2 || summary.Published != 2 {
		t.Errorf("Unmappable = %d, Published = %d; want 2, 2", summary.Unmappable, summary.Published)
	}
}

func TestBackfillAuthError(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	f.api.FailWith(http.StatusUnauthorized)

	_, err := f.run(t, backfill.Config{})
	if !errors.Is(err, cmcapi.ErrAuth) {
		t.Errorf("err = %v, want ErrAuth", err)
	}
}

func TestBackfillRejectsBadDates(t *testing.T) {
	t.Parallel()
	f := setup(t, nil)
	now := func() time.Time { return time.Date(2023, 1, 25, 12, 30, 0, 0, tokyo) }
	hour := func(h int) *int { return &h }

	tests := []struct {
		date string
		hour *int
	}{
		{"2023-01-26", nil},
		{"2023-01-25", hour(13)},
		{"2023-01-25", hour(24)},
		{"25/01/2023", nil},
	}
	for _, tt := range tests {
		_, err := f.run(t, backfill.Config{Date: tt.date, Hour: tt.hour, Now: now})
		if !errors.Is(err, backfill.ErrInvalidConfig) {
			t.Errorf("date %s hour %v: err = %v, want ErrInvalidConfig", tt.date, tt.hour, err)
		}
	}
	if n := len(f.api.Requests()); n != 0 {
		t.Errorf("%d API requests, want none for bad dates", n)
	}
}
