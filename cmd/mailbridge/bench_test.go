package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mailbridge/mailbridge/pkg/cmc"
)

func TestBenchRunsWithEachHTTPClient(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	agents := map[string]int{}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read request body: %v", err)
		}
		batch, err := cmc.Decode(r.Header.Get("Content-Type"), body, cmc.Limits{})
		if err != nil {
			t.Errorf("decode request body: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		agents[r.UserAgent()]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"accepted":`+strconv.Itoa(len(batch.Entries))+`,"duplicates":0,"rejected":0}`)
	}))
	t.Cleanup(web.Close)

	for _, client := range []string{"lean", "net/http"} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"bench", "--url", web.URL + "/webhooks/cmc", "--count", "3", "--batch", "2",
			"--concurrency", "1", "--nats-url", "none", "--metrics-url", "none", "--http-client", client},
			strings.NewReader(""), &stdout, &stderr)
		if code != exitOK {
			t.Errorf("bench --http-client %s exited %d: %s", client, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "events accepted:  6 ") {
			t.Errorf("bench --http-client %s report does not count 6 accepted events:\n%s", client, stdout.String())
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if len(agents) != 2 {
		t.Errorf("requests by User-Agent = %v, want 3 from each client", agents)
	}
	for agent, n := range agents {
		if n != 3 {
			t.Errorf("%d requests from %q, want 3", n, agent)
		}
	}
}

func TestBenchRejectsUnknownHTTPClient(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--count", "1", "--nats-url", "none", "--http-client", "curl"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitUsage {
		t.Errorf("bench --http-client curl exited %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), `--http-client "curl" is invalid`) {
		t.Errorf("error %q does not name the invalid --http-client", stderr.String())
	}
}
