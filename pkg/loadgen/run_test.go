package loadgen_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/loadgen"
)

// resultBody is a 200 body that accepts every record of a webhook.
func resultBody(t *testing.T, r *http.Request) string {
	t.Helper()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read request body: %v", err)
		return `{"accepted":0,"duplicates":0,"rejected":0}`
	}
	batch, err := cmc.Decode(r.Header.Get("Content-Type"), body, cmc.Limits{})
	if err != nil {
		t.Errorf("decode request body: %v", err)
		return `{"accepted":0,"duplicates":0,"rejected":0}`
	}
	return `{"accepted":` + strconv.Itoa(len(batch.Entries)) + `,"duplicates":0,"rejected":0}`
}

// startClosingServer serves webhook posts on a raw TCP listener and closes
// each connection, without a Connection header, after perConn responses,
// as a server does when its idle timeout ends. It returns the URL and the
// number of requests it responded to.
func startClosingServer(t *testing.T, perConn int) (string, *atomic.Int64) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var answered atomic.Int64
	var wg sync.WaitGroup
	serve := func(conn net.Conn) {
		defer wg.Done()
		defer conn.Close()
		reader := bufio.NewReader(conn)
		for range perConn {
			req, err := http.ReadRequest(reader)
			if err != nil {
				return
			}
			body := resultBody(t, req)
			response := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
				strconv.Itoa(len(body)) + "\r\n\r\n" + body
			// Count before writing, so that the count is final when the
			// client has read the last response.
			answered.Add(1)
			if _, err := io.WriteString(conn, response); err != nil {
				return
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go serve(conn)
		}
	}()
	t.Cleanup(func() {
		listener.Close()
		wg.Wait()
	})
	return "http://" + listener.Addr().String() + ingress.WebhookPath, &answered
}

