package ingress_test

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/mailbridge/mailbridge/pkg/ingress"
)

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	writer, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := writer.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// gzipBomb returns a gzip body that decompresses to size zero bytes.
func gzipBomb(t testing.TB, size int) []byte {
	t.Helper()
	var buf bytes.Buffer
	writer, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for written := 0; written < size; written += len(zeros) {
		if _, err := writer.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := writer.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBadInputs(t *testing.T) {
	t.Parallel()
	garbage := make([]byte, 10<<20)
	if _, err := rand.Read(garbage); err != nil {
		t.Fatal(err)
	}
	queued := string(readExample(t, "deliveries-queued.json"))
	goodAndBad := `{"event_type":"deliveries","server_composition":"pro","event":{"deliveries":[
		{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"queued"},
		{"created":"yesterday","to":"b@example.jp","status":"queued"},
		{"created":"2023-01-25 14:03:08","to":"c@example.jp","status":"succeeded"}]}}`

	cases := []struct {
		name        string
		contentType string
		encoding    string
		body        []byte
		status      int
		// reason is a part of the error response and of the rejected
		// message's reason header.
		reason string
		// stored is the number of events stored besides the rejected input.
		stored int
		// truncated is true when the rejected message keeps only part of
		// the body.
		truncated bool
	}{
		{name: "empty body", contentType: "application/json", body: nil,
			status: 400, reason: "body is empty"},
		{name: "truncated JSON", contentType: "application/json", body: []byte(queued[:len(queued)/2]),
			status: 400, reason: "JSON ends early"},
		{name: "event not a list", contentType: "application/json",
			body:   []byte(`{"event_type":"deliveries","event":{"deliveries":{"to":"a@example.jp"}}}`),
			status: 400, reason: "must be a list"},
		{name: "event a number", contentType: "application/json",
			body:   []byte(`{"event_type":"deliveries","event":17}`),
			status: 400, reason: "must be an object or a list"},
		{name: "event_type a number", contentType: "application/json",
			body:   []byte(`{"event_type":3,"event":{"deliveries":[]}}`),
			status: 400, reason: "event_type is a JSON number"},
		{name: "body a list", contentType: "application/json", body: []byte(`[1,2]`),
			status: 400, reason: "JSON object"},
		{name: "10 MB of garbage", contentType: "application/json", body: garbage,
			status: 413, reason: "larger than 4194304 bytes", truncated: true},
		{name: "gzip body", contentType: "application/json", encoding: "gzip", body: gzipped(t, []byte(queued)),
			status: 200, stored: 1},
		{name: "gzip bomb", contentType: "application/json", encoding: "gzip", body: gzipBomb(t, 64<<20),
			status: 413, reason: "larger than 4194304 bytes", truncated: true},
		{name: "invalid gzip", contentType: "application/json", encoding: "gzip", body: []byte(queued),
			status: 400, reason: "gzip body cannot be read"},
		{name: "unsupported content encoding", contentType: "application/json", encoding: "br", body: []byte(queued),
			status: 415, reason: "Content-Encoding"},
		{name: "invalid UTF-8", contentType: "application/json",
			body:   []byte("{\"event_type\":\"deliveries\",\"event\":{\"deliveries\":[{\"to\":\"a\xff@example.jp\"}]}}"),
			status: 400, reason: "not valid UTF-8"},
		{name: "invalid UTF-8 in a form", contentType: "application/x-www-form-urlencoded",
			body:   []byte("event_type=deliveries&event=%7B%22deliveries%22%3A%5B%7B%22to%22%3A%22%FF%22%7D%5D%7D"),
			status: 400, reason: "not valid UTF-8"},
		{name: "unknown event type", contentType: "application/json",
			body:   []byte(`{"event_type":"opens","server_composition":"pro","event":{"opens":[]}}`),
			status: 400, reason: `unknown event_type "opens"`},
		{name: "unsupported content type", contentType: "text/csv", body: []byte("a,b\n"),
			status: 415, reason: "unsupported media type"},
		{name: "multipart without boundary", contentType: "multipart/form-data", body: []byte("--x\r\n"),
			status: 400, reason: "boundary"},
		{name: "one bad entry among good ones", contentType: "application/json", body: []byte(goodAndBad),
			status: 200, reason: "entry 1:", stored: 2},
		{name: "JSON after a byte order mark", contentType: "application/json", body: []byte("\ufeff" + queued),
			status: 200, stored: 1},
		{name: "empty event list", contentType: "application/json",
			body:   []byte(`{"event_type":"deliveries","server_composition":"pro","event":{"deliveries":[]}}`),
			status: 200},
		{name: "event twice in JSON", contentType: "application/json",
			body:   []byte(`{"event_type":"deliveries","event":{"deliveries":[]},"event":{"deliveries":[{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"queued"}]}}`),
			status: 400, reason: "field event appears more than once"},
		{name: "event twice in JSON, once capitalised", contentType: "application/json",
			body:   []byte(`{"event_type":"deliveries","Event":{"deliveries":[]},"event":{"deliveries":[]}}`),
			status: 400, reason: "field event appears more than once"},
		{name: "event list twice in JSON", contentType: "application/json",
			body:   []byte(`{"event_type":"deliveries","event":{"deliveries":[{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"queued"}],"deliveries":[{"created":"2023-01-25 14:03:07","to":"b@example.jp","status":"queued"}]}}`),
			status: 400, reason: `has the "deliveries" list more than once: send one list`},
		{name: "event list twice in a form", contentType: "application/x-www-form-urlencoded",
			body:   []byte("event_type=deliveries&event=" + url.QueryEscape(`{"deliveries":[],"deliveries":[]}`)),
			status: 400, reason: `has the "deliveries" list more than once`},
		{name: "entry with to twice", contentType: "application/json",
			body:   []byte(`{"event_type":"deliveries","event":{"deliveries":[{"created":"2023-01-25 14:03:06","to":"a@example.jp","to":"b@example.jp","status":"queued"}]}}`),
			status: 200, reason: "entry has the field to more than once"},
		{name: "event twice in a form", contentType: "application/x-www-form-urlencoded",
			body:   []byte("event_type=deliveries&event=%7B%22deliveries%22%3A%5B%5D%7D&event=%7B%22deliveries%22%3A%5B%5D%7D"),
			status: 400, reason: "field event appears 2 times"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			var header http.Header
			if tc.encoding != "" {
				header = http.Header{"Content-Encoding": {tc.encoding}}
			}
			resp := b.post(t, tc.contentType, tc.body, header)
			if resp.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", resp.status, tc.status, resp.body)
			}
			if resp.header.Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", resp.header.Get("Content-Type"))
			}

			var wantRejected int
			switch {
			case tc.status == 200:
				result := resp.result(t)
				if result.Accepted != tc.stored {
					t.Errorf("accepted = %d, want %d", result.Accepted, tc.stored)
				}
				if tc.reason != "" {
					wantRejected = 1
				}
				if result.Rejected != wantRejected {
					t.Errorf("rejected = %d, want %d", result.Rejected, wantRejected)
				}
			default:
				wantRejected = 1
				if message := resp.errorMessage(t); !strings.Contains(message, tc.reason) {
					t.Errorf("error %q does not contain %q", message, tc.reason)
				}
			}

			rejected := b.storedOn(t, "mail.rejected")
			if len(rejected) != wantRejected {
				t.Fatalf("%d messages on mail.rejected, want %d", len(rejected), wantRejected)
			}
			if events := len(b.stored(t)) - len(rejected); events != tc.stored {
				t.Errorf("stored %d events, want %d", events, tc.stored)
			}
			if wantRejected == 0 {
				return
			}
			msg := rejected[0]
			if reason := msg.Header.Get(ingress.HeaderRejectReason); !strings.Contains(reason, tc.reason) {
				t.Errorf("reason header %q does not contain %q", reason, tc.reason)
			}
			if got := msg.Header.Get(ingress.HeaderTruncated) == "true"; got != tc.truncated {
				t.Errorf("truncated header set = %v, want %v", got, tc.truncated)
			}
			if msg.Header.Get(ingress.HeaderReceivedAt) == "" || msg.Header.Get(ingress.HeaderRequestID) == "" {
				t.Errorf("rejected message lacks received-at or request id headers: %v", msg.Header)
			}
			if tc.status != 200 && !tc.truncated && tc.encoding == "" && !bytes.Equal(msg.Data, tc.body) {
				t.Errorf("rejected data is not the body as sent:\n%q\nwant\n%q", msg.Data, tc.body)
			}
			if tc.truncated && (len(msg.Data) == 0 || !bytes.HasPrefix(tc.body, msg.Data) && tc.encoding == "") {
				t.Errorf("truncated rejected data (%d bytes) is not a prefix of the body", len(msg.Data))
			}
		})
	}
}

