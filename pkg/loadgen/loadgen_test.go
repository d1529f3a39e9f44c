package loadgen_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/loadgen"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// testBridge is a real ingress on a test JetStream server.
type testBridge struct {
	URL     string
	Counter loadgen.StreamCounter

	mu sync.Mutex
	// agents counts the webhook requests by User-Agent, and connections by
	// the client's address.
	agents      map[string]int
	connections map[string]int
}

// startBridge runs a real ingress on a test JetStream server, with a
// counter of the events on its stream.
func startBridge(t *testing.T) *testBridge {
	t.Helper()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Name: "MAIL", Subjects: []string{"mail.>"}}); err != nil {
		t.Fatalf("ensure stream: %v", err)
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	handler, err := ingress.New(srv.Conn, srv.JS, ingress.Config{
		StreamName: "MAIL",
		Builder:    &mailevent.Builder{Subjects: mailevent.Subjects{Prefix: "mail"}},
		Logger:     slog.New(slog.DiscardHandler),
		Registerer: registry,
	})
	if err != nil {
		t.Fatalf("new ingress: %v", err)
	}

	bridge := &testBridge{
		Counter:     loadgen.StreamCounter{JS: srv.JS, Stream: "MAIL", Filters: loadgen.EventFilters("mail")},
		agents:      map[string]int{},
		connections: map[string]int{},
	}
	routes := handler.Routes(registry)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == ingress.WebhookPath {
			bridge.mu.Lock()
			bridge.agents[r.UserAgent()]++
			bridge.connections[r.RemoteAddr]++
			bridge.mu.Unlock()
		}
		routes.ServeHTTP(w, r)
	}))
	t.Cleanup(web.Close)
	bridge.URL = web.URL
	return bridge
}

func TestGeneratorBatchesDecode(t *testing.T) {
	t.Parallel()
	builder := &mailevent.Builder{Subjects: mailevent.Subjects{Prefix: "mail"}}
	for _, encoding := range []loadgen.Encoding{loadgen.EncodingJSON, loadgen.EncodingForm} {
		gen := loadgen.NewGenerator("test", 3, 7)
		ids := map[string]bool{}
		types := map[string]int{}
		for range 20 {
			body := gen.Batch(50, encoding)
			batch, err := cmc.Decode(encoding.ContentType(), body, cmc.Limits{})
			if err != nil {
				t.Fatalf("%s: decode generated body: %v\n%s", encoding, err, body)
			}
			if len(batch.Entries) != 50 {
				t.Fatalf("%s: batch has %d entries, want 50", encoding, len(batch.Entries))
			}
			for _, raw := range batch.Entries {
				ev, _, err := builder.Build(batch.EventType, batch.ServerComposition, raw)
				if err != nil {
					t.Fatalf("%s: build event: %v", encoding, err)
				}
				if err := ev.Validate(); err != nil {
					t.Fatalf("%s: generated event is not a valid CloudEvent: %v", encoding, err)
				}
				if ids[ev.ID] {
					t.Fatalf("%s: event id %s repeats", encoding, ev.ID)
				}
				ids[ev.ID] = true
				types[ev.Type]++
			}
		}
		for _, want := range []string{mailevent.TypeDeliveryQueued, mailevent.TypeDeliveryFailed, mailevent.TypeBounce} {
			if types[want] == 0 {
				t.Errorf("%s: no event of type %s in 1000 records: %v", encoding, want, types)
			}
		}
	}
}

