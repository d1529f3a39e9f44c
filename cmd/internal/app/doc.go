// Package app builds what the mailbridge commands share from their
// environment configuration: NATS connection options, the stream, the
// logger, the event builder, the webhook ingress handler and tracing.
//
// Both "mailbridge serve" and the AWS Lambda function build their ingress
// here, so the same webhook gets the same answer and the same events from
// either. Like every package under cmd/, it may read the environment; the
// packages under pkg/ get plain values from it.
package app
