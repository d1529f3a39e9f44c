package mailevent_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// decodeAndAppend is the general path that AppendStructuredMsg must match.
func decodeAndAppend(header nats.Header, data []byte) ([]byte, error) {
	ev, err := mailevent.Decode(header, data)
	if err != nil {
		return nil, err
	}
	return mailevent.AppendStructured(nil, &ev), nil
}

// checkSameOutput fails t when AppendStructuredMsg and the general path
// disagree on header and data.
func checkSameOutput(t *testing.T, header nats.Header, data []byte) {
	t.Helper()
	want, wantErr := decodeAndAppend(header, data)
	prefix := []byte("previous line\n")
	got, err := mailevent.AppendStructuredMsg(bytes.Clone(prefix), header, data)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("AppendStructuredMsg error = %v, general path error = %v", err, wantErr)
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("AppendStructuredMsg changed the bytes before dst's end: %q", got)
	}
	got = got[len(prefix):]
	if err != nil {
		if len(got) != 0 {
			t.Errorf("AppendStructuredMsg appended %q with error %v", got, err)
		}
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("AppendStructuredMsg wrote\n%s\ngeneral path wrote\n%s", got, want)
	}
}

// binaryHeader returns the headers of a typical binary-mode bounce, with
// the given headers added or replaced.
func binaryHeader(set map[string]string) nats.Header {
	h := nats.Header{
		"Nats-Msg-Id":        {"b7c1e0d2a4f65839"},
		"ce-specversion":     {"1.0"},
		"ce-id":              {"b7c1e0d2a4f65839"},
		"ce-source":          {"/cmc/pro"},
		"ce-type":            {mailevent.TypeBounce},
		"ce-subject":         {"user@example.jp"},
		"ce-time":            {"2023-01-25T14:06:06+09:00"},
		"ce-dataschema":      {mailevent.SchemaBounce},
		"ce-datacontenttype": {"application/json"},
		"content-type":       {"application/json"},
	}
	for name, value := range set {
		if value == "<none>" {
			delete(h, name)
			continue
		}
		h[name] = []string{value}
	}
	return h
}

const bounceData = `{"created":"2023-01-25T14:06:06+09:00","to":"user@example.jp","reason":"550 5.1.1 user unknown","classification":{"reason":"userunknown","hard":true,"smtp_code":"550","enhanced_status":"5.1.1"},"bounce_code":"2"}`

