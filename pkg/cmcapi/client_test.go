package cmcapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mailbridge/mailbridge/internal/cmcapitest"
	"github.com/mailbridge/mailbridge/pkg/cmcapi"
)

func records(n int, prefix string) []json.RawMessage {
	out := make([]json.RawMessage, n)
	for i := range out {
		out[i] = json.RawMessage(fmt.Sprintf(`{"to":"%s%03d@example.jp","created":"2023-01-25 10:00:00","status":"queued"}`, prefix, i))
	}
	return out
}

func newClient(t *testing.T, api *cmcapitest.Server, key string) *cmcapi.Client {
	t.Helper()
	client, err := cmcapi.New(cmcapi.Config{
		BaseURL: api.URL, APIUser: cmcapitest.APIUser, APIKey: key, ServerComposition: cmcapitest.ServerComposition,
	})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	return client
}

func TestListAllPagesInOrder(t *testing.T) {
	t.Parallel()
	api := cmcapitest.Start(t, map[string][]json.RawMessage{"deliveries": records(250, "d"), "bounces": records(3, "b")})
	client := newClient(t, api, cmcapitest.APIKey)
	hour := 14

	var got []string
	total, err := client.ListAll(context.Background(), cmcapi.KindDeliveries, cmcapi.Query{Date: "2023-01-25", Hour: &hour},
		func(page []json.RawMessage) error {
			for _, r := range page {
				got = append(got, string(r))
			}
			return nil
		})
	if err != nil {
		t.Fatalf("list all: %v", err)
	}

	if total != 250 || len(got) != 250 {
		t.Fatalf("total = %d with %d records, want 250", total, len(got))
	}
	if !strings.Contains(got[0], "d000@") || !strings.Contains(got[249], "d249@") {
		t.Errorf("first and last records = %s, %s; want d000 and d249", got[0], got[249])
	}
	requests := api.Requests()
	if len(requests) != 3 {
		t.Fatalf("%d requests, want 3 pages", len(requests))
	}
	for i, r := range requests {
		if r.Kind != "deliveries" || r.Page != i || r.PageSize != 100 || r.Date != "2023-01-25" || r.Hour != "14" {
			t.Errorf("request %d = %+v, want deliveries page %d of 100 for 2023-01-25 hour 14", i, r, i)
		}
	}
	if api.Concurrent() {
		t.Error("requests overlapped, want one at a time")
	}
}

