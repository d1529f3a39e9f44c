package consumer

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Defaults of Config.
const (
	DefaultAckWait       = 30 * time.Second
	DefaultMaxDeliver    = 5
	DefaultMaxAckPending = 1000
	DefaultFetchMaxWait  = time.Second
	DefaultStopTimeout   = 30 * time.Second
)

// Config describes the durable consumer that Run creates or updates, and
// how Run treats the handler's results.
type Config struct {
	// Stream is the stream to read, such as "MAIL". Required.
	Stream string

	// Durable is the name of the durable pull consumer. It survives
	// restarts, and every process that runs with the same name shares its
	// events. Required. It may not contain '.', '*', '>' or white space.
	Durable string

	// FilterSubjects are the subjects the consumer reads, with wildcards,
	// such as mailevent.Subjects.Failures(). Defaults to the CMC record
	// subjects under SubjectPrefix (mailevent.Subjects.Events(): every
	// delivery, bounce and block), which leaves out the bridge's own
	// suppression and alert events and the rejected and dead-letter
	// subjects. To read the whole stream, set it to
	// mailevent.Subjects.All(): Run then acks and skips the messages on the
	// rejected and dead-letter subjects without calling the handler, and
	// hands the suppression and alert events to it, whose Msg.Data returns
	// a *mailevent.UnknownTypeError.
	FilterSubjects []string

	// AckWait is how long JetStream waits for the handler's result before
	// it delivers the message again. Set it longer than the slowest
	// handler, or call Msg.InProgress during long work. Defaults to 30s.
	AckWait time.Duration

	// MaxDeliver is how many times a message is delivered before it goes
	// to the dead-letter subject. Defaults to 5.
	MaxDeliver int

	// Backoff are the delays before the second, third and later
	// deliveries of a failed message; the last step repeats. Every step
	// must be at least AckWait: JetStream uses a step as the ack wait of
	// the delivery that follows it (and Backoff[0] replaces AckWait), so
	// a shorter step would deliver the message again while its handler is
	// still running. It may have at most MaxDeliver steps. When empty, a
	// failed message is delivered again after AckWait.
	Backoff []time.Duration

	// SubjectPrefix is the first subject token(s) of mailbridge's events,
	// used for the default FilterSubjects and DeadLetterSubject. Defaults
	// to "mail".
	SubjectPrefix string

	// DeadLetterSubject is the subject that receives a message after its
	// last failed delivery, or at once when the handler returns a
	// Permanent error. Run checks that a stream stores it. Defaults to
	// "<SubjectPrefix>.deadletter.<Durable>", which the MAIL stream
	// stores under its "<SubjectPrefix>.>" subjects.
	DeadLetterSubject string

	// StartTime, when set and the durable does not exist yet, makes the
	// consumer start with the first event stored at or after it. An
	// existing durable keeps its position. Defaults to the start of the
	// stream.
	StartTime time.Time

	// MaxAckPending is how many messages may be delivered and not yet
	// acknowledged across every process of the durable. Defaults to 1000.
	MaxAckPending int

	// Concurrency is how many handlers run at once in this process. With
	// 1, events are handled one at a time in stream order, except that a
	// failed event comes back after its backoff while later ones go on.
	// Defaults to 1.
	Concurrency int

	// FetchMaxWait is how long one pull request waits for messages. A
	// stop waits for the pull in flight, so it also bounds how long Run
	// takes to return once ctx ends. Defaults to 1s.
	FetchMaxWait time.Duration

	// StopTimeout is how long a stop waits for the handlers in flight
	// once ctx ends. After it, their ctx is canceled and Run returns an
	// error wrapping ErrStopTimeout that names the stream sequence of each
	// message still in a handler. Run leaves those messages unacked, so
	// JetStream delivers them again after AckWait. Defaults to 30s.
	StopTimeout time.Duration

	// TracerProvider makes a consumer span for each message handed to the
	// handler, a child of the span named by the event's traceparent
	// extension, and the handler's ctx carries that span. Nil makes no
	// spans.
	TracerProvider trace.TracerProvider

	// Logger receives the consumer's start and stop, handler errors and
	// dead letters. Defaults to a logger that discards everything.
	Logger *slog.Logger
}

