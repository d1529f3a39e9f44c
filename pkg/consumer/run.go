package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailbridge/mailbridge/pkg/tracing"
)

// fetchRetryDelay is the pause after a failed pull request before the
// next one, so that a lost connection does not turn into a busy loop.
const fetchRetryDelay = time.Second

// settleTimeout bounds each ack, term and dead-letter publish. It is not
// tied to Run's ctx, so a stop does not cancel the ack of an event that
// was just handled.
const settleTimeout = 5 * time.Second

// Run creates or updates the durable consumer and runs h over its messages
// until ctx ends, then stops fetching, waits for handlers in flight, acks
// them, and returns nil. Several processes running Run with the same
// Durable share the work.
//
// Run returns an error wrapping ErrInvalidConfig for an invalid cfg,
// ErrNoDeadLetterStream when no stream stores the dead-letter subject, and
// an error when the consumer cannot be created or is deleted while Run
// reads it. A ctx that ends during that setup makes Run return the
// wrapped ctx error. A failed pull request is logged and retried. When a
// handler is still running Config.StopTimeout after ctx ended, Run cancels
// the handlers' ctx and returns an error wrapping ErrStopTimeout without
// waiting for them.
func Run(ctx context.Context, js jetstream.JetStream, cfg Config, h Handler) error {
	if h == nil {
		return fmt.Errorf("%w: handler is nil", ErrInvalidConfig)
	}
	c, err := cfg.withDefaults()
	if err != nil {
		return err
	}

	if _, err := js.StreamNameBySubject(ctx, c.DeadLetterSubject); err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("%w: %s: add it to a stream's subjects or set DeadLetterSubject", ErrNoDeadLetterStream, c.DeadLetterSubject)
		}
		return fmt.Errorf("look up stream of dead-letter subject %s: %w", c.DeadLetterSubject, err)
	}

	cons, err := createOrUpdate(ctx, js, &c)
	if err != nil {
		return err
	}

	r := &runner{js: js, cons: cons, cfg: c, handler: h, inFlight: make(map[uint64]struct{}), log: c.Logger.With(
		slog.String("stream", c.Stream), slog.String("durable", c.Durable))}
	if c.TracerProvider != nil {
		r.tracer = c.TracerProvider.Tracer(tracing.ScopeName)
	}
	r.log.Info("consumer started",
		slog.Any("filter_subjects", c.FilterSubjects),
		slog.Duration("ack_wait", c.AckWait),
		slog.Int("max_deliver", c.MaxDeliver),
		slog.Int("concurrency", c.Concurrency))
	err = r.loop(ctx)
	r.log.Info("consumer stopped")
	return err
}

// createOrUpdate creates the durable, or updates it while keeping where it
// starts when it exists already.
func createOrUpdate(ctx context.Context, js jetstream.JetStream, c *Config) (jetstream.Consumer, error) {
	var existing *jetstream.ConsumerConfig
	current, err := js.Consumer(ctx, c.Stream, c.Durable)
	switch {
	case err == nil:
		existing = &current.CachedInfo().Config
	case errors.Is(err, jetstream.ErrConsumerNotFound):
	default:
		return nil, fmt.Errorf("look up consumer %s on stream %s: %w", c.Durable, c.Stream, err)
	}

	cons, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.consumerConfig(existing))
	if err != nil {
		return nil, fmt.Errorf("create or update consumer %s on stream %s: %w", c.Durable, c.Stream, err)
	}
	return cons, nil
}

type runner struct {
	js      jetstream.JetStream
	cons    jetstream.Consumer
	cfg     Config
	handler Handler
	tracer  trace.Tracer // nil without Config.TracerProvider
	log     *slog.Logger

	// inFlight holds the stream sequences of the messages in a handler.
	mu       sync.Mutex
	inFlight map[uint64]struct{}
	// abandoned is set once a stop timed out. A handler that returns
	// after it leaves its message unacked, because Run has returned.
	abandoned atomic.Bool
}

