package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
	"github.com/mailbridge/mailbridge/cmd/internal/function"
	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/ingress"
)

// webhookCase is one request sent both to serve and to the Lambda handler.
type webhookCase struct {
	name    string
	method  string
	path    string
	header  map[string]string
	body    []byte
	encoded bool // send the body base64-encoded, as function URLs do for binary bodies
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cmc", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// formBody re-encodes a JSON webhook as CMC's form-urlencoded body, whose
// event field is a JSON string.
func formBody(t *testing.T, jsonBody []byte) []byte {
	t.Helper()
	var webhook struct {
		EventType         string          `json:"event_type"`
		ServerComposition string          `json:"server_composition"`
		Event             json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(jsonBody, &webhook); err != nil {
		t.Fatal(err)
	}
	return []byte(url.Values{
		"event_type":         {webhook.EventType},
		"server_composition": {webhook.ServerComposition},
		"event":              {string(webhook.Event)},
	}.Encode())
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// answer is the part of a response that must be the same from serve and
// from the Lambda handler.
type answer struct {
	status      int
	contentType string
	requestID   string
	body        string
}

func TestLambdaAnswersAsServe(t *testing.T) {
	t.Parallel()
	const apiKey = "test-api-key-1234"
	bearer := "Bearer " + apiKey

	cases := []webhookCase{
		{name: "json delivery", body: readTestdata(t, "deliveries-queued.json"),
			header: map[string]string{"Content-Type": "application/json", "Authorization": bearer}},
		{name: "json failed delivery", body: readTestdata(t, "deliveries-failed.json"),
			header: map[string]string{"Content-Type": "application/json", "Authorization": bearer}},
		{name: "form bounce", body: formBody(t, readTestdata(t, "bounces-user-unknown.json")),
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Authorization": bearer}},
		{name: "gzip base64 bounce", body: gzipBytes(t, readTestdata(t, "bounces-host-unknown.json")), encoded: true,
			header: map[string]string{"Content-Type": "application/json", "Content-Encoding": "gzip", "Authorization": bearer}},
		{name: "repeated delivery", body: readTestdata(t, "deliveries-queued.json"),
			header: map[string]string{"Content-Type": "application/json", "Authorization": bearer}},
		{name: "malformed json", body: []byte(`{"event_type": "deliveries", "event": {`),
			header: map[string]string{"Content-Type": "application/json", "Authorization": bearer}},
		{name: "missing credentials", body: readTestdata(t, "deliveries-succeeded.json"),
			header: map[string]string{"Content-Type": "application/json"}},
		{name: "get method", method: http.MethodGet,
			header: map[string]string{"Authorization": bearer}},
		{name: "healthz", method: http.MethodGet, path: "/healthz"},
		{name: "readyz", method: http.MethodGet, path: "/readyz"},
	}

	serveNATS := natstest.Start(t)
	lambdaNATS := natstest.Start(t)

	cfg := defaultServeConfig(t, serveNATS.URL())
	cfg.WebhookAPIKey = apiKey
	baseURL := startServeConfig(t, cfg)

	lambdaCfg := function.Config{
		IngressConfig: cfg.IngressConfig,
		NATSConfig:    app.NATSConfig(cfg.NATSConfig),
		StreamConfig:  cfg.StreamConfig,
		LogConfig:     cfg.LogConfig,
	}
	lambdaCfg.URL = lambdaNATS.URL()
	ctx := natstest.Context(t, 60*time.Second)
	fn, err := function.New(ctx, lambdaCfg, testLogger(t), nil)
	if err != nil {
		t.Fatalf("function.New: %v", err)
	}
	t.Cleanup(fn.Close)

	for i, c := range cases {
		method := c.method
		if method == "" {
			method = http.MethodPost
		}
		path := c.path
		if path == "" {
			path = ingress.WebhookPath
		}
		requestID := "req-" + strings.ReplaceAll(c.name, " ", "-")

		// serve, over real HTTP.
		req, err := http.NewRequestWithContext(ctx, method, baseURL+path, bytes.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		req.Header.Set("X-Request-Id", requestID)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: serve: %v", c.name, err)
		}
		serveBody, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fromServe := answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Request-Id"), string(serveBody)}

		// The Lambda handler, with a synthetic function URL event. Function
		// URLs send header names in lowercase.
		event := &events.LambdaFunctionURLRequest{
			Version: "2.0",
			RawPath: path,
			Headers: map[string]string{"x-request-id": requestID},
			Body:    string(c.body),
			RequestContext: events.LambdaFunctionURLRequestContext{
				RequestID:  "lambda-request-" + string(rune('a'+i)),
				DomainName: "abc123.lambda-url.ap-northeast-1.on.aws",
				HTTP: events.LambdaFunctionURLRequestContextHTTPDescription{
					Method:   method,
					Path:     path,
					SourceIP: "203.0.113.10",
				},
			},
		}
		for k, v := range c.header {
			event.Headers[strings.ToLower(k)] = v
		}
		if c.encoded {
			event.Body = base64.StdEncoding.EncodeToString(c.body)
			event.IsBase64Encoded = true
		}
		lambdaResp, err := fn.Invoke(ctx, event)
		if err != nil {
			t.Fatalf("%s: lambda: %v", c.name, err)
		}
		lambdaBody, _ := io.ReadAll(lambdaResp.Body)
		fromLambda := answer{lambdaResp.StatusCode, lambdaResp.Headers["Content-Type"], lambdaResp.Headers["X-Request-Id"], string(lambdaBody)}

		if fromLambda != fromServe {
			t.Errorf("%s: lambda answered %+v, serve answered %+v", c.name, fromLambda, fromServe)
		}
		if fromServe.status == 0 || fromServe.body == "" {
			t.Errorf("%s: serve gave no answer: %+v", c.name, fromServe)
		}
	}

	// Both streams hold the same messages in the same order.
	serveMsgs := streamMessages(t, serveNATS, cfg.StreamName)
	lambdaMsgs := streamMessages(t, lambdaNATS, cfg.StreamName)
	if len(serveMsgs) == 0 {
		t.Fatal("serve stored no message")
	}
	if len(lambdaMsgs) != len(serveMsgs) {
		t.Fatalf("lambda stored %d messages, serve %d", len(lambdaMsgs), len(serveMsgs))
	}
	for i := range serveMsgs {
		if lambdaMsgs[i] != serveMsgs[i] {
			t.Errorf("message %d: lambda stored\n%s\nserve stored\n%s", i+1, lambdaMsgs[i], serveMsgs[i])
		}
	}
}

// streamMessages returns every message of the stream as text: subject,
// sorted headers and data. The receive time of rejected bodies differs
// between two runs, so it is left out.
func streamMessages(t *testing.T, ns *natstest.Server, streamName string) []string {
	t.Helper()
	ctx := natstest.Context(t, 10*time.Second)
	s, err := ns.JS.Stream(ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for seq := uint64(1); seq <= s.CachedInfo().State.LastSeq; seq++ {
		msg, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("get message %d: %v", seq, err)
		}
		var b strings.Builder
		b.WriteString(msg.Subject + "\n")
		var names []string
		for name := range msg.Header {
			if name != ingress.HeaderReceivedAt {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, name := range names {
			b.WriteString(name + ": " + strings.Join(msg.Header[name], ",") + "\n")
		}
		b.Write(msg.Data)
		out = append(out, b.String())
	}
	return out
}

func TestLambdaRequestIDFromLambda(t *testing.T) {
	t.Parallel()
	ns := natstest.Start(t)
	cfg := defaultServeConfig(t, ns.URL())
	ctx := natstest.Context(t, 30*time.Second)
	fn, err := function.New(ctx, function.Config{
		IngressConfig: cfg.IngressConfig, NATSConfig: app.NATSConfig(cfg.NATSConfig),
		StreamConfig: cfg.StreamConfig, LogConfig: cfg.LogConfig,
	}, testLogger(t), nil)
	if err != nil {
		t.Fatalf("function.New: %v", err)
	}
	t.Cleanup(fn.Close)

	resp, err := fn.Invoke(ctx, &events.LambdaFunctionURLRequest{
		RawPath: ingress.WebhookPath,
		Headers: map[string]string{"content-type": "application/json"},
		Body:    string(readTestdata(t, "deliveries-succeeded.json")),
		RequestContext: events.LambdaFunctionURLRequestContext{
			RequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
			HTTP:      events.LambdaFunctionURLRequestContextHTTPDescription{Method: http.MethodPost},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200", resp.StatusCode)
	}
	if got := resp.Headers["X-Request-Id"]; got != "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" {
		t.Errorf("X-Request-Id = %q, want the Lambda request id", got)
	}
}

func TestLambdaNeedsNATSURL(t *testing.T) {
	t.Parallel()
	cfg := defaultServeConfig(t, "")
	_, err := function.New(natstest.Context(t, 5*time.Second), function.Config{
		IngressConfig: cfg.IngressConfig, NATSConfig: app.NATSConfig(cfg.NATSConfig),
		StreamConfig: cfg.StreamConfig, LogConfig: cfg.LogConfig,
	}, testLogger(t), nil)
	if err == nil || !strings.Contains(err.Error(), "MAILBRIDGE_NATS_URL") {
		t.Errorf("error = %v, want one naming MAILBRIDGE_NATS_URL", err)
	}
}
