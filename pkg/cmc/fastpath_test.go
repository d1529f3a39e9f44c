package cmc

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The fast paths must give exactly what the encoding/json paths give:
// the same batch and entries, or the same error. These tests turn the
// fast paths off to get the reference, so they do not run in parallel.

func withSlowPaths(fn func()) {
	fastPaths = false
	defer func() { fastPaths = true }()
	fn()
}

type decodeResult struct {
	batch *Batch
	err   string
}

func decodeBoth(contentType string, body []byte, limits Limits) (fast, slow decodeResult) {
	run := func() decodeResult {
		batch, err := Decode(contentType, body, limits)
		res := decodeResult{batch: batch}
		if err != nil {
			res.err = err.Error()
		}
		return res
	}
	fast = run()
	withSlowPaths(func() { slow = run() })
	return fast, slow
}

func sameBatch(a, b *Batch) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.EventType != b.EventType || a.ServerComposition != b.ServerComposition ||
		a.APIKey != b.APIKey || a.Encoding != b.Encoding || len(a.Entries) != len(b.Entries) {
		return false
	}
	if (a.Entries == nil) != (b.Entries == nil) {
		return false
	}
	for i := range a.Entries {
		if !bytes.Equal(a.Entries[i], b.Entries[i]) {
			return false
		}
	}
	return true
}

// checkDecodeAgrees compares the paths with the default limits and with a
// nesting limit of 3, which the JSON fast path enforces itself.
func checkDecodeAgrees(t *testing.T, contentType string, body []byte) {
	t.Helper()
	for _, limits := range []Limits{{}, {MaxJSONDepth: 3}} {
		fast, slow := decodeBoth(contentType, body, limits)
		if fast.err != slow.err {
			t.Fatalf("body %q, limits %+v:\nfast error %q\nslow error %q", body, limits, fast.err, slow.err)
		}
		if !sameBatch(fast.batch, slow.batch) {
			t.Fatalf("body %q, limits %+v:\nfast batch %+v\nslow batch %+v", body, limits, fast.batch, slow.batch)
		}
	}
}

// fastPathBodies are JSON bodies on both sides of every fast path check.
var fastPathBodies = []string{
	`{"event_type":"deliveries","server_composition":"pro","event":{"deliveries":[{"to":"a@example.jp","created":"2023-01-25 14:03:06","status":"queued"}]}}`,
	`{"event_type":"bounces","event":[{"to":"a@example.jp","status":2}]}`,
	`  {"event":{"deliveries":[]},"event_type":"deliveries"}  `,
	`{"event_type":"deliveries","event":{"deliveries":[{}, {"x":[1,2,{"y":null}]} ,[],"s",1.5e3,true]}}`,
	`{"event_type":"deliveries","event":{"other":[1],"deliveries":[{"a":1}]}}`,
	`{"event":{"deliveries":[{"a":1},{"b":[2]}]},"event_type":"deliveries"}`,
	`{"event":[{"a":1}],"server_composition":"pro","event_type":"bounces"}`,
	`{"event_type":"deliveries","event":{"deli\u0076eries":[{"a":1}]}}`,
	`{"event_type":"deliveries","event":{"deliveries":[{"a":1}],"meta":{"n":[1]}}}`,
	`{"event_type":"deliveries","event":{"deliveries":[{"a":1}],"deliveries":5}}`,
	`{"event_type":"deliveries","event":{"deliveries":5,"deliveries":[{"a":1}]}}`,
	`{"event_type":"deliveries","event":{"deliveries":[{"a":1}],"deli\u0076eries":null}}`,
	`{"event":{"deliveries":[{"a":1}],"deliveries":{}},"event_type":"deliveries"}`,
	`{"event_type":"deliveries","event":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"deliveries":[{"a":1}]}}`,
	`{"event_type":"deliveries","event":{"deliveries":[{"a":1}],"deliveries":[{"b":2}]}}`,
	`{"event_type":"deliveries","event_type":"bounces","event":[]}`,
	`{"Event_Type":"deliveries","event":[]}`,
	`{"event_type":"deliveries","EVENT":[{"a":1}]}`,
	`{"event_type":"deli\u0076eries","event":[]}`,
	`{"event_type":"deliveries","api_key":"k\"ey","event":[]}`,
	`{"event_type":"deliveries","event":"{\"deliveries\":[{\"a\":1}]}"}`,
	`{"event_type":"deliveries","event":null}`,
	`{"event_type":"deliveries","event":{"deliveries":null}}`,
	`{"event_type":"deliveries","event":{"deliveries":{}}}`,
	`{"event_type":"deliveries","event":{"bounces":[]}}`,
	`{"event_type":"deliveries"}`,
	`{"event_type":null,"event":[]}`,
	`{"event_type":7,"event":[]}`,
	`{"event_type":"spam","event":[]}`,
	`{"server_composition":"pro","event":[]}`,
	`{"event_type":"deliveries","event":[]} x`,
	`{"event_type":"deliveries","event":[1,]}`,
	`{"event_type":"deliveries","event":[01]}`,
	`{"event_type":"deliveries","event":[-]}`,
	`{"event_type":"deliveries","event":[1.]}`,
	`{"event_type":"deliveries","event":["a\x01"]}`,
	`{"event_type":"deliveries","event":["\q"]}`,
	`{"event_type":"deliveries","event":["\u12"]}`,
	`{"event_type":"deliveries","event":[tru]}`,
	`{"event_type":"deliveries","event":[{"a" 1}]}`,
	`{"event_type":"deliveries","event":[{"a":1,}]}`,
	`{"event_type":"deliveries","event":[`,
	`{"event_type":"deliveries","event":{"deliveries":[{"a":[]}]}}`,
	`{"event_type":"deliveries","event":{"deliveries":[{"a":[{}]}]}}`,
	"{\"event_type\":\"deliveries\",\"event\":[\"\xff\"]}",
	`[{"event_type":"deliveries"}]`,
	`"deliveries"`,
	``,
}

