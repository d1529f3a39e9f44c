package suppression

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

const testToken = "s3cret-token"

// startAPI runs an index over the bundle's bucket and serves the API.
func startAPI(t *testing.T, b *bundle) (*Client, *Index) {
	t.Helper()
	index := NewIndex()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- index.Run(ctx, b.store.Bucket(), testLogger(t)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("index: %v", err)
		}
	})
	srv := httptest.NewServer(NewAPI(b.store, index, APIConfig{Token: testToken, MaxCheck: 1000, Logger: testLogger(t)}))
	t.Cleanup(srv.Close)
	<-index.Ready()
	return &Client{BaseURL: srv.URL, Token: testToken, HTTPClient: srv.Client()}, index
}

func TestAPIAddGetListRemove(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	client, index := startAPI(t, b)
	ctx := natstest.Context(t, 20*time.Second)

	added, err := client.SuppressionAdd(ctx, " Hanako@Example.JP ", "complaint", "asked by phone")
	if err != nil {
		t.Fatal(err)
	}
	if added.Address != "Hanako@example.jp" || added.Reason != "complaint" || added.Source != SourceManual || !added.Hard {
		t.Errorf("added %+v", added)
	}
	if !added.SuppressedAt.Equal(b.clock.Now()) {
		t.Errorf("suppressed at %s, want the clock's %s", added.SuppressedAt, b.clock.Now())
	}
	for _, address := range []string{"c@other.jp", "a@example.jp", "b@example.jp"} {
		if _, err := client.SuppressionAdd(ctx, address, "", ""); err != nil {
			t.Fatal(err)
		}
	}

	got, err := client.SuppressionGet(ctx, "hanako@example.jp")
	if err != nil {
		t.Fatal(err)
	}
	if got.Address != "Hanako@example.jp" || got.Note != "asked by phone" {
		t.Errorf("get in lowercase returned %+v", got)
	}

	waitFor(t, time.Second, "the index to hold 4 addresses", func() bool { return index.Len() == 4 })
	page, err := client.SuppressionList(ctx, "EXAMPLE.jp", "", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if addresses(page.Suppressions) != "a@example.jp b@example.jp" || page.NextCursor == "" {
		t.Fatalf("first page %q, next cursor %q", addresses(page.Suppressions), page.NextCursor)
	}
	page, err = client.SuppressionList(ctx, "example.jp", "", page.NextCursor, 2)
	if err != nil {
		t.Fatal(err)
	}
	if addresses(page.Suppressions) != "Hanako@example.jp" || page.NextCursor != "" {
		t.Errorf("second page %q, next cursor %q", addresses(page.Suppressions), page.NextCursor)
	}
	page, err = client.SuppressionList(ctx, "", "complaint", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if addresses(page.Suppressions) != "Hanako@example.jp" {
		t.Errorf("reason filter returned %q", addresses(page.Suppressions))
	}

	if err := client.SuppressionRemove(ctx, "HANAKO@example.jp"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SuppressionGet(ctx, "Hanako@example.jp"); !IsNotFound(err) {
		t.Errorf("get after remove: %v, want 404", err)
	}
	if err := client.SuppressionRemove(ctx, "Hanako@example.jp"); !IsNotFound(err) {
		t.Errorf("second remove: %v, want 404", err)
	}
}

func addresses(list []Suppression) string {
	var out []string
	for _, s := range list {
		out = append(out, s.Address.String())
	}
	return strings.Join(out, " ")
}

func TestRemovedAddressIgnoresOlderEvents(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	b.handle(t, eventSpec{id: "h1", typ: mailevent.TypeBounce, to: "back@example.jp", messageID: "<m1>", at: base, code: 2})
	b.clock.Set(base.Add(24 * time.Hour))
	if err := b.store.Remove(t.Context(), "back@example.jp"); err != nil {
		t.Fatal(err)
	}

	// A replay of an older bounce does not put the address back; a new one does.
	b.handle(t, eventSpec{id: "h0", typ: mailevent.TypeBounce, to: "back@example.jp", messageID: "<m0>", at: base.Add(-time.Hour), code: 2})
	if rec := b.record(t, "back@example.jp"); rec.Suppressed {
		t.Fatalf("an event from before the removal suppressed the address again")
	}
	b.handle(t, eventSpec{id: "h2", typ: mailevent.TypeBounce, to: "back@example.jp", messageID: "<m2>", at: base.Add(48 * time.Hour), code: 2})
	if rec := b.record(t, "back@example.jp"); !rec.Suppressed {
		t.Errorf("a bounce after the removal did not suppress the address")
	}
}

func TestAPICheckAnswersFromIndex(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	client, _ := startAPI(t, b)
	ctx := natstest.Context(t, 20*time.Second)
	b.handle(t, eventSpec{id: "h1", typ: mailevent.TypeBounce, to: "Gone@example.jp", messageID: "<m1>", at: base, code: 2})
	if _, err := client.SuppressionAdd(ctx, "manual@example.jp", "complaint", ""); err != nil {
		t.Fatal(err)
	}

	var result CheckResponse
	waitFor(t, time.Second, "both addresses in the check", func() bool {
		var err error
		result, err = client.SuppressionCheck(ctx, []string{"ok@example.jp", "GONE@example.jp", "not an address", " manual@EXAMPLE.JP "})
		if err != nil {
			t.Fatal(err)
		}
		return len(result.Suppressed) == 2
	})
	want := []Match{{Address: "GONE@example.jp", Reason: "userunknown", Hard: true}, {Address: " manual@EXAMPLE.JP ", Reason: "complaint", Hard: true}}
	if result.Checked != 4 || fmt.Sprint(result.Suppressed) != fmt.Sprint(want) {
		t.Errorf("check = %+v, want 4 checked and %+v", result, want)
	}
}

func TestAPIRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	client, _ := startAPI(t, b)
	base := client.BaseURL
	tooMany, _ := json.Marshal(make([]string, 1001))

	cases := []struct {
		name, method, path, token, body string
		status                          int
		mention                         string // a word the error sentence must contain
	}{
		{"no token", "GET", "/v1/suppressions/a@example.jp", "", "", http.StatusUnauthorized, ""},
		{"wrong token", "GET", "/v1/suppressions/a@example.jp", "wrong", "", http.StatusUnauthorized, ""},
		{"address without at", "GET", "/v1/suppressions/nobody", testToken, "", http.StatusBadRequest, ""},
		{"address with space", "PUT", "/v1/suppressions/a%20b@example.jp", testToken, "", http.StatusBadRequest, ""},
		{"empty domain", "DELETE", "/v1/suppressions/a@", testToken, "", http.StatusBadRequest, ""},
		{"add body not JSON", "PUT", "/v1/suppressions/a@example.jp", testToken, "{reason", http.StatusBadRequest, ""},
		{"check body not JSON", "POST", "/v1/suppressions/check", testToken, "a@example.jp", http.StatusBadRequest, ""},
		{"check without addresses", "POST", "/v1/suppressions/check", testToken, `{"emails": []}`, http.StatusBadRequest, ""},
		{"check too many", "POST", "/v1/suppressions/check", testToken, string(tooMany), http.StatusRequestEntityTooLarge, ""},
		{"limit out of range", "GET", "/v1/suppressions?limit=5000", testToken, "", http.StatusBadRequest, ""},
		{"import without address column", "POST", "/v1/suppressions/import", testToken, "email,reason\na@example.jp,x\n", http.StatusBadRequest, ""},
		{"import broken after two rows", "POST", "/v1/suppressions/import", testToken, "address\nr1@example.jp\nr2@example.jp\n\"r3@example.jp\n", http.StatusBadRequest, "(2 imported, 0 on the list already, 0 invalid)"},
		{"not suppressed", "GET", "/v1/suppressions/a@example.jp", testToken, "", http.StatusNotFound, ""},
		{"add unknown field", "PUT", "/v1/suppressions/a@example.jp", testToken, `{"reasn": "complaint"}`, http.StatusBadRequest, "reasn"},
		{"add two values", "PUT", "/v1/suppressions/a@example.jp", testToken, `{"reason": "complaint"} {}`, http.StatusBadRequest, "valid JSON"},
		{"cursor not an address", "GET", "/v1/suppressions?cursor=zzz", testToken, "", http.StatusBadRequest, "next_cursor"},
		{"wrong method", "POST", "/v1/suppressions/a@example.jp", testToken, "", http.StatusMethodNotAllowed, "PUT"},
		{"unknown path", "GET", "/v1/suppression", testToken, "", http.StatusNotFound, "/v1/suppressions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, base+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var answer errorBody
			if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
				t.Fatalf("answer is not JSON: %v", err)
			}
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d (%s)", resp.StatusCode, c.status, answer.Error)
			}
			if answer.Error == "" {
				t.Error("answer has no error sentence")
			}
			if !strings.Contains(answer.Error, c.mention) {
				t.Errorf("error %q does not mention %q", answer.Error, c.mention)
			}
		})
	}
}

