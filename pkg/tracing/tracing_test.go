package tracing_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
	"github.com/mailbridge/mailbridge/pkg/tracing"
)

// bridge is an ingress on a test JetStream server with its HTTP routes.
type bridge struct {
	ns      *natstest.Server
	url     string
	subject mailevent.Subjects
}

func startBridge(t *testing.T, mode mailevent.Mode, provider trace.TracerProvider) *bridge {
	t.Helper()
	ns := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := stream.Ensure(ctx, ns.JS, stream.Config{Subjects: []string{"mail.>"}}); err != nil {
		t.Fatal(err)
	}
	subjects := mailevent.Subjects{Prefix: "mail"}
	handler, err := ingress.New(ns.Conn, ns.JS, ingress.Config{
		StreamName:     stream.DefaultName,
		Builder:        &mailevent.Builder{Subjects: subjects, Location: time.UTC},
		Mode:           mode,
		TracerProvider: provider,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler.Routes(nil))
	t.Cleanup(srv.Close)
	return &bridge{ns: ns, url: srv.URL, subject: subjects}
}

func (b *bridge) postTestdata(t *testing.T, name string) {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cmc", name))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(b.url+ingress.WebhookPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook status = %d, want 200", resp.StatusCode)
	}
}

// fetchOne reads one message through a durable consumer.
func (b *bridge) fetchOne(t *testing.T, durable string) jetstream.Msg {
	t.Helper()
	ctx := natstest.Context(t, 10*time.Second)
	consumer, err := b.ns.JS.CreateOrUpdateConsumer(ctx, stream.DefaultName, jetstream.ConsumerConfig{
		Durable: durable, AckPolicy: jetstream.AckExplicitPolicy,
	})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := consumer.Next(jetstream.FetchMaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	return msg
}

// waitForSpans polls the exporter until it holds n spans or 5 s pass.
func waitForSpans(t *testing.T, exporter *tracetest.InMemoryExporter, n int) tracetest.SpanStubs {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	ticker := time.NewTicker(5 * time.Millisecond)
	defer ticker.Stop()
	for {
		spans := exporter.GetSpans()
		if len(spans) >= n || time.Now().After(deadline) {
			return spans
		}
		<-ticker.C
	}
}

func spanNamed(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no span %q among %d spans", name, len(spans))
	return tracetest.SpanStub{}
}

func TestOneTraceFromWebhookToConsumer(t *testing.T) {
	t.Parallel()
	for _, mode := range []mailevent.Mode{mailevent.ModeBinary, mailevent.ModeStructured} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			// The ingress and the consumer run in separate processes in
			// production, so each has its own tracer provider here too.
			exporter := tracetest.NewInMemoryExporter()
			ingressProvider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
			consumerProvider := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
			b := startBridge(t, mode, ingressProvider)

			b.postTestdata(t, "deliveries-failed.json")
			msg := b.fetchOne(t, "suppressor")
			_, span, ev, err := tracing.StartMsg(context.Background(), consumerProvider.Tracer("consumer"), msg, "suppressor")
			if err != nil {
				t.Fatalf("StartMsg: %v", err)
			}
			span.End()
			if err := msg.Ack(); err != nil {
				t.Fatal(err)
			}

			spans := waitForSpans(t, exporter, 3)
			if len(spans) != 3 {
				t.Fatalf("got %d spans, want 3 (webhook, send, process)", len(spans))
			}
			webhook := spanNamed(t, spans, "POST "+ingress.WebhookPath)
			send := spanNamed(t, spans, "send mail.deliveries.failed")
			process := spanNamed(t, spans, "process mail.deliveries.failed")

			traceID := webhook.SpanContext.TraceID()
			for _, s := range []tracetest.SpanStub{send, process} {
				if s.SpanContext.TraceID() != traceID {
					t.Errorf("span %q is in trace %s, want %s", s.Name, s.SpanContext.TraceID(), traceID)
				}
			}
			if send.Parent.SpanID() != webhook.SpanContext.SpanID() {
				t.Errorf("send span's parent = %s, want the webhook span %s", send.Parent.SpanID(), webhook.SpanContext.SpanID())
			}
			if process.Parent.SpanID() != send.SpanContext.SpanID() {
				t.Errorf("process span's parent = %s, want the send span %s", process.Parent.SpanID(), send.SpanContext.SpanID())
			}
			if !process.Parent.IsRemote() {
				t.Error("process span's parent is not remote")
			}
			if webhook.SpanKind != trace.SpanKindServer || send.SpanKind != trace.SpanKindProducer || process.SpanKind != trace.SpanKindConsumer {
				t.Errorf("span kinds = %s, %s, %s, want server, producer, consumer", webhook.SpanKind, send.SpanKind, process.SpanKind)
			}

			want := fmt.Sprintf("00-%s-%s-01", traceID, send.SpanContext.SpanID())
			if got := ev.Extensions[tracing.ExtensionTraceparent]; got != want {
				t.Errorf("event traceparent = %q, want %q", got, want)
			}
			if mode == mailevent.ModeBinary && msg.Headers().Get("ce-traceparent") != want {
				t.Errorf("ce-traceparent header = %q, want %q", msg.Headers().Get("ce-traceparent"), want)
			}
		})
	}
}

func TestNoTraceparentWhenTracingOff(t *testing.T) {
	t.Parallel()
	b := startBridge(t, mailevent.ModeBinary, nil)
	b.postTestdata(t, "deliveries-queued.json")
	msg := b.fetchOne(t, "reader")

	if got := msg.Headers().Get("ce-traceparent"); got != "" {
		t.Errorf("ce-traceparent = %q, want none with tracing off", got)
	}
	ev, err := mailevent.Decode(msg.Headers(), msg.Data())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ev.Extensions[tracing.ExtensionTraceparent]; ok {
		t.Error("event has a traceparent extension with tracing off")
	}
}

func TestWebhookContinuesCallerTrace(t *testing.T) {
	t.Parallel()
	exporter := tracetest.NewInMemoryExporter()
	b := startBridge(t, mailevent.ModeBinary, sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter)))

	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cmc", "deliveries-queued.json"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, b.url+ingress.WebhookPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	spans := waitForSpans(t, exporter, 2)
	webhook := spanNamed(t, spans, "POST "+ingress.WebhookPath)
	if got := webhook.SpanContext.TraceID().String(); got != callerTrace {
		t.Errorf("webhook span trace = %s, want the caller's %s", got, callerTrace)
	}
}

func TestExtractWithoutTraceparent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ev := &mailevent.Event{ID: "x"}
	if got := tracing.Extract(ctx, ev); trace.SpanContextFromContext(got).IsValid() {
		t.Error("Extract made a valid span context from an event without traceparent")
	}
	ev.Extensions = map[string]string{tracing.ExtensionTraceparent: "00-zz-broken-01"}
	if got := tracing.Extract(ctx, ev); trace.SpanContextFromContext(got).IsValid() {
		t.Error("Extract made a valid span context from a malformed traceparent")
	}
}