func TestDecodeFastPathMatchesJSON(t *testing.T) {
	for _, body := range fastPathBodies {
		checkDecodeAgrees(t, "application/json", []byte(body))
	}
}

func TestDecodeFastPathMatchesForm(t *testing.T) {
	for _, body := range fastPathBodies {
		var probe struct {
			Event json.RawMessage `json:"event"`
		}
		event := body
		if json.Unmarshal([]byte(body), &probe) == nil && probe.Event != nil {
			event = string(probe.Event)
		}
		form := "event_type=deliveries&server_composition=pro&event=" + url.QueryEscape(event)
		checkDecodeAgrees(t, "application/x-www-form-urlencoded", []byte(form))
	}
}

func TestDecodeFastPathMatchesVendorExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "cmc", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vendor examples found: %v", err)
	}
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		checkDecodeAgrees(t, "application/json", body)
		batch, err := Decode("application/json", body, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for _, raw := range batch.Entries {
			checkEntryAgrees(t, raw)
		}
	}
}

func checkEntryAgrees(t *testing.T, raw []byte) {
	t.Helper()
	fastEntry, fastErr := ParseEntry(raw)
	var slowEntry Entry
	var slowErr error
	withSlowPaths(func() { slowEntry, slowErr = ParseEntry(raw) })
	if (fastErr == nil) != (slowErr == nil) || (fastErr != nil && fastErr.Error() != slowErr.Error()) {
		t.Fatalf("entry %q:\nfast error %v\nslow error %v", raw, fastErr, slowErr)
	}
	if !reflect.DeepEqual(fastEntry, slowEntry) {
		t.Fatalf("entry %q:\nfast %+v\nslow %+v", raw, fastEntry, slowEntry)
	}
}

