package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
)

const hostileAPIKey = "hostile-test-key-0123456789"

// startHostileServe runs serve against a test NATS server with short read
// timeouts, a 1 MiB body limit and an API key, and returns its HTTP
// address.
func startHostileServe(t *testing.T) (string, *natstest.Server) {
	t.Helper()
	nats := natstest.Start(t)
	cfg := testServeConfig(t)
	cfg.NATSConfig.URL = nats.URL()
	cfg.MaxBodyBytes = 1 << 20
	cfg.ReadHeaderTimeout = 500 * time.Millisecond
	cfg.ReadTimeout = time.Second
	cfg.WebhookAPIKey = hostileAPIKey
	cfg.LogConfig.Level = "error"

	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	// stopped is set when serve has returned already, so that the cleanup
	// does not wait for a second value that never comes.
	stopped := false
	t.Cleanup(func() {
		cancel()
		if !stopped {
			<-done
		}
	})
	select {
	case addr := <-ready:
		return addr.String(), nats
	case err := <-done:
		stopped = true
		t.Fatalf("serve stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve not ready after 30s")
	}
	return "", nil
}

// trickle writes data one byte every 50 ms until the server closes the
// connection, and returns how long the server let it go on.
func trickle(t *testing.T, addr string, head, data string) time.Duration {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatalf("write request head: %v", err)
	}

	// Reading ends when the server closes the connection, with or
	// without a response first.
	closed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, conn)
		close(closed)
	}()
	ticker := time.NewTicker(50 * time.Millisecond)
	defer ticker.Stop()
	deadline := time.After(10 * time.Second)
	for i := 0; ; i++ {
		select {
		case <-closed:
			return time.Since(start)
		case <-deadline:
			t.Fatalf("server still reading a trickled request after 10s")
		case <-ticker.C:
			_, _ = conn.Write([]byte{data[i%len(data)]})
		}
	}
}

func TestServeCutsOffSlowClients(t *testing.T) {
	t.Parallel()
	addr, _ := startHostileServe(t)

	t.Run("headers", func(t *testing.T) {
		t.Parallel()
		took := trickle(t, addr, "POST /webhooks/cmc HTTP/1.1\r\nHost: mailbridge\r\n", "X-Slow: aaaaaaaaaaaaaaaa\r\n")
		if took > 3*time.Second {
			t.Errorf("slow headers cut off after %s, want about the 500ms header timeout", took)
		}
	})
	t.Run("body", func(t *testing.T) {
		t.Parallel()
		head := "POST /webhooks/cmc HTTP/1.1\r\nHost: mailbridge\r\nContent-Type: application/json\r\n" +
			"Authorization: Bearer " + hostileAPIKey + "\r\nContent-Length: 100000\r\n\r\n"
		took := trickle(t, addr, head, `{"event_type":"deliveries"}`)
		if took > 4*time.Second {
			t.Errorf("slow body cut off after %s, want about the 1s read timeout", took)
		}
	})
}

// hostileBody is one hostile request body.
type hostileBody struct {
	name        string
	contentType string
	encoding    string
	body        func() []byte
}

// hostileBodies returns bodies that each break one limit: the body size,
// the JSON depth, the decompressed size, or the number of multipart parts.
func hostileBodies() []hostileBody {
	return []hostileBody{
		{"oversized JSON", "application/json", "", func() []byte {
			return []byte(`{"event_type":"deliveries","event":{"deliveries":[` + strings.Repeat(`{"to":"a@example.jp"},`, 300_000) + `{}]}}`)
		}},
		{"deeply nested JSON", "application/json", "", func() []byte {
			return []byte(`{"event_type":"deliveries","event":` + strings.Repeat("[", 500_000) + strings.Repeat("]", 500_000) + `}`)
		}},
		{"gzip bomb", "application/json", "gzip", func() []byte {
			var buf bytes.Buffer
			gz, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zeros := make([]byte, 1<<20)
			for range 256 { // 256 MiB of zeros, about 250 KiB compressed
				_, _ = gz.Write(zeros)
			}
			_ = gz.Close()
			return buf.Bytes()
		}},
		{"huge form field", "application/x-www-form-urlencoded", "", func() []byte {
			return []byte("event_type=deliveries&event=" + url.QueryEscape(strings.Repeat("x", 900_000)))
		}},
		// The multipart body is built per test, with its boundary.
		{"thousands of multipart parts", "", "", nil},
	}
}

// multipartBody returns a body with parts small fields and its content type.
func multipartBody(t *testing.T, parts int) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := range parts {
		if err := w.WriteField(fmt.Sprintf("f%d", i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), w.FormDataContentType()
}

// Not parallel: the memory figures count every allocation of the process.
func TestServeRefusesHostileBodiesWithinMemoryBound(t *testing.T) {
	addr, nats := startHostileServe(t)
	webhook := "http://" + addr + "/webhooks/cmc"
	client := &http.Client{Timeout: 30 * time.Second}

	// Bounds well above what the 1 MiB body limit needs, and far below
	// what decoding any of these bodies in full would take.
	const maxAllocated = 64 << 20
	const maxHeapGrowth = 16 << 20

	for _, hb := range hostileBodies() {
		body, contentType := []byte(nil), hb.contentType
		if hb.body != nil {
			body = hb.body()
		} else {
			body, contentType = multipartBody(t, 8000)
		}
		for _, auth := range []string{"valid", "wrong", "missing"} {
			t.Run(hb.name+"/"+auth+" key", func(t *testing.T) {
				before := storedMessageCount(t, nats)
				req, err := http.NewRequest(http.MethodPost, webhook, bytes.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Content-Type", contentType)
				if hb.encoding != "" {
					req.Header.Set("Content-Encoding", hb.encoding)
				}
				switch auth {
				case "valid":
					req.Header.Set("Authorization", "Bearer "+hostileAPIKey)
				case "wrong":
					req.Header.Set("Authorization", "Bearer not-the-key")
				}

				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("post: %v", err)
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				// Collect first, so that the heap figure is what the
				// request left behind; TotalAlloc bounds what it used.
				runtime.GC()
				runtime.ReadMemStats(&m1)
				allocated := m1.TotalAlloc - m0.TotalAlloc
				heapGrowth := int64(m1.HeapInuse) - int64(m0.HeapInuse)

				t.Logf("%d bytes sent: status %d, allocated %d KiB, heap in use after GC %+d KiB", len(body), resp.StatusCode, allocated>>10, heapGrowth>>10)
				if allocated > maxAllocated {
					t.Errorf("allocated %d MiB for one request, want at most %d MiB", allocated>>20, maxAllocated>>20)
				}
				if heapGrowth > maxHeapGrowth {
					t.Errorf("heap in use after GC grew by %d MiB, want at most %d MiB", heapGrowth>>20, maxHeapGrowth>>20)
				}
				if auth != "valid" {
					if resp.StatusCode != http.StatusUnauthorized {
						t.Errorf("status = %d with a %s key, want 401: %s", resp.StatusCode, auth, answer)
					}
					if after := storedMessageCount(t, nats); after != before {
						t.Errorf("stream went from %d to %d messages on an unauthenticated request", before, after)
					}
					return
				}
				if resp.StatusCode < 400 || resp.StatusCode >= 500 {
					t.Errorf("status = %d, want a 4xx refusal: %s", resp.StatusCode, answer)
				}
			})
		}
	}
}

func storedMessageCount(t *testing.T, nats *natstest.Server) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := nats.JS.Stream(ctx, "MAIL")
	if err != nil {
		t.Fatalf("stream MAIL: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("stream info: %v", err)
	}
	return info.State.Msgs
}
