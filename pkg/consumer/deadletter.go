package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers that Run adds to a dead letter. The dead letter keeps the
// original message's headers and data, so it still decodes as the same
// CloudEvent; the original Nats-* headers are dropped.
const (
	// HeaderDeadLetterDurable is the durable whose handler failed.
	HeaderDeadLetterDurable = "Mailbridge-Dead-Letter-Durable"
	// HeaderDeadLetterError is the handler's last error, on one line.
	HeaderDeadLetterError = "Mailbridge-Dead-Letter-Error"
	// HeaderDeadLetterDeliveries is the delivery count when it failed.
	HeaderDeadLetterDeliveries = "Mailbridge-Dead-Letter-Deliveries"
	// HeaderDeadLetterSubject is the original message's subject.
	HeaderDeadLetterSubject = "Mailbridge-Dead-Letter-Subject"
	// HeaderDeadLetterStream is the stream the original message is in.
	HeaderDeadLetterStream = "Mailbridge-Dead-Letter-Stream"
	// HeaderDeadLetterSequence is the original message's stream sequence.
	HeaderDeadLetterSequence = "Mailbridge-Dead-Letter-Sequence"
	// HeaderDeadLetterMsgID is the original message's Nats-Msg-Id.
	HeaderDeadLetterMsgID = "Mailbridge-Dead-Letter-Msg-Id"
)

// deadLetterAttempts is how many times Run tries to publish a dead letter
// before it gives up, deadLetterPause apart.
const (
	deadLetterAttempts = 3
	deadLetterPause    = time.Second
)

// maxErrorHeader is the longest error text kept in HeaderDeadLetterError.
const maxErrorHeader = 1024

// deadLetter publishes a copy of m to the dead-letter subject and terms m
// once JetStream has stored the copy.
func (r *runner) deadLetter(ctx context.Context, m jetstream.Msg, meta *jetstream.MsgMetadata, cause error, log *slog.Logger) {
	dl := r.deadLetterMsg(m, meta, cause)

	var err error
	for attempt := 1; attempt <= deadLetterAttempts; attempt++ {
		if attempt > 1 {
			_ = m.InProgress()
			time.Sleep(deadLetterPause)
		}
		pubCtx, cancel := context.WithTimeout(ctx, settleTimeout)
		_, err = r.js.PublishMsg(pubCtx, dl)
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		r.deadLetterFailed(m, meta, cause, err, log)
		return
	}

	log.Error("event dead-lettered",
		slog.String("dead_letter_subject", r.cfg.DeadLetterSubject),
		slog.Any("error", cause))
	if err := m.TermWithReason("dead-lettered to " + r.cfg.DeadLetterSubject); err != nil {
		log.Warn("term failed; JetStream may deliver the dead-lettered event again", slog.Any("error", err))
	}
}

// deadLetterFailed leaves m to JetStream when its dead letter could not be
// stored.
func (r *runner) deadLetterFailed(m jetstream.Msg, meta *jetstream.MsgMetadata, cause, err error, log *slog.Logger) {
	if meta.NumDelivered < uint64(r.cfg.MaxDeliver) {
		delay := r.cfg.redeliveryDelay(meta.NumDelivered)
		log.Error("dead-letter publish failed; event will be delivered again",
			slog.Any("error", err), slog.String("handler_error", cause.Error()), slog.Duration("retry_in", delay))
		_ = m.NakWithDelay(delay)
		return
	}
	// NOTE: this was the last delivery, so JetStream will not deliver the
	// event to this durable again. It stays in the stream; find it with
	// the log's stream_seq and replay it by hand.
	log.Error("dead-letter publish failed on the last delivery; event left unacknowledged",
		slog.Any("error", err), slog.String("handler_error", cause.Error()))
}

// deadLetterMsg copies m's headers and data, and adds headers naming the
// durable, the original subject and sequence, and the handler's error.
func (r *runner) deadLetterMsg(m jetstream.Msg, meta *jetstream.MsgMetadata, cause error) *nats.Msg {
	header := make(nats.Header, len(m.Headers())+7)
	for name, values := range m.Headers() {
		// Nats-Msg-Id would make JetStream drop the copy as a duplicate of
		// the original, and other Nats-* headers set expectations on the
		// original publish.
		if strings.HasPrefix(strings.ToLower(name), "nats-") {
			continue
		}
		header[name] = append([]string(nil), values...)
	}
	if id := m.Headers().Get(jetstream.MsgIDHeader); id != "" {
		header.Set(HeaderDeadLetterMsgID, id)
	}
	header.Set(HeaderDeadLetterDurable, r.cfg.Durable)
	header.Set(HeaderDeadLetterError, headerText(cause.Error()))
	header.Set(HeaderDeadLetterDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
	header.Set(HeaderDeadLetterSubject, m.Subject())
	header.Set(HeaderDeadLetterStream, meta.Stream)
	header.Set(HeaderDeadLetterSequence, strconv.FormatUint(meta.Sequence.Stream, 10))
	// One id per durable and original message, so a retried publish is
	// stored once.
	header.Set(jetstream.MsgIDHeader, fmt.Sprintf("deadletter.%s.%s.%d", r.cfg.Durable, meta.Stream, meta.Sequence.Stream))

	return &nats.Msg{Subject: r.cfg.DeadLetterSubject, Header: header, Data: m.Data()}
}

// headerText makes an error text safe as a header value: one line, at most
// maxErrorHeader bytes.
func headerText(text string) string {
	text = strings.Join(strings.Fields(text), " ")
	if len(text) > maxErrorHeader {
		text = strings.ToValidUTF8(text[:maxErrorHeader], "")
	}
	return text
}