func TestListAllStopsAtFullLastPage(t *testing.T) {
	t.Parallel()
	api := cmcapitest.Start(t, map[string][]json.RawMessage{"bounces": records(200, "b")})
	client := newClient(t, api, cmcapitest.APIKey)

	total, err := client.ListAll(context.Background(), cmcapi.KindBounces, cmcapi.Query{Date: "2023-01-25"},
		func([]json.RawMessage) error { return nil })
	if err != nil {
		t.Fatalf("list all: %v", err)
	}
	if total != 200 {
		t.Errorf("total = %d, want 200", total)
	}
	// The third page is empty, which is how the end shows.
	if n := len(api.Requests()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
}

func TestListAuthErrorHidesKey(t *testing.T) {
	t.Parallel()
	api := cmcapitest.Start(t, nil)
	wrongKey := "wrong-key-abcdef-987654"
	client := newClient(t, api, wrongKey)

	_, err := client.List(context.Background(), cmcapi.KindDeliveries, cmcapi.Query{Date: "2023-01-25"}, 0)

	if !errors.Is(err, cmcapi.ErrAuth) {
		t.Fatalf("err = %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), wrongKey) {
		t.Errorf("err = %q contains the API key", err)
	}
	for _, part := range []string{"401", "authentication failed", "API key"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("err = %q, want it to contain %q", err, part)
		}
	}
}

func TestListRateLimited(t *testing.T) {
	t.Parallel()
	api := cmcapitest.Start(t, nil)
	api.FailWith(http.StatusTooManyRequests)
	client := newClient(t, api, cmcapitest.APIKey)

	_, err := client.ListAll(context.Background(), cmcapi.KindBounces, cmcapi.Query{Date: "2023-01-25"},
		func([]json.RawMessage) error { return nil })

	if !errors.Is(err, cmcapi.ErrRateLimited) {
		t.Fatalf("err = %v, want ErrRateLimited", err)
	}
	if !strings.Contains(err.Error(), "try again later") {
		t.Errorf("err = %q, want a hint to try again later", err)
	}
}

func TestListOtherErrorKeepsMessage(t *testing.T) {
	t.Parallel()
	api := cmcapitest.Start(t, nil)
	client, err := cmcapi.New(cmcapi.Config{
		BaseURL: api.URL, APIUser: cmcapitest.APIUser, APIKey: cmcapitest.APIKey, ServerComposition: "other",
	})
	if err != nil {
		t.Fatal(err)
	}

	_, err = client.List(context.Background(), cmcapi.KindDeliveries, cmcapi.Query{Date: "2023-01-25"}, 0)

	if !errors.Is(err, cmcapi.ErrAPI) {
		t.Fatalf("err = %v, want ErrAPI", err)
	}
	if !strings.Contains(err.Error(), "unknown server composition (field server_composition)") {
		t.Errorf("err = %q, want CMC's message and field", err)
	}
}

func TestListMalformedResponse(t *testing.T) {
	t.Parallel()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"bounces": []}`))
	}))
	t.Cleanup(api.Close)
	client, err := cmcapi.New(cmcapi.Config{BaseURL: api.URL, APIUser: "u", APIKey: "k", ServerComposition: "pro"})
	if err != nil {
		t.Fatal(err)
	}

	_, err = client.List(context.Background(), cmcapi.KindDeliveries, cmcapi.Query{Date: "2023-01-25"}, 0)

	if !errors.Is(err, cmcapi.ErrMalformedResponse) {
		t.Fatalf("err = %v, want ErrMalformedResponse", err)
	}
	if !strings.Contains(err.Error(), `found "bounces"`) {
		t.Errorf("err = %q, want the members found", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []cmcapi.Config{
		{BaseURL: "ftp://api.example", APIUser: "u", APIKey: "k", ServerComposition: "pro"},
		{BaseURL: "http://127.0.0.1:1", APIKey: "k", ServerComposition: "pro"},
		{BaseURL: "http://127.0.0.1:1", APIUser: "u", APIKey: "k"},
	}
	for _, cfg := range tests {
		if _, err := cmcapi.New(cfg); err == nil {
			t.Errorf("New(%+v) err = nil, want an error", cfg)
		}
	}
}

func TestListAllStopsWhenPageRepeats(t *testing.T) {
	t.Parallel()
	// This stand-in ignores p and returns the same full page for every
	// request.
	page, err := json.Marshal(map[string][]json.RawMessage{"deliveries": records(cmcapi.MaxPageSize, "d")})
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(page)
	}))
	t.Cleanup(srv.Close)
	client, err := cmcapi.New(cmcapi.Config{
		BaseURL: srv.URL, APIUser: cmcapitest.APIUser, APIKey: cmcapitest.APIKey, ServerComposition: cmcapitest.ServerComposition,
	})
	if err != nil {
		t.Fatal(err)
	}

	_, err = client.ListAll(context.Background(), cmcapi.KindDeliveries, cmcapi.Query{Date: "2023-01-25"},
		func([]json.RawMessage) error { return nil })

	if !errors.Is(err, cmcapi.ErrMalformedResponse) {
		t.Errorf("error = %v, want ErrMalformedResponse", err)
	}
	if err != nil && !strings.Contains(err.Error(), "page 2 (p=1)") {
		t.Errorf("error = %v, want the pages counted from 1 with their p", err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("requests = %d, want 2: the repeat is seen on the second page", n)
	}
}
