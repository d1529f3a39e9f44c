package suppression

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestDecodeCheckShapes(t *testing.T) {
	t.Parallel()
	want := []string{"a@example.jp", "B@example.jp"}
	for _, body := range []string{
		`["a@example.jp","B@example.jp"]`,
		` [ "a@example.jp" ,
		"B@example.jp" ] `,
		`{"addresses": ["a@example.jp", "B@example.jp"]}`,
		`{"addresses":["a@example.jp","B@\u0065xample.jp"],"note":"x"}`,
		`{"note":"x","addresses":["a@example.jp","B@example.jp"]}`,
	} {
		got, err := decodeCheck([]byte(body))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("decodeCheck(%s) = %q, %v; want %q", body, got, err, want)
		}
	}
	for _, body := range []string{`[`, `["a@example.jp",]`, `{"addresses": "a@example.jp"}`, `{}`, `[1]`, `"a"`} {
		if got, err := decodeCheck([]byte(body)); err == nil {
			t.Errorf("decodeCheck(%s) = %q, want an error", body, got)
		}
	}
}

func FuzzDecodeCheckMatchesEncodingJSON(f *testing.F) {
	for _, seed := range []string{`["a@b.jp"]`, `[]`, `[ "x" , "y" ]`, `["\u00e9"]`, `["a",]`, `[`, `{"addresses":["a"]}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, ok := parseStringArray([]byte(body))
		if !ok {
			return
		}
		var want []string
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Fatalf("parseStringArray accepted %q, which encoding/json rejects: %v", body, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("parseStringArray(%q) = %q, encoding/json %q", body, got, want)
		}
	})
}
