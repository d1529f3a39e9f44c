package cmc_test

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailbridge/mailbridge/pkg/cmc"
)

func TestDecodeEncodingsAgree(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cmc", "deliveries-failed.json"))
	if err != nil {
		t.Fatal(err)
	}
	fromJSON, err := cmc.Decode("application/json; charset=utf-8", body, cmc.Limits{})
	if err != nil {
		t.Fatal(err)
	}

	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"event_type": {"deliveries"}, "server_composition": {"pro"}, "event": {string(members["event"])}, "api_key": {"k"}}
	fromForm, err := cmc.Decode("application/x-www-form-urlencoded", []byte(form.Encode()), cmc.Limits{})
	if err != nil {
		t.Fatal(err)
	}

	if fromForm.EventType != cmc.EventTypeDeliveries || fromForm.ServerComposition != "pro" || fromForm.APIKey != "k" {
		t.Errorf("form batch = %+v", fromForm)
	}
	if fromJSON.Encoding != cmc.EncodingJSON || fromForm.Encoding != cmc.EncodingForm {
		t.Errorf("encodings = %s and %s", fromJSON.Encoding, fromForm.Encoding)
	}
	if len(fromJSON.Entries) != 1 || len(fromForm.Entries) != 1 {
		t.Fatalf("entries = %d and %d, want 1 each", len(fromJSON.Entries), len(fromForm.Entries))
	}
	a, errA := cmc.ParseEntry(fromJSON.Entries[0])
	b, errB := cmc.ParseEntry(fromForm.Entries[0])
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a.To != b.To || a.Reason != b.Reason || a.Created != b.Created {
		t.Errorf("entries differ: %+v and %+v", a, b)
	}
}

func TestParseEntryVersion1(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, raw              string
		version                int
		returnPath, to, extras string
	}{
		{"version 2", `{"returnPath":"r@example.jp","to":"t@example.jp"}`, 2, "r@example.jp", "t@example.jp", ""},
		{"version 1", `{"envelopeFrom":"r@example.jp","envelopeTo":"t@example.jp"}`, 1, "r@example.jp", "t@example.jp", ""},
		{"both, version 2 wins", `{"envelopeTo":"old@example.jp","to":"t@example.jp"}`, 2, "", "t@example.jp", "envelopeTo"},
		{"numbers and null", `{"to":"t@example.jp","status":2,"reason":null}`, 2, "", "t@example.jp", ""},
		{"unknown field kept", `{"to":"t@example.jp","x-trace":{"a":1}}`, 2, "", "t@example.jp", "x-trace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			entry, err := cmc.ParseEntry(json.RawMessage(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if entry.Version != tc.version {
				t.Errorf("Version = %d, want %d", entry.Version, tc.version)
			}
			if entry.ReturnPath != tc.returnPath || entry.To != tc.to {
				t.Errorf("ReturnPath, To = %q, %q; want %q, %q", entry.ReturnPath, entry.To, tc.returnPath, tc.to)
			}
			if tc.extras != "" {
				if _, ok := entry.Extra[tc.extras]; !ok {
					t.Errorf("Extra = %v, want it to keep %s", entry.Extra, tc.extras)
				}
			} else if len(entry.Extra) != 0 {
				t.Errorf("Extra = %v, want none", entry.Extra)
			}
		})
	}
}

func TestParseEntryRejectsWrongTypes(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{`[]`, `"x"`, `{"to":{}}`, `{"status":true}`, `{"to":["a"]}`, `{"to":`} {
		if _, err := cmc.ParseEntry(json.RawMessage(raw)); !errors.Is(err, cmc.ErrMalformed) {
			t.Errorf("ParseEntry(%s) = %v, want ErrMalformed", raw, err)
		}
	}
}

func TestDecodeLimits(t *testing.T) {
	t.Parallel()
	deep := `{"event_type":"deliveries","event":{"deliveries":[` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `]}}`
	if _, err := cmc.Decode("application/json", []byte(deep), cmc.Limits{}); !errors.Is(err, cmc.ErrMalformed) {
		t.Errorf("JSON nested 40 deep: %v, want ErrMalformed", err)
	}

	multipart := ""
	for range 3 {
		multipart += "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n"
	}
	multipart += "--b--\r\n"
	_, err := cmc.Decode("multipart/form-data; boundary=b", []byte(multipart), cmc.Limits{MaxMultipartParts: 2})
	if !errors.Is(err, cmc.ErrMalformed) {
		t.Errorf("3 parts with a limit of 2: %v, want ErrMalformed", err)
	}
}

// FuzzDecode checks that Decode never panics and that every error it
// returns wraps one of the package's sentinels.
func FuzzDecode(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "cmc", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range paths {
		body, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("application/json", body)
	}
	f.Add("application/x-www-form-urlencoded", []byte("event_type=bounces&event=%7B%22bounces%22%3A%5B%5D%7D"))
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"event_type\"\r\n\r\nblocks\r\n--b--\r\n"))
	f.Add("application/json", []byte(`{"event_type":"deliveries","event":"{\"deliveries\":[{}]}"}`))
	f.Add("text/plain", []byte("x"))

	sentinels := []error{cmc.ErrMalformed, cmc.ErrUnsupportedMediaType, cmc.ErrUnknownEventType}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		batch, err := cmc.Decode(contentType, body, cmc.Limits{})
		if err != nil {
			wrapsSentinel := false
			for _, sentinel := range sentinels {
				wrapsSentinel = wrapsSentinel || errors.Is(err, sentinel)
			}
			if !wrapsSentinel {
				t.Fatalf("Decode error %q wraps no sentinel", err)
			}
			return
		}
		if !batch.EventType.Valid() {
			t.Fatalf("Decode accepted event_type %q", batch.EventType)
		}
		for _, raw := range batch.Entries {
			if _, err := cmc.ParseEntry(raw); err != nil && !errors.Is(err, cmc.ErrMalformed) {
				t.Fatalf("ParseEntry error %q does not wrap ErrMalformed", err)
			}
		}
	})
}