// loop pulls messages and hands each to a handler goroutine until ctx
// ends or the consumer fails, then waits for the handlers in flight for at
// most cfg.StopTimeout.
func (r *runner) loop(ctx context.Context) error {
	// Handlers get a context that keeps ctx's values but is not canceled
	// with it, so a stop lets them finish. cancelHandlers ends it once the
	// stop timeout has passed.
	handlerCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	var wg sync.WaitGroup

	fetchErr := r.fetchLoop(ctx, handlerCtx, &wg)
	if err := r.awaitHandlers(&wg, cancelHandlers); err != nil {
		return errors.Join(fetchErr, err)
	}
	return fetchErr
}

// fetchLoop pulls messages and starts a handler goroutine for each, with
// at most cfg.Concurrency handlers at once, until ctx ends or the
// consumer fails.
func (r *runner) fetchLoop(ctx, handlerCtx context.Context, wg *sync.WaitGroup) error {
	slots := make(chan struct{}, r.cfg.Concurrency)
	for {
		if ctx.Err() != nil {
			return nil
		}
		// Reserve free handler slots first and pull only that many
		// messages, so that no message waits in a buffer while its ack
		// wait runs out.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		reserved := 1
	reserve:
		for reserved < r.cfg.Concurrency {
			select {
			case slots <- struct{}{}:
				reserved++
			default:
				break reserve
			}
		}

		batch, err := r.cons.Fetch(reserved, jetstream.FetchMaxWait(r.cfg.FetchMaxWait))
		if err != nil {
			release(slots, reserved)
			if stop, err := r.fetchFailed(ctx, err); stop {
				return err
			}
			continue
		}

		// A message that arrives after ctx ended is handled too: JetStream
		// counted the delivery already, so handing it back could use up
		// its last one.
		used := 0
		for m := range batch.Messages() {
			used++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				r.process(handlerCtx, m)
			}()
		}
		release(slots, reserved-used)

		if err := batch.Error(); err != nil {
			if stop, err := r.fetchFailed(ctx, err); stop {
				return err
			}
		}
	}
}

// awaitHandlers waits for the handlers in flight. When they are still
// running after cfg.StopTimeout, it cancels their ctx and returns an error
// naming the stream sequences of their messages, without waiting longer.
func (r *runner) awaitHandlers(wg *sync.WaitGroup, cancelHandlers context.CancelFunc) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(r.cfg.StopTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
	}

	r.abandoned.Store(true)
	cancelHandlers()
	r.mu.Lock()
	stuck := slices.Sorted(maps.Keys(r.inFlight))
	r.mu.Unlock()
	return fmt.Errorf("%w: %s after %s; left unacked, so JetStream delivers it again after the ack wait",
		ErrStopTimeout, sequenceList(stuck), r.cfg.StopTimeout)
}

// sequenceList names stream sequences in an error message.
func sequenceList(seqs []uint64) string {
	if len(seqs) == 1 {
		return "stream sequence " + strconv.FormatUint(seqs[0], 10)
	}
	parts := make([]string, len(seqs))
	for i, seq := range seqs {
		parts[i] = strconv.FormatUint(seq, 10)
	}
	return "stream sequences " + strings.Join(parts, ", ")
}

// track records that the message with stream sequence seq is in a
// handler. The returned function removes it.
func (r *runner) track(seq uint64) (untrack func()) {
	r.mu.Lock()
	r.inFlight[seq] = struct{}{}
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.inFlight, seq)
		r.mu.Unlock()
	}
}

func release(slots chan struct{}, n int) {
	for range n {
		<-slots
	}
}

// fetchFailed logs a failed pull request and waits before the next one.
// It reports whether Run must stop, with the error to return.
func (r *runner) fetchFailed(ctx context.Context, err error) (bool, error) {
	if ctx.Err() != nil {
		return true, nil
	}
	if errors.Is(err, nats.ErrTimeout) {
		return false, nil
	}
	if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, nats.ErrConnectionClosed) {
		return true, fmt.Errorf("fetch from consumer %s: %w", r.cfg.Durable, err)
	}
	r.log.Warn("fetch failed; retrying", slog.Any("error", err), slog.Duration("retry_in", fetchRetryDelay))
	select {
	case <-time.After(fetchRetryDelay):
		return false, nil
	case <-ctx.Done():
		return true, nil
	}
}