func TestBadEntryKeptWithItsPosition(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := `{"event_type":"bounces","server_composition":"pro","event":{"bounces":[
		{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"2"},
		{"created":"2023-01-25 14:03:06","to":{"address":"b@example.jp"},"status":"2"},
		"not a record"]}}`
	result := b.post(t, "application/json", []byte(body), nil).result(t)
	if result != (ingress.Result{Accepted: 1, Rejected: 2}) {
		t.Errorf("result = %+v, want 1 accepted and 2 rejected", result)
	}

	rejected := b.storedOn(t, "mail.rejected")
	if len(rejected) != 2 {
		t.Fatalf("%d messages on mail.rejected, want 2", len(rejected))
	}
	wantData := []string{`{"created":"2023-01-25 14:03:06","to":{"address":"b@example.jp"},"status":"2"}`, `"not a record"`}
	for i, msg := range rejected {
		if got := msg.Header.Get(ingress.HeaderEntryIndex); got != strconv.Itoa(i+1) {
			t.Errorf("entry index = %q, want %d", got, i+1)
		}
		if got := msg.Header.Get(ingress.HeaderEventType); got != "bounces" {
			t.Errorf("event type header = %q, want bounces", got)
		}
		if got := msg.Header.Get(ingress.HeaderServerComposition); got != "pro" {
			t.Errorf("server composition header = %q, want pro", got)
		}
		if string(msg.Data) != wantData[i] {
			t.Errorf("rejected data = %s, want %s", msg.Data, wantData[i])
		}
	}
	if n := len(b.storedOn(t, "mail.bounces.user_unknown")); n != 1 {
		t.Errorf("%d messages on mail.bounces.user_unknown, want 1", n)
	}

	metrics := b.metrics(t)
	for _, line := range []string{
		`mailbridge_rejected_total{event_type="bounces",kind="record"} 2`,
		`mailbridge_events_total{outcome="accepted",type="jp.smtps.cmc.bounce"} 1`,
		`mailbridge_webhooks_total{code="200",event_type="bounces"} 1`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("metrics lack %s", line)
		}
	}
}

func TestMetricLabelsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, eventType := range []string{"opens", "clicks", "x\ny"} {
		body := []byte(`{"event_type":"` + strings.ReplaceAll(eventType, "\n", `\n`) + `","event":{}}`)
		if status := b.post(t, "application/json", body, nil).status; status != http.StatusBadRequest {
			t.Errorf("event_type %q: status %d, want 400", eventType, status)
		}
	}
	metrics := b.metrics(t)
	if want := `mailbridge_rejected_total{event_type="unknown",kind="body"} 3`; !strings.Contains(metrics, want+"\n") {
		t.Errorf("metrics lack %s", want)
	}
	if want := `mailbridge_webhooks_total{code="400",event_type="unknown"} 3`; !strings.Contains(metrics, want+"\n") {
		t.Errorf("metrics lack %s", want)
	}
	for _, invented := range []string{"opens", "clicks"} {
		if strings.Contains(metrics, `"`+invented+`"`) {
			t.Errorf("metrics have the sender's event_type %q as a label value", invented)
		}
	}
}

// TestGzipBombMemoryBounded runs alone, not in parallel, so that the
// allocation count is this request's.
func TestGzipBombMemoryBounded(t *testing.T) {
	b := setup(t, nil)
	bomb := gzipBomb(t, 128<<20)
	header := http.Header{"Content-Encoding": {"gzip"}}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp := b.post(t, "application/json", bomb, header)
	runtime.ReadMemStats(&after)

	if resp.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", resp.status)
	}
	// The limit is 4 MiB; reading it whole allocates a few times that. A
	// decompressor without a limit would allocate at least the full 128 MiB.
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 48<<20 {
		t.Errorf("the request allocated %d MiB, want under 48 MiB for a 4 MiB limit", allocated>>20)
	}
}