func TestGeneratorMessageIDsUniqueAcrossWorkers(t *testing.T) {
	t.Parallel()
	builder := &mailevent.Builder{Subjects: mailevent.Subjects{Prefix: "mail"}}
	const workers, batches, size = 4, 25, 100
	messageIDs := map[string]bool{}
	eventIDs := map[string]bool{}
	for _, encoding := range []loadgen.Encoding{loadgen.EncodingJSON, loadgen.EncodingForm} {
		for worker := range workers {
			// The same seed for every worker, as Run gives them.
			gen := loadgen.NewGenerator("run-"+string(encoding), worker, 1)
			var body []byte
			for range batches {
				body = gen.AppendBatch(body[:0], size, encoding)
				batch, err := cmc.Decode(encoding.ContentType(), body, cmc.Limits{})
				if err != nil {
					t.Fatalf("%s worker %d: decode generated body: %v", encoding, worker, err)
				}
				if len(batch.Entries) != size {
					t.Fatalf("%s worker %d: batch has %d entries, want %d", encoding, worker, len(batch.Entries), size)
				}
				for _, raw := range batch.Entries {
					entry, err := cmc.ParseEntry(raw)
					if err != nil {
						t.Fatalf("%s worker %d: parse record: %v", encoding, worker, err)
					}
					if messageIDs[entry.MessageID] {
						t.Fatalf("%s worker %d: messageId %s repeats", encoding, worker, entry.MessageID)
					}
					messageIDs[entry.MessageID] = true

					ev, _, err := builder.Build(batch.EventType, batch.ServerComposition, raw)
					if err != nil {
						t.Fatalf("%s worker %d: build event: %v", encoding, worker, err)
					}
					if eventIDs[ev.ID] {
						t.Fatalf("%s worker %d: event id %s repeats", encoding, worker, ev.ID)
					}
					eventIDs[ev.ID] = true
				}
			}
		}
	}
	if want := 2 * workers * batches * size; len(messageIDs) != want {
		t.Errorf("%d distinct messageIds, want %d", len(messageIDs), want)
	}
}

func TestGeneratorJapaneseSubjects(t *testing.T) {
	t.Parallel()
	body := loadgen.NewGenerator("test", 0, 1).Batch(20, loadgen.EncodingJSON)
	if !strings.Contains(string(body), "のお知らせ") && !strings.Contains(string(body), "のご案内") && !strings.Contains(string(body), "のテスト") {
		t.Errorf("no Japanese subject in %s", body)
	}
}

