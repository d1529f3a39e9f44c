package ingress_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/bounce"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

const streamName = "MAIL"

// bridge is one ingress under test: its own JetStream server and stream,
// the handler behind a real HTTP server, and everything it logged.
type bridge struct {
	nats    *natstest.Server
	http    *httptest.Server
	logs    *syncBuffer
	cfg     ingress.Config
	handler *ingress.Handler
}

// syncBuffer is a bytes.Buffer that handlers may write from several
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newBuilder returns the builder that cmd/mailbridge configures by
// default: created read in Asia/Tokyo, failures classified.
func newBuilder(t testing.TB) *mailevent.Builder {
	t.Helper()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return &mailevent.Builder{
		Subjects:   mailevent.Subjects{Prefix: mailevent.DefaultPrefix},
		Location:   tokyo,
		Classify:   bounce.EventClassification,
		ParseCodes: bounce.ParseCodes,
	}
}

// setup starts a JetStream server with the MAIL stream and an ingress in
// front of it. edit, when given, changes the handler's configuration.
func setup(t *testing.T, edit func(*ingress.Config)) *bridge {
	t.Helper()
	return setupOn(t, natstest.Start(t), edit)
}

// setupOn is setup with a JetStream server the test started.
func setupOn(t *testing.T, srv *natstest.Server, edit func(*ingress.Config)) *bridge {
	t.Helper()
	ctx := natstest.Context(t, 10*time.Second)
	_, err := stream.Ensure(ctx, srv.JS, stream.Config{Name: streamName, Subjects: []string{"mail.>"}})
	if err != nil {
		t.Fatal(err)
	}

	logs := &syncBuffer{}
	cfg := ingress.Config{
		StreamName: streamName,
		Builder:    newBuilder(t),
		Logger:     slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer: prometheus.NewRegistry(),
	}
	if edit != nil {
		edit(&cfg)
	}
	handler, err := ingress.New(srv.Conn, srv.JS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	gatherer, _ := cfg.Registerer.(prometheus.Gatherer)
	httpServer := httptest.NewServer(handler.Routes(gatherer))
	t.Cleanup(httpServer.Close)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ingress log:\n%s", logs)
		}
	})
	return &bridge{nats: srv, http: httpServer, logs: logs, cfg: cfg, handler: handler}
}

// response is the HTTP response to a webhook.
type response struct {
	status int
	header http.Header
	body   []byte
}

// result reads the body of a 200 response.
func (r response) result(t *testing.T) ingress.Result {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", r.status, r.body)
	}
	var result ingress.Result
	if err := json.Unmarshal(r.body, &result); err != nil {
		t.Fatalf("200 body %s: %v", r.body, err)
	}
	return result
}

// errorMessage reads the {"error": "..."} body of any other response.
func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == "" {
		t.Fatalf("body %q is not {\"error\": \"...\"}: %v", r.body, err)
	}
	return body.Error
}

// post sends a webhook body with the given content type and extra headers.
func (b *bridge) post(t *testing.T, contentType string, body []byte, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.http.URL+ingress.WebhookPath, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := b.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: answer}
}

// get sends a GET to the webhook path, which only takes POST, and returns
// the status.
func (b *bridge) get(t *testing.T) int {
	t.Helper()
	resp, err := b.http.Client().Get(b.http.URL + ingress.WebhookPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// stored returns every message in the stream, in order.
func (b *bridge) stored(t *testing.T) []*jetstream.RawStreamMsg {
	t.Helper()
	ctx := natstest.Context(t, 10*time.Second)
	s, err := b.nats.JS.Stream(ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		msgs = append(msgs, msg)
	}
	return msgs
}

// storedOn returns the stored messages on one subject.
func (b *bridge) storedOn(t *testing.T, subject string) []*jetstream.RawStreamMsg {
	t.Helper()
	var out []*jetstream.RawStreamMsg
	for _, msg := range b.stored(t) {
		if msg.Subject == subject {
			out = append(out, msg)
		}
	}
	return out
}

// metrics returns the text of /metrics.
func (b *bridge) metrics(t *testing.T) string {
	t.Helper()
	resp, err := b.http.Client().Get(b.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

// readExample returns a vendor example body from testdata/cmc.
func readExample(t testing.TB, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cmc", name))
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// exampleNames returns the file names of the vendor examples.
func exampleNames(t testing.TB) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "cmc", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 5 {
		t.Fatalf("found %d vendor examples, want 5", len(paths))
	}
	names := make([]string, len(paths))
	for i, path := range paths {
		names[i] = filepath.Base(path)
	}
	return names
}

// formFields returns the fields that CMC sends in a form post of the same
// webhook as a JSON body: every top-level member as text, event as JSON.
func formFields(t testing.TB, jsonBody []byte) url.Values {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(jsonBody, &members); err != nil {
		t.Fatal(err)
	}
	values := url.Values{}
	for name, raw := range members {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			var compact bytes.Buffer
			if err := json.Compact(&compact, raw); err != nil {
				t.Fatal(err)
			}
			text = compact.String()
		}
		values.Set(name, text)
	}
	return values
}

// encoding is a way CMC can send a webhook body.
type encoding struct {
	name   string
	encode func(t testing.TB, jsonBody []byte) (contentType string, body []byte)
}

var encodings = []encoding{
	{"json", func(_ testing.TB, jsonBody []byte) (string, []byte) {
		return "application/json", jsonBody
	}},
	{"form", func(t testing.TB, jsonBody []byte) (string, []byte) {
		return "application/x-www-form-urlencoded", []byte(formFields(t, jsonBody).Encode())
	}},
	{"multipart", func(t testing.TB, jsonBody []byte) (string, []byte) {
		var buf bytes.Buffer
		writer := multipart.NewWriter(&buf)
		for name, values := range formFields(t, jsonBody) {
			if err := writer.WriteField(name, values[0]); err != nil {
				t.Fatal(err)
			}
		}
		if err := writer.Close(); err != nil {
			t.Fatal(err)
		}
		return writer.FormDataContentType(), buf.Bytes()
	}},
}

// waitFor polls cond every 10ms until it is true or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		case <-ticker.C:
		}
	}
}

// containsAny reports whether any of the texts contains needle.
func containsAny(needle string, texts ...string) bool {
	for _, text := range texts {
		if strings.Contains(text, needle) {
			return true
		}
	}
	return false
}