var fastPathEntries = []string{
	`{"reason":"","sourceIp":"100.100.100.1","returnPath":"info@return.pro.smtps.jp","created":"2023-01-25 14:03:06","subject":"メールマガジンのテスト","apiData":"","messageId":"<a@example.com>","from":"info@example.com","to":"user@example.jp","senderIp":"","status":"queued"}`,
	`{"envelopeFrom":"r@example.jp","envelopeTo":"u@example.jp","created":"2023-01-25 14:03:06","status":"1"}`,
	`{"envelopeTo":"old@example.jp","to":"new@example.jp","status":2}`,
	`{"to":"u@example.jp","status":-1.5e2,"extra":{"b":[1,2],"a":null},"more":"x"}`,
	`{"to":null,"status":"queued"}`,
	`{"to":"u@example.jp","to":"v@example.jp"}`,
	`{"to":"u\u0040example.jp"}`,
	`{"t\u006f":"u@example.jp"}`,
	`{"to":true}`,
	`{"to":{"a":1}}`,
	`{"to":["a"]}`,
	` { "to" : "u@example.jp" } `,
	`{"to":"u@example.jp"} trailing`,
	`{"to":"u@example.jp",}`,
	`[{"to":"u@example.jp"}]`,
	`"text"`,
	`{}`,
	``,
	"{\"to\":\"\xff\"}",
}

func TestParseEntryFastPathMatches(t *testing.T) {
	for _, raw := range fastPathEntries {
		checkEntryAgrees(t, []byte(raw))
	}
}

func TestParseCreatedFastPathMatches(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Skip("no Asia/Tokyo zone data")
	}
	for _, created := range []string{
		"2023-01-25 14:03:06", "2024-02-29 23:59:59", "2023-02-29 10:00:00",
		"2023-13-01 10:00:00", "2023-01-25 24:00:00", "2023-01-25T14:03:06",
		"2023-01-25 14:03:06Z", "2023/01/25 14:03:06", "2023-01-25 14:3:06", " 2023-01-25 14:03:06 ",
		"2000-02-29 00:00:00", "1900-02-29 00:00:00", "2100-02-28 12:00:00", "2023-04-31 10:00:00",
		"2023-00-10 10:00:00", "2023-01-00 10:00:00", "2023-01-25 14:60:00", "2023-01-25 14:03:60",
		"+023-01-25 14:03:06", "2023-+1-25 14:03:06", "2023-01-25 14-03-06", "0000-01-01 00:00:00",
	} {
		checkCreatedAgrees(t, created, tokyo)
	}
}

func checkCreatedAgrees(t *testing.T, created string, loc *time.Location) {
	t.Helper()
	fastTime, fastErr := ParseCreated(created, loc)
	var slowTime time.Time
	var slowErr error
	withSlowPaths(func() { slowTime, slowErr = ParseCreated(created, loc) })
	if (fastErr == nil) != (slowErr == nil) || !fastTime.Equal(slowTime) || fastTime.Location() != slowTime.Location() {
		t.Fatalf("created %q: fast %v, %v; slow %v, %v", created, fastTime, fastErr, slowTime, slowErr)
	}
}

func FuzzDecodeFastPath(f *testing.F) {
	for _, body := range fastPathBodies {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		checkDecodeAgrees(t, "application/json", []byte(body))
		form := "event_type=deliveries&event=" + url.QueryEscape(body)
		checkDecodeAgrees(t, "application/x-www-form-urlencoded", []byte(form))
	})
}

func FuzzParseEntryFastPath(f *testing.F) {
	for _, raw := range fastPathEntries {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		checkEntryAgrees(t, []byte(raw))
	})
}

func FuzzParseCreatedFastPath(f *testing.F) {
	f.Add("2023-01-25 14:03:06")
	f.Add("2023-02-30 25:61:61")
	f.Fuzz(func(t *testing.T, created string) {
		checkCreatedAgrees(t, created, time.UTC)
	})
}

func TestSkipPlainWordsStopsAtSpecialBytes(t *testing.T) {
	for c := range 256 {
		special := !plainStringByte[c]
		for pos := range 16 {
			data := []byte(strings.Repeat("あa", 8)[:16])
			data[pos] = byte(c)
			got := skipPlainWords(data, 0)
			if special && got > pos {
				t.Fatalf("byte %#x at %d: skipped to %d, past it", c, pos, got)
			}
			if !special && got != 16 {
				t.Fatalf("byte %#x at %d: stopped at %d in plain text", c, pos, got)
			}
		}
	}
}
