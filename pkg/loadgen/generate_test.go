package loadgen

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/pkg/cmc"
)

func TestGeneratorTablesNeedNoEscapes(t *testing.T) {
	t.Parallel()
	var texts []string
	texts = append(texts, subjects...)
	texts = append(texts, deliveryStatuses...)
	texts = append(texts, domains...)
	for _, bounce := range bounceCodes {
		texts = append(texts, bounce.code, bounce.reason.before, bounce.reason.after)
	}
	for _, reason := range failureReasons {
		texts = append(texts, reason.before, reason.after)
	}
	for _, text := range texts {
		if escaped := string(appendJSONText(nil, text)); escaped != text {
			t.Errorf("table text %q needs JSON escapes: %q", text, escaped)
		}
	}
}

func TestAppendQueryEscapedMatchesURL(t *testing.T) {
	t.Parallel()
	var every strings.Builder
	for c := range 256 {
		every.WriteByte(byte(c))
	}
	for _, s := range []string{every.String(), "", "pro", "a b&c=d+e%f", `{"to":"user1@example.jp","subject":"ご案内"}`} {
		want := url.QueryEscape(s)
		if got := string(appendQueryEscaped([]byte("x="), s)); got != "x="+want {
			t.Errorf("appendQueryEscaped(%q) = %q, want %q", s, got, "x="+want)
		}
		if got := string(appendQueryEscaped(nil, []byte(s))); got != want {
			t.Errorf("appendQueryEscaped([]byte(%q)) = %q, want %q", s, got, want)
		}
	}
}

// entries decodes body and returns its records.
func entries(t *testing.T, encoding Encoding, body []byte) []cmc.Entry {
	t.Helper()
	batch, err := cmc.Decode(encoding.ContentType(), body, cmc.Limits{})
	if err != nil {
		t.Fatalf("%s: decode generated body: %v\n%s", encoding, err, body)
	}
	var out []cmc.Entry
	for _, raw := range batch.Entries {
		entry, err := cmc.ParseEntry(raw)
		if err != nil {
			t.Fatalf("%s: parse record: %v\n%s", encoding, err, raw)
		}
		out = append(out, entry)
	}
	return out
}

func TestGeneratorCreatedCrossesYear(t *testing.T) {
	t.Parallel()
	gen := NewGenerator("test", 0, 1)
	// Start 3 seconds before 2027-01-01 00:00:00, so that one batch of
	// 5000 records crosses the second, minute, hour, day, month and year.
	newYear := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	gen.seq = uint64(newYear.Sub(gen.base).Milliseconds()) - 3000

	first := gen.seq + 1
	for i, entry := range entries(t, EncodingJSON, gen.Batch(5000, EncodingJSON)) {
		seq := first + uint64(i)
		want := gen.base.Add(time.Duration(seq) * time.Millisecond).Format(createdLayout)
		if entry.Created != want {
			t.Fatalf("record %d: created = %q, want %q", seq, entry.Created, want)
		}
	}
	if gen.seq != first+4999 {
		t.Errorf("seq = %d after 5000 records from %d", gen.seq, first)
	}
}

func TestGeneratorEncodingsCarrySameRecords(t *testing.T) {
	t.Parallel()
	jsonGen := NewGenerator("run-1", 2, 9)
	formGen := NewGenerator("run-1", 2, 9)
	var jsonBody, formBody []byte
	for range 10 {
		jsonBody = jsonGen.AppendBatch(jsonBody[:0], 20, EncodingJSON)
		formBody = formGen.AppendBatch(formBody[:0], 20, EncodingForm)

		var fields struct {
			Event json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(jsonBody, &fields); err != nil {
			t.Fatalf("JSON body: %v", err)
		}
		values, err := url.ParseQuery(string(formBody))
		if err != nil {
			t.Fatalf("form body: %v", err)
		}
		if got := values.Get("event"); got != string(fields.Event) {
			t.Fatalf("form event differs from JSON event:\n%s\n%s", got, fields.Event)
		}
	}
}

// TestGeneratorAppendBatchReusesBuffer does not run in parallel, because
// AllocsPerRun counts the allocations of every goroutine.
func TestGeneratorAppendBatchReusesBuffer(t *testing.T) {
	fresh := NewGenerator("test", 1, 5)
	reused := NewGenerator("test", 1, 5)
	buffer := make([]byte, 0, 200_000)
	for i := range 20 {
		want := fresh.Batch(100, EncodingJSON)
		buffer = reused.AppendBatch(buffer[:0], 100, EncodingJSON)
		if !bytes.Equal(buffer, want) {
			t.Fatalf("batch %d: AppendBatch wrote another body than Batch", i)
		}
	}
	allocs := testing.AllocsPerRun(20, func() {
		buffer = reused.AppendBatch(buffer[:0], 100, EncodingJSON)
	})
	if allocs != 0 {
		t.Errorf("AppendBatch into a large enough buffer allocates %.0f times per batch, want 0", allocs)
	}
}

func TestGeneratorMessageIDsFollowRunID(t *testing.T) {
	t.Parallel()
	gen := NewGenerator(`run"1`, 4, 1)
	first := entries(t, EncodingJSON, gen.Batch(1, EncodingJSON))[0]
	if want := `<run"1-4-1@bench.example.com>`; first.MessageID != want {
		t.Errorf("messageId = %q, want %q", first.MessageID, want)
	}
	gen.RunID, gen.Worker = "other", 5
	second := entries(t, EncodingJSON, gen.Batch(1, EncodingJSON))[0]
	if want := "<other-5-2@bench.example.com>"; second.MessageID != want {
		t.Errorf("messageId after changing RunID and Worker = %q, want %q", second.MessageID, want)
	}
}

func TestGeneratorFailureReasonsNameRecipient(t *testing.T) {
	t.Parallel()
	gen := NewGenerator("test", 0, 3)
	named := 0
	for range 20 {
		for _, entry := range entries(t, EncodingJSON, gen.Batch(100, EncodingJSON)) {
			if strings.Contains(entry.Reason, "%!") {
				t.Fatalf("reason %q has a formatting error", entry.Reason)
			}
			if strings.Contains(entry.Reason, "<"+entry.To+">") {
				named++
			}
		}
	}
	if named == 0 {
		t.Error("no failure reason names its recipient in 2000 records")
	}
}
