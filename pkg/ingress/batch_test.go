package ingress_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// mixedDeliveries returns a JSON webhook of n deliveries, cycling through
// the four delivery statuses, each to its own recipient.
func mixedDeliveries(t *testing.T, n int) []byte {
	t.Helper()
	statuses := []string{"queued", "succeeded", "failed", "deferred"}
	records := make([]map[string]string, n)
	for i := range records {
		records[i] = map[string]string{
			"created":    fmt.Sprintf("2023-01-25 14:%02d:%02d", i/60, i%60),
			"returnPath": "info@return.pro.smtps.jp",
			"from":       "info@example.com",
			"to":         fmt.Sprintf("user%03d@example.jp", i),
			"messageId":  fmt.Sprintf("<%03d@example.com>", i),
			"subject":    "メールマガジンのテスト",
			"reason":     "",
			"apiData":    fmt.Sprintf("campaign-%d", i%7),
			"status":     statuses[i%len(statuses)],
		}
	}
	body, err := json.Marshal(map[string]any{
		"event_type":         "deliveries",
		"server_composition": "pro",
		"event":              map[string]any{"deliveries": records},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestBatchOf100StoredOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := mixedDeliveries(t, 100)

	first := b.post(t, "application/json", body, nil).result(t)
	if first != (ingress.Result{Accepted: 100}) {
		t.Errorf("first post = %+v, want 100 accepted", first)
	}
	msgs := b.stored(t)
	if len(msgs) != 100 {
		t.Fatalf("stored %d messages, want 100", len(msgs))
	}
	perSubject := map[string]int{}
	ids := map[string]bool{}
	for _, msg := range msgs {
		perSubject[msg.Subject]++
		ids[msg.Header.Get("ce-id")] = true
	}
	for _, status := range []string{"queued", "succeeded", "failed", "deferred"} {
		if n := perSubject["mail.deliveries."+status]; n != 25 {
			t.Errorf("mail.deliveries.%s has %d messages, want 25", status, n)
		}
	}
	if len(ids) != 100 {
		t.Errorf("%d distinct event ids, want 100", len(ids))
	}

	second := b.post(t, "application/json", body, nil).result(t)
	if second != (ingress.Result{Duplicates: 100}) {
		t.Errorf("second post = %+v, want 100 duplicates", second)
	}
	if n := len(b.stored(t)); n != 100 {
		t.Errorf("stored %d messages after the second post, want 100", n)
	}
}

// toVersion1 rewrites a version 2 JSON body with version 1 record names:
// envelopeFrom and envelopeTo, and no apiData.
func toVersion1(t *testing.T, body []byte) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	eventType := doc["event_type"].(string)
	for _, r := range doc["event"].(map[string]any)[eventType].([]any) {
		record := r.(map[string]any)
		record["envelopeFrom"], record["envelopeTo"] = record["returnPath"], record["to"]
		delete(record, "returnPath")
		delete(record, "to")
		if record["apiData"] == "" {
			delete(record, "apiData")
		}
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVersion1NamesGiveSameEvent(t *testing.T) {
	t.Parallel()
	for _, name := range exampleNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v2 := readExample(t, name)
			v1 := toVersion1(t, v2)
			if bytes.Contains(v1, []byte(`"to"`)) || !bytes.Contains(v1, []byte(`"envelopeTo"`)) {
				t.Fatalf("version 1 body still has version 2 names: %s", v1)
			}

			// Version 1 webhooks are form posts.
			b2, b1 := setup(t, nil), setup(t, nil)
			b2.post(t, "application/json", v2, nil).result(t)
			contentType, form := encodings[1].encode(t, v1)
			b1.post(t, contentType, form, nil).result(t)
			got2, got1 := b2.stored(t), b1.stored(t)
			if len(got2) != 1 || len(got1) != 1 {
				t.Fatalf("stored %d and %d messages, want 1 each", len(got2), len(got1))
			}
			if !bytes.Equal(got1[0].Data, got2[0].Data) {
				t.Errorf("data differs\nversion 1: %s\nversion 2: %s", got1[0].Data, got2[0].Data)
			}
			if id1, id2 := got1[0].Header.Get("ce-id"), got2[0].Header.Get("ce-id"); id1 != id2 {
				t.Errorf("event id of version 1 = %s, of version 2 = %s, want equal", id1, id2)
			}
			if got1[0].Subject != got2[0].Subject {
				t.Errorf("subject of version 1 = %s, of version 2 = %s", got1[0].Subject, got2[0].Subject)
			}

			// The version 1 post to the first ingress is a duplicate.
			if result := b2.post(t, contentType, form, nil).result(t); result.Duplicates != 1 {
				t.Errorf("version 1 post after version 2 = %+v, want 1 duplicate", result)
			}
		})
	}
}

