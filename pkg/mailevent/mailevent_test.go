package mailevent_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/schemas"
)

func TestToken(t *testing.T) {
	t.Parallel()
	cases := []struct{ text, want string }{
		{"blocked", "blocked"},
		{"  Blocked ", "blocked"},
		{"soft_bounce-2", "soft_bounce-2"},
		{"", "unknown"},
		{"a.b", "unknown"},
		{"a b", "unknown"},
		{"*", "unknown"},
		{">", "unknown"},
		{"mail.>", "unknown"},
		{"tab\there", "unknown"},
		{"ブロック", "unknown"},
		{strings.Repeat("a", 32), strings.Repeat("a", 32)},
		{strings.Repeat("a", 33), "unknown"},
	}
	for _, tc := range cases {
		if got := mailevent.Token(tc.text); got != tc.want {
			t.Errorf("Token(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestSubjectsNeverContainUnsafeTokens(t *testing.T) {
	t.Parallel()
	s := mailevent.Subjects{Prefix: "mail"}
	inputs := []string{"failed", "x.y", "a b", "*", ">", "2", " 2 ", "99", "-1", "ＦＡＩＬＥＤ", "\r\n"}
	for _, in := range inputs {
		for _, subject := range []string{s.Delivery(in), s.Bounce(in), s.Block(in)} {
			tokens := strings.Split(subject, ".")
			if len(tokens) != 3 {
				t.Errorf("subject %q for %q has %d tokens, want 3", subject, in, len(tokens))
			}
			if strings.ContainsAny(subject, " *>\t\r\n") {
				t.Errorf("subject %q for %q has a space or wildcard", subject, in)
			}
		}
	}
}

// TestSubjectsSameUnderEveryPrefix checks that the delivery and bounce
// subjects under the default prefix, which are made once, equal those
// under another prefix with that prefix replaced.
func TestSubjectsSameUnderEveryPrefix(t *testing.T) {
	t.Parallel()
	usual := mailevent.Subjects{Prefix: mailevent.DefaultPrefix}
	other := mailevent.Subjects{Prefix: "acme.mail"}
	statuses := []string{"queued", "succeeded", "failed", "deferred", "bounced", "", "x.y"}
	for _, c := range mailevent.BounceCodes {
		statuses = append(statuses, c.Code)
	}
	for _, status := range statuses {
		pairs := [][2]string{{usual.Delivery(status), other.Delivery(status)}, {usual.Bounce(status), other.Bounce(status)}}
		for _, pair := range pairs {
			want, ok := strings.CutPrefix(pair[1], "acme.mail.")
			if !ok || pair[0] != "mail."+want {
				t.Errorf("status %q: subject %q under mail, %q under acme.mail", status, pair[0], pair[1])
			}
		}
	}
	if got := usual.Delivery("failed"); got != "mail.deliveries.failed" {
		t.Errorf("Delivery(failed) = %q, want mail.deliveries.failed", got)
	}
	if got := usual.Bounce("2"); got != "mail.bounces.user_unknown" {
		t.Errorf("Bounce(2) = %q, want mail.bounces.user_unknown", got)
	}
}

func TestBinaryHeadersRoundTrip(t *testing.T) {
	t.Parallel()
	values := []struct{ name, subject string }{
		{"ascii", "user@example.jp"},
		{"non-ASCII", "山田太郎@例え.jp"},
		{"space and quote", `"John Smith"@example.jp`},
		{"percent", "100%@example.jp"},
		{"already encoded text", "a%20b@example.jp"},
		{"emoji", "😀@example.jp"},
	}
	for _, v := range values {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			ev := mailevent.Event{
				ID: "0123", Source: "/cmc/本番 1", Type: mailevent.TypeBounce, Subject: v.subject,
				Time:            time.Date(2023, 1, 25, 14, 6, 6, 0, time.FixedZone("JST", 9*3600)),
				DataContentType: "application/json", DataSchema: mailevent.SchemaBounce,
				Data: []byte(`{"a":1}`),
			}
			msg := mailevent.Encode(&ev, "mail.bounces.user_unknown", mailevent.ModeBinary)
			for name, header := range msg.Header {
				for _, c := range []byte(header[0]) {
					if c <= 0x20 || c >= 0x7f || c == '"' {
						t.Errorf("header %s = %q has a byte the binding requires encoded", name, header[0])
						break
					}
				}
			}
			got, err := mailevent.Decode(msg.Header, msg.Data)
			if err != nil {
				t.Fatal(err)
			}
			if got.Subject != ev.Subject || got.Source != ev.Source {
				t.Errorf("subject, source = %q, %q; want %q, %q", got.Subject, got.Source, ev.Subject, ev.Source)
			}
			if !got.Time.Equal(ev.Time) || got.DataContentType != ev.DataContentType || got.DataSchema != ev.DataSchema {
				t.Errorf("decoded %+v, want %+v", got, ev)
			}
			if len(got.Extensions) != 0 {
				t.Errorf("extensions = %v, want none", got.Extensions)
			}
		})
	}
}

func TestDecodePercentEncoding(t *testing.T) {
	t.Parallel()
	header := func(subject string) nats.Header {
		return nats.Header{
			"ce-specversion": {"1.0"}, "ce-id": {"1"}, "ce-source": {"/cmc"},
			"ce-type": {mailevent.TypeBlock}, "ce-subject": {subject},
		}
	}
	accepted := map[string]string{
		"%e5%b1%b1@example.jp":      "山@example.jp",
		"%41bc":                     "Abc",
		`"quoted \"value\""`:        `quoted "value"`,
		"Euro%20%E2%82%AC%20%F0%9F": "",
	}
	for raw, want := range accepted {
		ev, err := mailevent.Decode(header(raw), nil)
		if want == "" {
			if err == nil {
				t.Errorf("Decode(%q) accepted a value that is not UTF-8", raw)
			}
			continue
		}
		if err != nil || ev.Subject != want {
			t.Errorf("Decode(%q) = %q, %v; want %q", raw, ev.Subject, err, want)
		}
	}
	for _, raw := range []string{"%C0%A0", "%zz", "50%"} {
		if _, err := mailevent.Decode(header(raw), nil); err == nil {
			t.Errorf("Decode(%q) succeeded, want an error", raw)
		}
	}
}

func entryOf(t *testing.T, raw string) *cmc.Entry {
	t.Helper()
	entry, err := cmc.ParseEntry(json.RawMessage(raw))
	if err != nil {
		t.Fatal(err)
	}
	return &entry
}

func TestEventIDStableAndDistinct(t *testing.T) {
	t.Parallel()
	base := `{"created":"2023-01-25 14:06:06","to":"a@example.jp","status":"failed","reason":"550 5.1.1","x":{"b":1,"a":[1,2]}}`
	id := mailevent.EventID(cmc.EventTypeDeliveries, "pro", entryOf(t, base))
	if len(id) != 32 {
		t.Errorf("id %q has %d characters, want 32", id, len(id))
	}

	same := []string{
		`{"status":"failed","reason":"550 5.1.1","to":"a@example.jp","created":"2023-01-25 14:06:06","x":{"a":[1,2],"b":1}}`,
		"{ \"created\" : \"2023-01-25 14:06:06\",\n\t\"to\":\"a@example.jp\", \"status\":\"failed\", \"reason\":\"550 5.1.1\", \"x\": { \"b\": 1, \"a\": [ 1, 2 ] } }",
		`{"created":"2023-01-25 14:06:06","envelopeTo":"a@example.jp","status":"failed","reason":"550 5.1.1","x":{"b":1,"a":[1,2]}}`,
		`{"created":"2023-01-25 14:06:06","to":"a@example.jp","status":"failed","reason":"550 5.1.1","x":{"b":1,"a":[1,2]},"apiData":""}`,
	}
	for _, raw := range same {
		if got := mailevent.EventID(cmc.EventTypeDeliveries, "pro", entryOf(t, raw)); got != id {
			t.Errorf("id of %s = %s, want %s", raw, got, id)
		}
	}

	different := map[string]string{
		"created":                     strings.Replace(base, "14:06:06", "14:06:07", 1),
		"recipient":                   strings.Replace(base, "a@example.jp", "b@example.jp", 1),
		"status":                      strings.Replace(base, `"failed"`, `"deferred"`, 1),
		"reason":                      strings.Replace(base, "5.1.1", "5.1.2", 1),
		"extra":                       strings.Replace(base, `"b":1`, `"b":2`, 1),
		"apiData":                     strings.Replace(base, `"to"`, `"apiData":"x","to"`, 1),
		"field name moved into value": `{"created":"2023-01-25 14:06:06","to":"a@example.jp","status":"failed","reason":"550 5.1.1","x":{"b":1,"a":[1,2]},"y":""}`,
	}
	seen := map[string]string{id: "base"}
	for field, raw := range different {
		got := mailevent.EventID(cmc.EventTypeDeliveries, "pro", entryOf(t, raw))
		if other, dup := seen[got]; dup {
			t.Errorf("changing %s gives the id of %s: %s", field, other, got)
		}
		seen[got] = field
	}
	if mailevent.EventID(cmc.EventTypeBounces, "pro", entryOf(t, base)) == id {
		t.Error("a bounce and a delivery with the same fields share an id")
	}
	if mailevent.EventID(cmc.EventTypeDeliveries, "sandbox", entryOf(t, base)) == id {
		t.Error("two server compositions share an id")
	}
}

// FuzzBuild checks that Build never panics, that every event it builds is
// a valid CloudEvent whose data matches its dataschema, and that BuildTo
// into used storage, large or small, gives the same event.
func FuzzBuild(f *testing.F) {
	f.Add("deliveries", "pro", `{"created":"2023-01-25 14:06:06","to":"a@example.jp","status":"failed","reason":"550 5.1.1 no"}`)
	f.Add("bounces", "pro", `{"created":"2023-01-25 14:06:07","envelopeTo":"a@example.jp","status":"2"}`)
	f.Add("blocks", "", `{"created":"2023/01/25 14:06:07","email":"a@example.jp","status":"blocked","n":[1]}`)
	f.Add("deliveries", "本番", `{"created":"2023-01-25T14:06:06+09:00","to":" 山@例え.jp ","status":7}`)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		f.Fatal(err)
	}
	builder := &mailevent.Builder{
		Subjects: mailevent.Subjects{Prefix: "mail"},
		Location: tokyo,
		Classify: func(string, string, string) mailevent.Classification {
			return mailevent.Classification{Reason: "undefined"}
		},
	}

	f.Fuzz(func(t *testing.T, eventType, composition, raw string) {
		ev, subject, err := builder.Build(cmc.EventType(eventType), composition, json.RawMessage(raw))
		if err != nil {
			return
		}
		if strings.ContainsAny(subject, " *>") || strings.Count(subject, ".") != 2 {
			t.Fatalf("subject %q is not three safe tokens", subject)
		}
		if !json.Valid(ev.Data) {
			t.Fatalf("data is not JSON: %q", ev.Data)
		}
		for _, used := range [][]byte{bytes.Repeat([]byte("x"), 4096), []byte("xyz")} {
			again, againSubject, err := builder.BuildTo(used, cmc.EventType(eventType), composition, json.RawMessage(raw))
			if err != nil {
				t.Fatalf("BuildTo into %d bytes: %v, where Build succeeded", cap(used), err)
			}
			if againSubject != subject || !bytes.Equal(again.Data, ev.Data) || again.ID != ev.ID {
				t.Fatalf("BuildTo into %d bytes: subject %q, id %s, data %s; Build: %q, %s, %s",
					cap(used), againSubject, again.ID, again.Data, subject, ev.ID, ev.Data)
			}
		}
		if !strings.HasPrefix(ev.Type, mailevent.TypePrefix) {
			t.Fatalf("type %q", ev.Type)
		}
		if err := ev.Validate(); err != nil {
			// The ingress rejects these records, as the CloudEvents SDK does.
			return
		}
		if err := schemas.Validate(ev.DataSchema, ev.Data); err != nil {
			t.Fatalf("data does not match %s: %v\n%s", ev.DataSchema, err, ev.Data)
		}
	})
}