func TestAppendStructuredMsgMatchesDecode(t *testing.T) {
	t.Parallel()
	structured := func(ev mailevent.Event) (nats.Header, []byte) {
		msg := mailevent.Encode(&ev, "mail.bounces.user_unknown", mailevent.ModeStructured)
		return msg.Header, msg.Data
	}
	jst := time.FixedZone("JST", 9*3600)
	fullEvent := mailevent.Event{
		ID: "e1", Source: "/cmc/本番", Type: mailevent.TypeBounce, Subject: "山田太郎@例え.jp",
		Time:            time.Date(2023, 1, 25, 14, 6, 6, 120000000, jst),
		DataContentType: "application/json", DataSchema: mailevent.SchemaBounce,
		Extensions: map[string]string{"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "cmcserver": "pro", "zone": "東京"},
		Data:       []byte(bounceData),
	}
	cases := []struct {
		name   string
		header nats.Header
		data   []byte
	}{
		{"binary bounce", binaryHeader(nil), []byte(bounceData)},
		{"non-ASCII recipient", binaryHeader(map[string]string{"ce-subject": "%E5%B1%B1%E7%94%B0@%E4%BE%8B%E3%81%88.jp"}), []byte(bounceData)},
		{"quoted subject", binaryHeader(map[string]string{"ce-subject": `"\"John Smith\"@example.jp"`}), []byte(bounceData)},
		{"subject with control and separator", binaryHeader(map[string]string{"ce-subject": "a%0Ab%E2%80%A8c%22@example.jp"}), []byte(bounceData)},
		{"no subject", binaryHeader(map[string]string{"ce-subject": "<none>"}), []byte(bounceData)},
		{"extensions", binaryHeader(map[string]string{"ce-traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "ce-zone": "%E6%9D%B1%E4%BA%AC", "CE-CmcServer": "pro", "ce-a": ""}), []byte(bounceData)},
		{"uppercase header names", binaryHeader(map[string]string{"ce-id": "<none>", "Ce-Id": "upper", "CONTENT-TYPE": "application/json"}), []byte(bounceData)},
		{"time in UTC", binaryHeader(map[string]string{"ce-time": "2023-01-25T05:06:06Z"}), []byte(bounceData)},
		{"time with fraction", binaryHeader(map[string]string{"ce-time": "2023-01-25T14:06:06.123456789+09:00"}), []byte(bounceData)},
		{"time with trailing zeros", binaryHeader(map[string]string{"ce-time": "2023-01-25T14:06:06.120+09:00"}), []byte(bounceData)},
		{"time with zero fraction", binaryHeader(map[string]string{"ce-time": "2023-01-25T14:06:06.000Z"}), []byte(bounceData)},
		{"time with plus zero offset", binaryHeader(map[string]string{"ce-time": "2023-01-25T05:06:06+00:00"}), []byte(bounceData)},
		{"time with minus zero offset", binaryHeader(map[string]string{"ce-time": "2023-01-25T05:06:06-00:00"}), []byte(bounceData)},
		{"time with negative offset", binaryHeader(map[string]string{"ce-time": "2023-01-24T21:06:06-08:00"}), []byte(bounceData)},
		{"time with ten fraction digits", binaryHeader(map[string]string{"ce-time": "2023-01-25T14:06:06.1234567891+09:00"}), []byte(bounceData)},
		{"time on leap day", binaryHeader(map[string]string{"ce-time": "2024-02-29T00:00:00+09:00"}), []byte(bounceData)},
		{"time on missing leap day", binaryHeader(map[string]string{"ce-time": "2023-02-29T00:00:00+09:00"}), []byte(bounceData)},
		{"time with lowercase t", binaryHeader(map[string]string{"ce-time": "2023-01-25t14:06:06+09:00"}), []byte(bounceData)},
		{"time of year 1", binaryHeader(map[string]string{"ce-time": "0001-01-01T00:00:00Z"}), []byte(bounceData)},
		{"time of year 999", binaryHeader(map[string]string{"ce-time": "0999-12-31T23:59:59+09:00"}), []byte(bounceData)},
		{"time with second 60", binaryHeader(map[string]string{"ce-time": "2023-01-25T14:06:60+09:00"}), []byte(bounceData)},
		{"time with offset hour 24", binaryHeader(map[string]string{"ce-time": "2023-01-25T14:06:06+24:00"}), []byte(bounceData)},
		{"empty time", binaryHeader(map[string]string{"ce-time": ""}), []byte(bounceData)},
		{"no time", binaryHeader(map[string]string{"ce-time": "<none>"}), []byte(bounceData)},
		{"only content-type", binaryHeader(map[string]string{"ce-datacontenttype": "<none>"}), []byte(bounceData)},
		{"conflicting content types", binaryHeader(map[string]string{"content-type": "text/plain"}), []byte(bounceData)},
		{"empty ce-datacontenttype", binaryHeader(map[string]string{"ce-datacontenttype": ""}), []byte(bounceData)},
		{"text data", binaryHeader(map[string]string{"ce-datacontenttype": "text/plain; charset=utf-8", "content-type": "<none>"}), []byte("550 ユーザー不明\n")},
		{"invalid JSON data", binaryHeader(nil), []byte(`{"to":"user@example.jp",}`)},
		{"JSON string data", binaryHeader(nil), []byte(`"just a string"`)},
		{"JSON data with white space", binaryHeader(nil), []byte(" [1, -2.5e+3, true, null, {}] \n")},
		{"JSON data with invalid UTF-8", binaryHeader(nil), []byte("{\"to\":\"\xff\xfe\"}")},
		{"JSON data with a raw unit separator", binaryHeader(nil), []byte("{\"to\":\"a\x1fb\"}")},
		{"JSON data with a raw tab", binaryHeader(nil), []byte("{\"to\":\"a\tb\"}")},
		{"JSON data with escapes", binaryHeader(nil), []byte(`{"to":"\"\\\/\b\f\n\r\t\u00E9\ud83d\ude00"}`)},
		{"JSON data with a bad escape", binaryHeader(nil), []byte(`{"to":"\x41"}`)},
		{"empty data", binaryHeader(nil), []byte{}},
		{"nil data", binaryHeader(nil), nil},
		{"missing id", binaryHeader(map[string]string{"ce-id": "<none>"}), []byte(bounceData)},
		{"empty source", binaryHeader(map[string]string{"ce-source": ""}), []byte(bounceData)},
		{"other specversion", binaryHeader(map[string]string{"ce-specversion": "0.3"}), []byte(bounceData)},
		{"invalid percent-encoding", binaryHeader(map[string]string{"ce-subject": "50%"}), []byte(bounceData)},
		{"percent-encoding not UTF-8", binaryHeader(map[string]string{"ce-subject": "%C0%A0"}), []byte(bounceData)},
		{"rejected record", nats.Header{"Mailbridge-Reject-Reason": {"entry 0: missing recipient"}}, []byte("rejected")},
	}
	structuredHeader, structuredData := structured(fullEvent)
	cases = append(cases, struct {
		name   string
		header nats.Header
		data   []byte
	}{"structured mode with extensions", structuredHeader, structuredData})
	binary := mailevent.Encode(&fullEvent, "mail.bounces.user_unknown", mailevent.ModeBinary)
	cases = append(cases, struct {
		name   string
		header nats.Header
		data   []byte
	}{"encoded binary mode with extensions", binary.Header, binary.Data})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			checkSameOutput(t, c.header, c.data)
		})
	}
}

func TestAppendStructuredMsgNestingLimit(t *testing.T) {
	t.Parallel()
	for _, depth := range []int{9999, 10000, 10001} {
		data := []byte(strings.Repeat("[", depth) + strings.Repeat("]", depth))
		got, err := mailevent.AppendStructuredMsg(nil, binaryHeader(nil), data)
		if err != nil {
			t.Fatal(err)
		}
		embedded := bytes.HasSuffix(got, []byte(`"data":`+string(data)+`}`))
		if embedded != json.Valid(data) {
			t.Errorf("depth %d: data embedded as JSON = %v, json.Valid = %v", depth, embedded, json.Valid(data))
		}
	}
}

func FuzzAppendStructuredMsg(f *testing.F) {
	f.Add("user@example.jp", "2023-01-25T14:06:06+09:00", "00-01", "application/json", []byte(bounceData))
	f.Add("%E5%B1%B1@example.jp", "2023-01-25T14:06:06.5Z", "", "text/plain", []byte("text"))
	f.Add(`"quoted"`, "2023-01-25T14:06:06.50+00:00", "%20", "application/cloudevents+json", []byte(`{"a":[1,2.0e-1,"\u00e9\n"]}`))
	f.Add("x", "9999-12-31T23:59:59-23:59", "a%zz", "", []byte(`[{"a":tru}]`))
	f.Add("x", "2023-13-01T00:00:00Z", "a", "application/json", []byte(`-0.1e`))
	f.Fuzz(func(t *testing.T, subject, timeText, extension, contentType string, data []byte) {
		header := binaryHeader(map[string]string{
			"ce-subject": subject, "ce-time": timeText, "ce-ext": extension, "ce-datacontenttype": contentType,
		})
		checkSameOutput(t, header, data)
	})
}