func TestRunStoresEveryAcceptedEvent(t *testing.T) {
	t.Parallel()
	bridge := startBridge(t)

	report, err := loadgen.Run(context.Background(), loadgen.Config{
		URL:         bridge.URL + ingress.WebhookPath,
		Concurrency: 4,
		BatchSize:   10,
		Count:       40,
		Duration:    30 * time.Second,
		Memory:      loadgen.MetricsRSS{URL: bridge.URL + "/metrics"},
		Counter:     bridge.Counter,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if report.Requests != 40 {
		t.Errorf("requests = %d, want 40", report.Requests)
	}
	if report.ErrorCount() != 0 {
		t.Errorf("errors = %v, want none", report.Errors)
	}
	if report.Accepted != 400 {
		t.Errorf("accepted = %d, want 400", report.Accepted)
	}
	if !report.StreamMatches() {
		t.Errorf("stream went %d -> %d for %d accepted", report.StreamBefore, report.StreamAfter, report.Accepted)
	}
	if report.PeakMemoryBytes == 0 {
		t.Errorf("peak memory not sampled: %v", report.MemoryErr)
	}
	if report.P50 <= 0 || report.P50 > report.P99 || report.P99 > report.Max {
		t.Errorf("latencies out of order: p50 %s p99 %s max %s", report.P50, report.P99, report.Max)
	}
	var out strings.Builder
	if err := report.Write(&out); err != nil {
		t.Fatalf("write report: %v", err)
	}
	if !strings.Contains(out.String(), "matches") {
		t.Errorf("report does not state the stream check:\n%s", out.String())
	}

	// Every request went through the lean client, over at most one
	// kept-alive connection per worker.
	bridge.mu.Lock()
	defer bridge.mu.Unlock()
	if len(bridge.agents) != 1 || bridge.agents["mailbridge-bench"] != 40 {
		t.Errorf("requests by User-Agent = %v, want all 40 from mailbridge-bench", bridge.agents)
	}
	if len(bridge.connections) > 4 {
		t.Errorf("requests came over %d connections, want at most 4: %v", len(bridge.connections), bridge.connections)
	}
	if report.Reconnects != 0 || report.Retries != 0 {
		t.Errorf("reconnects = %d, retries = %d, want 0 on a bridge that keeps connections open", report.Reconnects, report.Retries)
	}
}

func TestRunRateAndDurationBound(t *testing.T) {
	t.Parallel()
	bridge := startBridge(t)

	// 50 requests per second for 400ms is about 20 requests, far below
	// what the bridge could take, so the rate is what bounds the count.
	report, err := loadgen.Run(context.Background(), loadgen.Config{
		URL:       bridge.URL + ingress.WebhookPath,
		BatchSize: 1,
		Encoding:  loadgen.EncodingForm,
		Rate:      50,
		Duration:  400 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if report.Requests < 5 || report.Requests > 25 {
		t.Errorf("requests = %d, want about 20 at 50/s for 400ms", report.Requests)
	}
	if report.ErrorCount() != 0 {
		t.Errorf("errors = %v, want none", report.Errors)
	}
	if report.StreamChecked {
		t.Error("stream checked without a counter")
	}
}

func TestRunCountsErrorsByStatus(t *testing.T) {
	t.Parallel()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(web.Close)

	report, err := loadgen.Run(context.Background(), loadgen.Config{URL: web.URL, Count: 6, BatchSize: 2})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := report.Errors["503"]; got != 6 {
		t.Errorf("503 errors = %d, want 6 (all: %v)", got, report.Errors)
	}
	if report.Accepted != 0 {
		t.Errorf("accepted = %d, want 0", report.Accepted)
	}
}

func TestRunRejectsUnboundedAndRemote(t *testing.T) {
	t.Parallel()
	_, err := loadgen.Run(context.Background(), loadgen.Config{URL: "http://127.0.0.1:1/webhooks/cmc"})
	if !errors.Is(err, loadgen.ErrUnbounded) {
		t.Errorf("run without count or duration: err = %v, want ErrUnbounded", err)
	}
	_, err = loadgen.Run(context.Background(), loadgen.Config{URL: "http://192.0.2.1/webhooks/cmc", Count: 1})
	if !errors.Is(err, loadgen.ErrRemoteTarget) {
		t.Errorf("run against 192.0.2.1: err = %v, want ErrRemoteTarget", err)
	}
}

func TestCheckLoopback(t *testing.T) {
	t.Parallel()
	cases := []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080/webhooks/cmc", true},
		{"http://127.3.4.5/", true},
		{"http://localhost:8080/", true},
		{"http://[::1]:8080/", true},
		{"nats://127.0.0.1:4222,nats://[::1]:4223", true},
		{"http://10.0.0.1/", false},
		{"http://example.jp/", false},
		{"http://169.254.169.254/", false},
		{"nats://127.0.0.1:4222,nats://192.168.1.2:4222", false},
		{"http:///nohost", false},
	}
	for _, c := range cases {
		err := loadgen.CheckLoopback(c.url)
		if (err == nil) != c.ok {
			t.Errorf("CheckLoopback(%q) = %v, want ok %v", c.url, err, c.ok)
		}
	}
}

func TestProcStatusReadsOwnPeak(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	peak, err := loadgen.ProcStatus{PID: os.Getpid()}.ReadMemory(context.Background())
	if err != nil {
		t.Fatalf("read memory: %v", err)
	}
	if peak < 1<<20 {
		t.Errorf("VmHWM of the test process = %d bytes, want at least 1 MiB", peak)
	}
}

func TestParseEncoding(t *testing.T) {
	t.Parallel()
	if _, err := loadgen.ParseEncoding("multipart"); err == nil {
		t.Error("ParseEncoding(multipart) accepted an encoding the generator does not write")
	}
	if e, err := loadgen.ParseEncoding("form"); err != nil || e.ContentType() != "application/x-www-form-urlencoded" {
		t.Errorf("ParseEncoding(form) = %q, %v", e, err)
	}
}

func TestProcStatusReadsOwnCPU(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	probe := loadgen.ProcStatus{PID: os.Getpid()}
	before, err := probe.ReadCPU()
	if err != nil {
		t.Fatalf("read CPU: %v", err)
	}
	// Burn CPU until the clock-tick counter moves, within a deadline.
	deadline := time.Now().Add(5 * time.Second)
	sum := 0
	for time.Now().Before(deadline) {
		for i := range 1_000_000 {
			sum += i
		}
		after, err := probe.ReadCPU()
		if err != nil {
			t.Fatalf("read CPU: %v", err)
		}
		if after > before {
			return
		}
	}
	t.Errorf("CPU time stayed at %s after 5s of work (sum %d)", before, sum)
}
