// Package consumer runs a handler over mailbridge's CloudEvents on a
// durable JetStream pull consumer. Its defaults cover what downstream
// services tend to get wrong: explicit acks, an ack wait that a backoff
// never shortens, bounded redeliveries, a dead-letter subject for events
// that keep failing, and a graceful stop that lets handlers in flight
// finish and acks them.
//
// A service names the stream, a durable and the subjects it wants, and
// writes a Handler:
//
//	err := consumer.Run(ctx, js, consumer.Config{
//		Stream:         "MAIL",
//		Durable:        "billing",
//		FilterSubjects: mailevent.Subjects{Prefix: "mail"}.Failures(),
//	}, func(ctx context.Context, msg *consumer.Msg) error {
//		data, err := mailevent.DecodeData(&msg.Event)
//		...
//	})
//
// Because the consumer is durable, a restart resumes after the last
// acknowledged event, and several processes running Run with the same
// durable share the events between them. Idempotent wraps a handler so
// that an event id seen before is acknowledged without running it again.
//
// Without FilterSubjects a consumer reads the CMC record subjects only:
// deliveries, bounces and blocks. Dead-lettered messages, the ingress's
// rejected input and the bridge's own suppression and alert events are
// stored in the same stream under the same prefix; a consumer that asks
// for the whole stream gets the events too, and Run acknowledges and skips
// the dead letters and rejected input without calling the handler. See
// Config.FilterSubjects.
package consumer
