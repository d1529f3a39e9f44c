package mailevent

import (
	"testing"
	"time"
)

func validEvent() Event {
	return Event{
		ID:              "8d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a",
		Source:          "/cmc/pro",
		Type:            TypeDeliveryQueued,
		Subject:         "user@example.jp",
		Time:            time.Date(2023, 1, 25, 14, 3, 6, 0, time.UTC),
		DataContentType: "application/json",
		DataSchema:      SchemaDelivery,
		Data:            []byte(`{"status":"queued"}`),
	}
}

func TestValidateFastAgreesWithSDK(t *testing.T) {
	t.Parallel()
	cases := map[string]func(*Event){
		"valid":                         func(*Event) {},
		"no subject, time or data":      func(e *Event) { e.Subject, e.Time, e.Data = "", time.Time{}, nil },
		"source /cmc":                   func(e *Event) { e.Source = "/cmc" },
		"source escaped composition":    func(e *Event) { e.Source = Source("テスト 構成") },
		"source absolute URI":           func(e *Event) { e.Source = "https://example.jp/cmc" },
		"source with query":             func(e *Event) { e.Source = "/cmc?x=1" },
		"source bad escape":             func(e *Event) { e.Source = "/cmc/%zz" },
		"source control character":      func(e *Event) { e.Source = "/cmc/\x7f" },
		"source empty":                  func(e *Event) { e.Source = "" },
		"source authority":              func(e *Event) { e.Source = "//host/path" },
		"source relative colon":         func(e *Event) { e.Source = "a:b/c" },
		"id empty":                      func(e *Event) { e.ID = "" },
		"id blank":                      func(e *Event) { e.ID = " \t" },
		"type empty":                    func(e *Event) { e.Type = "" },
		"type blank":                    func(e *Event) { e.Type = "  " },
		"subject blank":                 func(e *Event) { e.Subject = "  " },
		"content type other":            func(e *Event) { e.DataContentType = "text/plain; charset=utf-8" },
		"content type invalid":          func(e *Event) { e.DataContentType = "not a media type" },
		"content type blank":            func(e *Event) { e.DataContentType = " " },
		"dataschema other":              func(e *Event) { e.DataSchema = "https://example.jp/schema.json" },
		"dataschema invalid":            func(e *Event) { e.DataSchema = "http://[::1" },
		"dataschema relative":           func(e *Event) { e.DataSchema = "schema.json" },
		"extension valid":               func(e *Event) { e.Extensions = map[string]string{"traceparent": "00-abc"} },
		"extension invalid name":        func(e *Event) { e.Extensions = map[string]string{"Bad-Name": "x"} },
		"extension reserved name":       func(e *Event) { e.Extensions = map[string]string{"id": "x"} },
		"bounce schema":                 func(e *Event) { e.Type, e.DataSchema = TypeBounce, SchemaBounce },
		"block schema, no content type": func(e *Event) { e.Type, e.DataSchema, e.DataContentType = TypeBlock, SchemaBlock, "" },
	}
	for name, change := range cases {
		ev := validEvent()
		change(&ev)
		slow := ev.Validate()
		fast := ev.ValidateFast()
		if (slow == nil) != (fast == nil) {
			t.Errorf("%s: Validate = %v, ValidateFast = %v", name, slow, fast)
		}
	}
}

func TestValidateFastTakesShortcut(t *testing.T) {
	ev := validEvent()
	if !ev.plainlyValid() {
		t.Fatal("a Builder-shaped event is not taken by the shortcut")
	}
	allocs := testing.AllocsPerRun(10, func() {
		if err := ev.ValidateFast(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ValidateFast allocated %.0f times for a Builder-shaped event, want 0", allocs)
	}
}

func FuzzValidateFast(f *testing.F) {
	f.Add("id", "/cmc/pro", TypeBounce, "user@example.jp", "application/json", SchemaBounce, "")
	f.Add(" ", "//x", "", " ", "text/plain", "http://[::1", "Bad")
	f.Add("id", "/cmc/a:b@c", "t", "", "", "", "")
	f.Fuzz(func(t *testing.T, id, source, eventType, subject, contentType, schema, extension string) {
		ev := Event{ID: id, Source: source, Type: eventType, Subject: subject,
			DataContentType: contentType, DataSchema: schema, Data: []byte(`{}`)}
		if extension != "" {
			ev.Extensions = map[string]string{extension: "v"}
		}
		slow := ev.Validate()
		fast := ev.ValidateFast()
		if (slow == nil) != (fast == nil) {
			t.Fatalf("%+v: Validate = %v, ValidateFast = %v", ev, slow, fast)
		}
	})
}