// TestEncodeToMatchesFreshEncode encodes events with the same and with
// different header names into one buffer, changing headers between them as
// publishers do, and compares each message with a fresh Encode.
func TestEncodeToMatchesFreshEncode(t *testing.T) {
	t.Parallel()
	base := mailevent.Event{
		ID: "a1", Source: "/cmc/pro", Type: mailevent.TypeBounce, Subject: "taro@example.jp",
		Time:            time.Date(2023, 1, 25, 14, 6, 6, 0, time.UTC),
		DataContentType: "application/json", DataSchema: mailevent.SchemaBounce,
		Data: []byte(`{"a":1}`),
	}
	other := base
	other.ID, other.Subject, other.Data = "b2", "花子@example.jp", []byte(`{"b":2}`)
	noSubject := base
	noSubject.ID, noSubject.Subject = "c3", ""
	traced := base
	traced.ID, traced.Extensions = "d4", map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	crowded := base
	crowded.ID, crowded.Extensions = "e5", map[string]string{"x1": "1", "x2": "2", "x3": "3", "x4": "4"}

	events := []mailevent.Event{base, other, other, noSubject, base, base, other, traced, other, crowded, base, other, base}
	for _, mode := range []mailevent.Mode{mailevent.ModeBinary, mailevent.ModeStructured} {
		var buf mailevent.MessageBuffer
		for i, ev := range events {
			want := mailevent.Encode(&ev, "mail.x", mode)
			got := mailevent.EncodeTo(&buf, &ev, "mail.x", mode)
			if got.Subject != want.Subject {
				t.Fatalf("event %d (%s): subject %q, want %q", i, mode, got.Subject, want.Subject)
			}
			if got.Reply != "" {
				t.Fatalf("event %d (%s): reply %q, want none", i, mode, got.Reply)
			}
			if string(got.Data) != string(want.Data) {
				t.Fatalf("event %d (%s): data %s, want %s", i, mode, got.Data, want.Data)
			}
			if len(got.Header) != len(want.Header) {
				t.Fatalf("event %d (%s): headers %v, want %v", i, mode, got.Header, want.Header)
			}
			for name, values := range want.Header {
				if g := got.Header[name]; len(g) != 1 || g[0] != values[0] {
					t.Fatalf("event %d (%s): header %s = %q, want %q", i, mode, name, g, values)
				}
			}
			// Publishers add a header and a reply subject. The ingress's
			// publisher deletes the header again after publishing.
			switch i % 3 {
			case 1:
				got.Header["Nats-Expected-Stream"] = []string{"MAIL"}
				got.Reply = "_INBOX.x.1"
			case 2:
				got.Header["Nats-Expected-Stream"] = []string{"MAIL"}
				delete(got.Header, "Nats-Expected-Stream")
			}
		}
	}
}

