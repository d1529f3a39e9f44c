package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
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

func TestBenchDefaultURLFollowsHTTPAddr(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		":8081":          "http://127.0.0.1:8081/webhooks/cmc",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/webhooks/cmc",
		"[::]:9000":      "http://127.0.0.1:9000/webhooks/cmc",
		"127.0.0.2:8080": "http://127.0.0.2:8080/webhooks/cmc",
		"[::1]:8080":     "http://[::1]:8080/webhooks/cmc",
		":0":             "http://127.0.0.1:8080/webhooks/cmc",
		"not an address": "http://127.0.0.1:8080/webhooks/cmc",
	}
	for addr, want := range cases {
		if got := localWebhookURL(addr); got != want {
			t.Errorf("localWebhookURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestBenchStopsWithoutBridge(t *testing.T) {
	t.Parallel()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	closedURL := "http://" + listener.Addr().String() + "/webhooks/cmc"
	if err := listener.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}

	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--url", closedURL, "--duration", "5s", "--nats-url", "none", "--metrics-url", "none"},
		strings.NewReader(""), &stdout, &stderr)
	if code == exitOK {
		t.Errorf("bench against a closed port exited %d, want a failure", code)
	}
	if !strings.Contains(stderr.String(), "no bridge reachable") {
		t.Errorf("error %q does not say that no bridge is reachable", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("bench printed a report without a bridge:\n%s", stdout.String())
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

func TestBenchPrintsNATSBenchFlags(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := srv.JS.CreateStream(ctx, jetstream.StreamConfig{Name: "MAIL", Subjects: []string{"mail.>"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	msg := nats.NewMsg("mail.deliveries.failed")
	msg.Header.Set(nats.MsgIdHdr, "a1")
	msg.Header.Set("ce-type", "jp.smtps.cmc.delivery.failed")
	msg.Data = []byte(`{"status":"failed"}`)
	if _, err := srv.JS.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("publish: %v", err)
	}

	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--nats-url", srv.URL(), "--nats-bench-flags", "bench.ceiling"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitOK {
		t.Fatalf("bench --nats-bench-flags exited %d: %s", code, stderr.String())
	}
	flags := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if !slices.Contains(flags, "ce-type:jp.smtps.cmc.delivery.failed") {
		t.Errorf("flags %q do not carry the message's ce-type header", flags)
	}
	if !slices.Contains(flags, "--size") {
		t.Errorf("flags %q set no --size", flags)
	}
	if slices.Contains(flags, "--multisubject") {
		t.Errorf("flags %q spread one subject over several", flags)
	}
}

func TestBenchNATSBenchFlagsNeedNATS(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	code := run([]string{"bench", "--nats-url", "none", "--nats-bench-flags", "bench.ceiling"}, strings.NewReader(""), &stdout, &stderr)
	if code != exitUsage {
		t.Errorf("bench --nats-bench-flags with --nats-url none exited %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "--nats-url cannot be none") {
		t.Errorf("error %q does not say --nats-url is needed", stderr.String())
	}
}