func TestUnknownRecordFieldsKept(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := []byte(`{"event_type":"deliveries","server_composition":"pro","event":{"deliveries":[
		{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"queued","campaign":{"id":7,"tags":["x"]},"smtp_code":"999"}]}}`)
	b.post(t, "application/json", body, nil).result(t)

	msgs := b.storedOn(t, "mail.deliveries.queued")
	if len(msgs) != 1 {
		t.Fatalf("stored %d messages on mail.deliveries.queued, want 1", len(msgs))
	}
	ev, err := mailevent.Decode(msgs[0].Header, msgs[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if got := string(data["campaign"]); got != `{"id":7,"tags":["x"]}` {
		t.Errorf("campaign = %s, want the field as sent", got)
	}
	if got := string(data["cmc_smtp_code"]); got != `"999"` {
		t.Errorf("cmc_smtp_code = %s, want the record's own smtp_code kept under another name", got)
	}
	if got := string(data["smtp_code"]); got != `""` {
		t.Errorf("smtp_code = %s, want the bridge's empty code", got)
	}
}

func TestBlocksAndUnknownStatusSubjects(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	posts := []struct {
		eventType cmc.EventType
		record    string
		subject   string
		eventKind string
	}{
		{cmc.EventTypeBlocks, `{"created":"2023-01-25 14:03:06","email":"a@example.jp","status":"blocked"}`, "mail.blocks.blocked", mailevent.TypeBlock},
		{cmc.EventTypeBlocks, `{"created":"2023-01-25 14:03:06","email":"b@example.jp","status":"mail.>*"}`, "mail.blocks.unknown", mailevent.TypeBlock},
		{cmc.EventTypeDeliveries, `{"created":"2023-01-25 14:03:06","to":"c@example.jp","status":"bounced"}`, "mail.deliveries.unknown", mailevent.TypeDeliveryUnknown},
		{cmc.EventTypeBounces, `{"created":"2023-01-25 14:03:06","to":"d@example.jp","status":"42"}`, "mail.bounces.unknown", mailevent.TypeBounce},
		{cmc.EventTypeBounces, `{"created":"2023-01-25 14:03:06","to":"e@example.jp","status":"10"}`, "mail.bounces.blocked", mailevent.TypeBounce},
	}
	for _, p := range posts {
		body := fmt.Sprintf(`{"event_type":%q,"server_composition":"pro","event":{%q:[%s]}}`, p.eventType, p.eventType, p.record)
		if result := b.post(t, "application/json", []byte(body), nil).result(t); result.Accepted != 1 {
			t.Errorf("%s: result %+v, want 1 accepted", p.record, result)
		}
		msgs := b.storedOn(t, p.subject)
		if len(msgs) != 1 {
			t.Errorf("%s: %d messages on %s, want 1", p.record, len(msgs), p.subject)
			continue
		}
		if got := msgs[0].Header.Get("ce-type"); got != p.eventKind {
			t.Errorf("%s: type %s, want %s", p.record, got, p.eventKind)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	resp, err := b.http.Client().Get(b.http.URL + "/webhooks/cmc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET status = %d, want 405", resp.StatusCode)
	}
	if allow := resp.Header.Get("Allow"); allow != http.MethodPost {
		t.Errorf("Allow = %q, want POST", allow)
	}
	if n := len(b.stored(t)); n != 0 {
		t.Errorf("stored %d messages, want 0", n)
	}
}

// TestConcurrentWebhooksKeepOwnHeaders posts many batches at once, so that
// pooled event and body buffers pass from request to request, and checks
// that every stored event's headers match its own data, and that every
// rejected record keeps its own text.
func TestConcurrentWebhooksKeepOwnHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const requests, perRequest = 64, 25
	statuses := []string{"queued", "succeeded", "failed", "deferred"}
	bodies := make([][]byte, requests)
	for r := range bodies {
		records := make([]any, perRequest, perRequest+1)
		for i := range records {
			record := map[string]string{
				"created":   fmt.Sprintf("2023-01-25 %02d:%02d:%02d", 10+r/60, r%60, i),
				"to":        fmt.Sprintf("r%02d-user%03d@example.jp", r, i),
				"messageId": fmt.Sprintf("<%02d-%03d@example.com>", r, i),
				"subject":   fmt.Sprintf("テスト %d-%d", r, i),
				"reason":    "550 5.1.1 user unknown",
				"status":    statuses[(r+i)%len(statuses)],
			}
			if r%2 == 1 {
				record["to"] = fmt.Sprintf("利用者%02d-%03d@example.jp", r, i)
			}
			records[i] = record
		}
		// A record that cannot be mapped is stored as it came, from the
		// body's own bytes.
		records = append(records, fmt.Sprintf("not a record %02d", r))
		body, err := json.Marshal(map[string]any{
			"event_type": "deliveries", "server_composition": "pro",
			"event": map[string]any{"deliveries": records},
		})
		if err != nil {
			t.Fatal(err)
		}
		bodies[r] = body
	}

	results := make(chan error, requests)
	for _, body := range bodies {
		go func() {
			resp, err := http.Post(b.http.URL+"/webhooks/cmc", "application/json", bytes.NewReader(body))
			if err != nil {
				results <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				results <- fmt.Errorf("status %d", resp.StatusCode)
				return
			}
			results <- nil
		}()
	}
	for range requests {
		if err := <-results; err != nil {
			t.Fatalf("post: %v", err)
		}
	}

	stored := b.stored(t)
	if len(stored) != requests*(perRequest+1) {
		t.Fatalf("stored %d messages, want %d", len(stored), requests*(perRequest+1))
	}
	rejected := map[string]bool{}
	messageIDs := map[string]bool{}
	for _, msg := range stored {
		if msg.Subject == "mail.rejected" {
			rejected[string(msg.Data)] = true
			continue
		}
		ev, err := mailevent.Decode(msg.Header, msg.Data)
		if err != nil {
			t.Fatalf("message %d: %v", msg.Sequence, err)
		}
		var data struct {
			To        string `json:"to"`
			MessageID string `json:"messageId"`
			Status    string `json:"status"`
		}
		if err := json.Unmarshal(msg.Data, &data); err != nil {
			t.Fatalf("message %d: data: %v", msg.Sequence, err)
		}
		messageIDs[data.MessageID] = true
		if got := msg.Header.Get(mailevent.HeaderMsgID); got != ev.ID {
			t.Errorf("message %d: %s %q, ce-id %q", msg.Sequence, mailevent.HeaderMsgID, got, ev.ID)
		}
		if ev.Subject != data.To {
			t.Errorf("message %d: CloudEvent subject %q, but the data is to %q", msg.Sequence, ev.Subject, data.To)
		}
		if want := "jp.smtps.cmc.delivery." + data.Status; ev.Type != want {
			t.Errorf("message %d: type %q, want %q for status %s", msg.Sequence, ev.Type, want, data.Status)
		}
		if msg.Subject != "mail.deliveries."+data.Status {
			t.Errorf("message %d (%s) on %s, want mail.deliveries.%s", msg.Sequence, data.MessageID, msg.Subject, data.Status)
		}
	}
	if len(messageIDs) != requests*perRequest {
		t.Errorf("%d different messageId values stored, want %d", len(messageIDs), requests*perRequest)
	}
	for r := range requests {
		if want := fmt.Sprintf(`"not a record %02d"`, r); !rejected[want] {
			t.Errorf("no rejected record %s among %d: %v", want, len(rejected), rejected)
		}
	}
}
