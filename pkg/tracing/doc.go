// Package tracing carries OpenTelemetry trace context from the webhook to
// every consumer inside the CloudEvents themselves, with the CloudEvents
// distributed tracing extension: the ingress writes the W3C traceparent
// (and tracestate) of each event's publish span into the event's
// traceparent and tracestate extension attributes, and a consumer
// continues the trace from them.
//
// The attributes travel with the event, so a replay or a backfill weeks
// later still links to the trace of the webhook that produced it. With a
// no-op tracer provider (tracing off) no span context is valid and events
// carry no traceparent.
package tracing
