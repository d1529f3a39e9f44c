package tracing

import (
	"context"
	"net/http"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// ScopeName is the instrumentation scope of mailbridge's spans.
const ScopeName = "github.com/mailbridge/mailbridge"

// The extension attributes of the CloudEvents distributed tracing
// extension.
const (
	ExtensionTraceparent = "traceparent"
	ExtensionTracestate  = "tracestate"
)

// propagator reads and writes the W3C Trace Context format that the
// distributed tracing extension uses.
var propagator = propagation.TraceContext{}

// eventCarrier adapts an event's extensions to a propagation carrier.
type eventCarrier struct {
	ev *mailevent.Event
}

func (c eventCarrier) Get(key string) string {
	return c.ev.Extensions[key]
}

func (c eventCarrier) Set(key, value string) {
	if c.ev.Extensions == nil {
		c.ev.Extensions = make(map[string]string, 2)
	}
	c.ev.Extensions[key] = value
}

func (c eventCarrier) Keys() []string {
	return []string{ExtensionTraceparent, ExtensionTracestate}
}

// Inject writes the span context of ctx into ev's traceparent and
// tracestate extensions. It does nothing when ctx carries no valid span
// context, as with tracing off.
func Inject(ctx context.Context, ev *mailevent.Event) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	propagator.Inject(ctx, eventCarrier{ev: ev})
}

// Extract returns ctx with the remote span context read from ev's
// traceparent and tracestate extensions. ctx is returned unchanged when
// ev has no valid traceparent.
func Extract(ctx context.Context, ev *mailevent.Event) context.Context {
	if ev.Extensions[ExtensionTraceparent] == "" {
		return ctx
	}
	return propagator.Extract(ctx, eventCarrier{ev: ev})
}

// StartWebhook starts the server span of one webhook request. It
// continues the trace of a W3C traceparent header when the sender or a
// proxy in front sent one.
func StartWebhook(tracer trace.Tracer, r *http.Request) (context.Context, trace.Span) {
	ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	return tracer.Start(ctx, r.Method+" "+r.URL.Path,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
		))
}

// EndWebhook records the answer's status code on a span from StartWebhook
// and ends it. A 5xx answer marks the span as failed.
func EndWebhook(span trace.Span, status int, requestID string) {
	span.SetAttributes(
		attribute.Int("http.response.status_code", status),
		attribute.String("mailbridge.request_id", requestID),
	)
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

// StartPublish starts the producer span of publishing ev to the NATS
// subject and writes its span context into ev, so that consumers of the
// event continue this span's trace. The caller ends the span when the pub
// ack arrives, with EndPublish.
//
// It returns nil, and leaves ev as it is, when ctx carries no valid span
// context: with tracing off, the hot path then costs no allocation.
func StartPublish(ctx context.Context, tracer trace.Tracer, ev *mailevent.Event, subject string) trace.Span {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	ctx, span := tracer.Start(ctx, "send "+subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(messagingAttributes(ev, subject, "send")...))
	Inject(ctx, ev)
	return span
}

// EndPublish ends a span from StartPublish, marking it failed when err is
// not nil. A nil span is allowed.
func EndPublish(span trace.Span, duplicate bool, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "not stored")
	} else if duplicate {
		span.SetAttributes(attribute.Bool("mailbridge.duplicate", true))
	}
	span.End()
}

// StartProcess starts the consumer span of processing ev, read from the
// NATS subject by the named consumer (its durable name, or "" for an
// ephemeral one). The span is a child of the publish span that ev's
// traceparent names, so it joins the webhook's trace. When ctx already
// carries a span, such as a fetch loop's, the new span links to it.
func StartProcess(ctx context.Context, tracer trace.Tracer, ev *mailevent.Event, subject, consumer string) (context.Context, trace.Span) {
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(messagingAttributes(ev, subject, "process")...),
	}
	if consumer != "" {
		opts = append(opts, trace.WithAttributes(attribute.String("messaging.consumer.group.name", consumer)))
	}
	if local := trace.SpanContextFromContext(ctx); local.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: local}))
	}
	return tracer.Start(Extract(ctx, ev), "process "+subject, opts...)
}

// messagingAttributes are the OpenTelemetry semantic convention attributes
// of a messaging span for ev and of the CloudEvent itself.
func messagingAttributes(ev *mailevent.Event, subject, operation string) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("messaging.system", "nats"),
		attribute.String("messaging.operation.type", operation),
		attribute.String("messaging.destination.name", subject),
		attribute.String("messaging.message.id", ev.ID),
		attribute.String("cloudevents.event_id", ev.ID),
		attribute.String("cloudevents.event_source", ev.Source),
		attribute.String("cloudevents.event_type", ev.Type),
	}
}

// StartMsg decodes the CloudEvent in a JetStream message and starts its
// process span as StartProcess does, with the message's subject. On a
// decode error it returns ctx, a span that records nothing (ending it is
// harmless) and the error from mailevent.Decode.
func StartMsg(ctx context.Context, tracer trace.Tracer, msg jetstream.Msg, consumer string) (context.Context, trace.Span, mailevent.Event, error) {
	ev, err := mailevent.Decode(msg.Headers(), msg.Data())
	if err != nil {
		return ctx, trace.SpanFromContext(context.Background()), ev, err
	}
	ctx, span := StartProcess(ctx, tracer, &ev, msg.Subject(), consumer)
	return ctx, span, ev, nil
}