func TestRunRetriesWhenKeptAliveConnectionCloses(t *testing.T) {
	t.Parallel()
	const count, perConn = 10, 2
	url, answered := startClosingServer(t, perConn)

	report, err := loadgen.Run(context.Background(), loadgen.Config{
		URL:            url,
		Concurrency:    1,
		BatchSize:      3,
		Count:          count,
		RequestTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if report.ErrorCount() != 0 {
		t.Errorf("errors = %v, want none", report.Errors)
	}
	if report.Accepted != count*3 {
		t.Errorf("accepted = %d, want %d", report.Accepted, count*3)
	}
	if got := answered.Load(); got != count {
		t.Errorf("server responded to %d requests, want %d", got, count)
	}
	// Every request after the first perConn meets a closed connection
	// once every perConn requests, and is sent again on a new one.
	wantRetries := (count - 1) / perConn
	if report.Retries != wantRetries {
		t.Errorf("retries = %d, want %d", report.Retries, wantRetries)
	}
	if report.Reconnects != wantRetries {
		t.Errorf("reconnects = %d, want %d", report.Reconnects, wantRetries)
	}
}

func TestRunReconnectsAfterConnectionClose(t *testing.T) {
	t.Parallel()
	var connections sync.Map
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		connections.Store(r.RemoteAddr, true)
		body := resultBody(t, r)
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(web.Close)

	const count = 6
	report, err := loadgen.Run(context.Background(), loadgen.Config{URL: web.URL, Concurrency: 1, BatchSize: 2, Count: count})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if report.ErrorCount() != 0 {
		t.Errorf("errors = %v, want none", report.Errors)
	}
	if report.Accepted != count*2 {
		t.Errorf("accepted = %d, want %d", report.Accepted, count*2)
	}
	if report.Reconnects != count-1 {
		t.Errorf("reconnects = %d, want %d: one per response with Connection: close", report.Reconnects, count-1)
	}
	if report.Retries != 0 {
		t.Errorf("retries = %d, want 0: the client reconnects before sending", report.Retries)
	}
	seen := 0
	connections.Range(func(any, any) bool { seen++; return true })
	if seen != count {
		t.Errorf("server saw %d connections, want %d", seen, count)
	}
}

func TestRunCountsEachStatus(t *testing.T) {
	t.Parallel()
	statuses := []int{http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusServiceUnavailable}
	var next atomic.Int64
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := resultBody(t, r)
		status := statuses[int(next.Add(1)-1)%len(statuses)]
		w.Header().Set("Content-Type", "application/json")
		if status != http.StatusOK {
			body = `{"error":"test server rejects this request: send the next one"}`
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(web.Close)

	rounds := 3
	report, err := loadgen.Run(context.Background(), loadgen.Config{
		URL:         web.URL,
		Concurrency: 1,
		BatchSize:   5,
		Count:       rounds * len(statuses),
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, status := range statuses[1:] {
		if got := report.Errors[strconv.Itoa(status)]; got != rounds {
			t.Errorf("%d errors = %d, want %d (all: %v)", status, got, rounds, report.Errors)
		}
	}
	if report.ErrorCount() != rounds*(len(statuses)-1) {
		t.Errorf("errors = %v, want %d in all", report.Errors, rounds*(len(statuses)-1))
	}
	if report.Accepted != rounds*5 {
		t.Errorf("accepted = %d, want %d from the 200 responses", report.Accepted, rounds*5)
	}
	if report.Reconnects != 0 {
		t.Errorf("reconnects = %d, want 0: error statuses keep the connection", report.Reconnects)
	}
}

func TestRunFailsRequestAfterTimeout(t *testing.T) {
	t.Parallel()
	received := make(chan struct{}, 10)
	release := make(chan struct{})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(web.Close)
	t.Cleanup(func() { close(release) })

	const timeout = 150 * time.Millisecond
	report, err := loadgen.Run(context.Background(), loadgen.Config{
		URL:            web.URL,
		Concurrency:    1,
		BatchSize:      1,
		Count:          2,
		RequestTimeout: timeout,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := report.Errors["request failed"]; got != 2 {
		t.Errorf("failed requests = %d, want 2 (all: %v)", got, report.Errors)
	}
	if report.Elapsed < 2*timeout {
		t.Errorf("elapsed = %s, want at least two timeouts of %s", report.Elapsed, timeout)
	}
	if report.Elapsed > 10*time.Second {
		t.Errorf("elapsed = %s, want the timeout to end each request", report.Elapsed)
	}
	if report.Retries != 0 {
		t.Errorf("retries = %d, want 0: a timed-out request is not sent again", report.Retries)
	}
	if got := len(received); got != 2 {
		t.Errorf("server received %d requests, want 2", got)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	received := make(chan struct{}, 1)
	release := make(chan struct{})
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(web.Close)
	t.Cleanup(func() { close(release) })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-received
		cancel()
	}()

	began := time.Now()
	report, err := loadgen.Run(ctx, loadgen.Config{
		URL:            web.URL,
		Concurrency:    1,
		BatchSize:      1,
		Count:          1,
		RequestTimeout: time.Minute,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if waited := time.Since(began); waited > 10*time.Second {
		t.Errorf("run took %s after its context ended, want it to stop the request in flight", waited)
	}
	if got := report.Errors["request failed"]; got != 1 {
		t.Errorf("failed requests = %d, want 1 (all: %v)", got, report.Errors)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("context was not canceled: %v", ctx.Err())
	}
}

func TestRunReadsChunkedResponse(t *testing.T) {
	t.Parallel()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		// A flush before the handler ends makes net/http send the body
		// chunked, since its length is not known yet.
		_, _ = io.WriteString(w, `{"accepted":3,`)
		w.(http.Flusher).Flush()
		_, _ = io.WriteString(w, `"duplicates":1,"rejected":0}`)
	}))
	t.Cleanup(web.Close)

	report, err := loadgen.Run(context.Background(), loadgen.Config{
		URL:            web.URL,
		Concurrency:    1,
		BatchSize:      4,
		Count:          3,
		RequestTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if report.ErrorCount() != 0 {
		t.Errorf("errors = %v, want none", report.Errors)
	}
	if report.Accepted != 9 || report.Duplicates != 3 {
		t.Errorf("accepted = %d, duplicates = %d, want 9 and 3", report.Accepted, report.Duplicates)
	}
	if report.Reconnects != 0 {
		t.Errorf("reconnects = %d, want 0: a chunked response keeps the connection", report.Reconnects)
	}
}

func TestRunThroughNetHTTPClient(t *testing.T) {
	t.Parallel()
	bridge := startBridge(t)

	report, err := loadgen.Run(context.Background(), loadgen.Config{
		URL:         bridge.URL + ingress.WebhookPath,
		Concurrency: 2,
		BatchSize:   5,
		Count:       10,
		Counter:     bridge.Counter,
		Client:      loadgen.NewHTTPClient(2, 10*time.Second),
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if report.ErrorCount() != 0 {
		t.Errorf("errors = %v, want none", report.Errors)
	}
	if report.Accepted != 50 || !report.StreamMatches() {
		t.Errorf("accepted = %d, stream %d -> %d, want 50 stored", report.Accepted, report.StreamBefore, report.StreamAfter)
	}
	bridge.mu.Lock()
	defer bridge.mu.Unlock()
	if bridge.agents["mailbridge-bench"] != 0 {
		t.Errorf("requests by User-Agent = %v, want none from the lean client", bridge.agents)
	}
}

func TestRunCountsEarlyResponseToLargeBody(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Like the bridge: read up to the limit, then respond 413 without
		// reading the rest. net/http then stops reading and closes.
		_, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err == nil {
			t.Errorf("body of %d bytes fits the %d-byte limit: make the batch larger", r.ContentLength, limit)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		_, _ = io.WriteString(w, `{"error":"body is too large: send smaller batches"}`)
	}))
	t.Cleanup(web.Close)

	// About 34 MB, more than the socket buffers of both ends hold, so that
	// the client's write fails when the server closes.
	report, err := loadgen.Run(context.Background(), loadgen.Config{
		URL:            web.URL,
		Concurrency:    1,
		BatchSize:      100_000,
		Count:          1,
		RequestTimeout: 20 * time.Second,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got := report.Errors["413"]; got != 1 {
		t.Errorf("413 errors = %d, want 1 (all: %v)", got, report.Errors)
	}
}
