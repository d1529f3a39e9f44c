// Package replay reads mailbridge's JetStream stream back: it sends a
// selection of stored CloudEvents to standard output, to an HTTP endpoint
// or to NATS subjects under another prefix (Run), and it follows the
// stream live for an operator (Tail).
//
// Both read with ordered consumers, which the server removes when they
// go idle. The package never creates a durable consumer and never changes
// the stream, so it can run beside the ingress and its consumers at any
// time. It logs only through the *slog.Logger it is given.
package replay