// withDefaults returns c with its defaults set, or an error naming the
// first invalid field.
func (c Config) withDefaults() (Config, error) {
	if c.Stream == "" {
		return c, fmt.Errorf("%w: Stream is empty: name the stream to read, such as MAIL", ErrInvalidConfig)
	}
	if c.Durable == "" {
		return c, fmt.Errorf("%w: Durable is empty: name the durable consumer", ErrInvalidConfig)
	}
	if strings.ContainsAny(c.Durable, ".*> \t\r\n") {
		return c, fmt.Errorf("%w: Durable %q contains '.', '*', '>' or white space", ErrInvalidConfig, c.Durable)
	}

	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.AckWait < 0 {
		return c, fmt.Errorf("%w: AckWait %s is negative", ErrInvalidConfig, c.AckWait)
	}

	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.MaxDeliver < 1 {
		return c, fmt.Errorf("%w: MaxDeliver %d is less than 1: redeliveries must be bounded", ErrInvalidConfig, c.MaxDeliver)
	}

	if len(c.Backoff) > c.MaxDeliver {
		return c, fmt.Errorf("%w: Backoff has %d steps, more than MaxDeliver %d", ErrInvalidConfig, len(c.Backoff), c.MaxDeliver)
	}
	for i, step := range c.Backoff {
		if step < c.AckWait {
			return c, fmt.Errorf("%w: Backoff[%d] %s is shorter than AckWait %s: JetStream would deliver the message again while its handler still runs; make every step at least AckWait", ErrInvalidConfig, i, step, c.AckWait)
		}
	}

	if c.SubjectPrefix == "" {
		c.SubjectPrefix = mailevent.DefaultPrefix
	}
	if err := mailevent.ValidatePrefix(c.SubjectPrefix); err != nil {
		return c, fmt.Errorf("%w: SubjectPrefix: %w", ErrInvalidConfig, err)
	}

	subjects := mailevent.Subjects{Prefix: c.SubjectPrefix}
	if len(c.FilterSubjects) == 0 {
		c.FilterSubjects = subjects.Events()
	}

	if c.DeadLetterSubject == "" {
		c.DeadLetterSubject = subjects.DeadLetter(c.Durable)
	}
	if strings.ContainsAny(c.DeadLetterSubject, "*> \t\r\n") {
		return c, fmt.Errorf("%w: DeadLetterSubject %q contains a wildcard or white space", ErrInvalidConfig, c.DeadLetterSubject)
	}

	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	if c.MaxAckPending < 1 {
		return c, fmt.Errorf("%w: MaxAckPending %d is less than 1", ErrInvalidConfig, c.MaxAckPending)
	}

	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.Concurrency < 1 {
		return c, fmt.Errorf("%w: Concurrency %d is less than 1", ErrInvalidConfig, c.Concurrency)
	}

	if c.FetchMaxWait == 0 {
		c.FetchMaxWait = DefaultFetchMaxWait
	}
	if c.FetchMaxWait < 0 {
		return c, fmt.Errorf("%w: FetchMaxWait %s is negative", ErrInvalidConfig, c.FetchMaxWait)
	}

	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.StopTimeout < 0 {
		return c, fmt.Errorf("%w: StopTimeout %s is negative", ErrInvalidConfig, c.StopTimeout)
	}

	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// consumerConfig returns the JetStream configuration of the durable.
// existing is the durable's current configuration, or nil when it is new.
// An existing durable keeps its deliver policy and start time, because
// JetStream does not let them change.
func (c *Config) consumerConfig(existing *jetstream.ConsumerConfig) jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       c.Durable,
		Description:   "mailbridge consumer kit",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    c.MaxDeliver,
		BackOff:       c.Backoff,
		MaxAckPending: c.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	switch len(c.FilterSubjects) {
	case 0:
	case 1:
		cc.FilterSubject = c.FilterSubjects[0]
	default:
		cc.FilterSubjects = c.FilterSubjects
	}
	switch {
	case existing != nil:
		cc.DeliverPolicy = existing.DeliverPolicy
		cc.OptStartTime = existing.OptStartTime
		cc.OptStartSeq = existing.OptStartSeq
	case !c.StartTime.IsZero():
		start := c.StartTime
		cc.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cc.OptStartTime = &start
	}
	return cc
}

// redeliveryDelay returns how long to wait before delivering a message
// again after its delivered-th delivery failed.
func (c *Config) redeliveryDelay(delivered uint64) time.Duration {
	if len(c.Backoff) == 0 {
		return c.AckWait
	}
	i := int(min(delivered, uint64(len(c.Backoff)))) - 1
	return c.Backoff[max(i, 0)]
}