func TestCSVRoundTrip(t *testing.T) {
	t.Parallel()
	from := setup(t, Policy{})
	ctx := natstest.Context(t, 20*time.Second)
	from.handle(t, eventSpec{id: "h1", typ: mailevent.TypeBounce, to: "Gone@example.jp", messageID: "<m1>", at: base, code: 1})
	if _, _, err := from.store.Add(ctx, "quote\"and,comma@example.jp", "complaint", "line one\nline two"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := from.store.Add(ctx, "日本語@例え.jp", "", ""); err != nil {
		t.Fatal(err)
	}
	var first bytes.Buffer
	n, err := from.store.Export(ctx, &first)
	if err != nil || n != 3 {
		t.Fatalf("export wrote %d rows (%v), want 3", n, err)
	}

	to := setup(t, Policy{})
	client, _ := startAPI(t, to)
	result, err := client.SuppressionImport(ctx, bytes.NewReader(first.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if result.Imported != 3 || result.InvalidCount != 0 {
		t.Fatalf("import result %+v, want 3 imported", result)
	}
	var second bytes.Buffer
	if err := client.SuppressionExport(ctx, &second); err != nil {
		t.Fatal(err)
	}
	if sortedLines(first.String()) != sortedLines(second.String()) {
		t.Errorf("export after import differs:\n%s\nfirst:\n%s", second.String(), first.String())
	}

	again, err := client.SuppressionImport(ctx, strings.NewReader("address\nGONE@example.jp\nnot-an-address\n"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Unchanged != 1 || again.InvalidCount != 1 || again.Invalid[0].Line != 3 {
		t.Errorf("second import %+v, want 1 unchanged and line 3 invalid", again)
	}
}

// sortedLines returns the CSV records of text in a fixed order; a record
// may span lines, so records are compared by their parsed fields.
func sortedLines(text string) string {
	rows, err := csvRecords(text)
	if err != nil {
		return "invalid CSV: " + err.Error()
	}
	return rows
}

func TestIndexCurrentAcrossInstances(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	_, first := startAPI(t, b)
	_, second := startAPI(t, b)
	if _, _, err := b.store.Add(t.Context(), "shared@example.jp", "complaint", ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "both indexes to see the add", func() bool {
		_, a := first.Lookup("shared@example.jp")
		_, c := second.Lookup("SHARED@example.jp")
		return a && c
	})
	if err := b.store.Remove(t.Context(), "shared@example.jp"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "both indexes to see the removal", func() bool {
		_, a := first.Lookup("shared@example.jp")
		_, c := second.Lookup("shared@example.jp")
		return !a && !c
	})
}

// TestIngressBounceSuppressesWithinSecond posts the vendor's user-unknown
// bounce to the ingress and reads the suppression through the API.
func TestIngressBounceSuppressesWithinSecond(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	ctx := natstest.Context(t, 20*time.Second)
	if _, err := stream.Ensure(ctx, b.srv.JS, stream.Config{Name: "MAIL", Subjects: []string{"mail.>"}}); err != nil {
		t.Fatal(err)
	}
	handler, err := ingress.New(b.srv.Conn, b.srv.JS, ingress.Config{
		StreamName: "MAIL",
		Builder:    &mailevent.Builder{Subjects: mailevent.Subjects{Prefix: "mail"}, Location: time.FixedZone("JST", 9*3600)},
		Logger:     testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	webhook := httptest.NewServer(handler.Routes(nil))
	t.Cleanup(webhook.Close)
	client, _ := startAPI(t, b)
	runConsumer(t, b.srv.JS, b.store, nil)

	body, err := readTestdata("bounces-user-unknown.json")
	if err != nil {
		t.Fatal(err)
	}
	posted := time.Now()
	resp, err := http.Post(webhook.URL+ingress.WebhookPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d: %s", resp.StatusCode, answer)
	}

	var got Suppression
	waitFor(t, time.Second, "GET /v1/suppressions/no-user@example.jp to return 200", func() bool {
		got, err = client.SuppressionGet(ctx, "no-user@example.jp")
		if err != nil && !IsNotFound(err) {
			t.Fatal(err)
		}
		return err == nil
	})
	t.Logf("suppressed %s after the webhook was posted", time.Since(posted))
	if got.Reason != "userunknown" || !got.Hard || got.Source != SourceBounce {
		t.Errorf("suppression %+v, want hard userunknown from a bounce", got)
	}
}