// TestEncodeToExtraHeader checks that a buffer's extra header comes with
// every message encoded into it, follows a change of its value, and goes
// when its name is emptied, in both modes and with any header names.
func TestEncodeToExtraHeader(t *testing.T) {
	t.Parallel()
	plain := mailevent.Event{ID: "a1", Source: "/cmc", Type: mailevent.TypeBounce, Data: []byte(`{}`)}
	crowded := plain
	crowded.ID, crowded.Extensions = "b2", map[string]string{"x1": "1", "x2": "2", "x3": "3", "x4": "4"}
	steps := []struct {
		ev          mailevent.Event
		name, value string
	}{
		{plain, "Nats-Expected-Stream", "MAIL"},
		{plain, "Nats-Expected-Stream", "MAIL"},
		{crowded, "Nats-Expected-Stream", "MAIL"},
		{plain, "Nats-Expected-Stream", "OTHER"},
		{plain, "", ""},
		{plain, "Nats-Expected-Stream", "MAIL"},
	}
	for _, mode := range []mailevent.Mode{mailevent.ModeBinary, mailevent.ModeStructured} {
		var buf mailevent.MessageBuffer
		for i, step := range steps {
			buf.SetExtraHeader(step.name, step.value)
			want := mailevent.Encode(&step.ev, "mail.x", mode)
			got := mailevent.EncodeTo(&buf, &step.ev, "mail.x", mode)
			if step.name != "" {
				want.Header[step.name] = []string{step.value}
			}
			if len(got.Header) != len(want.Header) {
				t.Fatalf("step %d (%s): headers %v, want %v", i, mode, got.Header, want.Header)
			}
			for name, values := range want.Header {
				if g := got.Header[name]; len(g) != 1 || g[0] != values[0] {
					t.Fatalf("step %d (%s): header %s = %q, want %q", i, mode, name, g, values)
				}
			}
		}
	}
}

// TestEncodeToAfterCopyingBuffer copies a buffer by value, as a growing
// slice of buffers does, and checks that the copy's next message carries
// its own values.
func TestEncodeToAfterCopyingBuffer(t *testing.T) {
	t.Parallel()
	first := mailevent.Event{ID: "1", Source: "/cmc", Type: mailevent.TypeBounce, Data: []byte(`{}`)}
	second := first
	second.ID = "2"
	buffers := make([]mailevent.MessageBuffer, 1)
	mailevent.EncodeTo(&buffers[0], &first, "mail.x", mailevent.ModeBinary)
	buffers = append(buffers, mailevent.MessageBuffer{})
	msg := mailevent.EncodeTo(&buffers[0], &second, "mail.x", mailevent.ModeBinary)
	if got := msg.Header.Get(mailevent.HeaderMsgID); got != "2" {
		t.Errorf("%s after copying the buffer = %q, want 2", mailevent.HeaderMsgID, got)
	}
}
