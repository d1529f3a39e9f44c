package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Clock returns the current time. Tests pass a clock they move by hand.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Config configures an Alerter.
type Config struct {
	// Stream is the stream of the events. Required.
	Stream string

	// Subjects names the event and alert subjects. Defaults to the prefix
	// mailevent.DefaultPrefix.
	Subjects mailevent.Subjects

	// Durable is the durable consumer's name. Defaults to "alerter".
	Durable string

	// Bucket is the KV bucket of the alert states. Defaults to "alerts".
	Bucket string

	// Replicas is the KV bucket's replica count. Defaults to 1.
	Replicas int

	// Rules is the rule set. Defaults to DefaultRules().
	Rules *Rules

	// Mode is the CloudEvents content mode of the alerts on NATS.
	// Defaults to binary.
	Mode mailevent.Mode

	// Notifiers receive every transition, each through its own queue. A
	// LogNotifier on Logger is always added.
	Notifiers []Notifier

	// QueueSize is the length of each notifier's queue; alerts beyond it
	// are dropped for that notifier and counted. Defaults to 100.
	QueueSize int

	// NotifyGrace is how long Run waits for queued notifications after ctx
	// ends. Defaults to 10s.
	NotifyGrace time.Duration

	// EvaluateInterval is how often the rules are checked when no event
	// arrives. Defaults to 30s.
	EvaluateInterval time.Duration

	// EvaluateDelay is how long after an event the rules are checked, so
	// that the rest of its webhook batch is counted first. Defaults to 1s.
	EvaluateDelay time.Duration

	// AckWait is the durable consumer's ack wait. Defaults to 30s.
	AckWait time.Duration

	// MaxDeliver is how often an event is delivered before it is given
	// up. Defaults to 5.
	MaxDeliver int

	// MaxDomains bounds the recipient domains counted one by one; more
	// are counted together as OtherKey. Defaults to 10000.
	MaxDomains int

	// MaxFailures bounds the failures remembered to pair a failed delivery
	// with its bounce. Defaults to 200000, about 40 MB.
	MaxFailures int

	// Clock returns the time. Defaults to the system clock.
	Clock Clock

	// Logger receives lifecycle lines, errors and the log notifier's
	// alerts. Defaults to slog.Default().
	Logger *slog.Logger

	// Registerer receives the mailbridge_alert_* metrics. Nil registers
	// none.
	Registerer prometheus.Registerer

	// TracerProvider makes a consumer span per live event, continuing the
	// event's trace (see consumer.Config.TracerProvider). Nil makes none.
	TracerProvider trace.TracerProvider
}

func (c Config) withDefaults() (Config, error) {
	if c.Stream == "" {
		return c, fmt.Errorf("%w: Stream is required", ErrInvalidConfig)
	}
	if c.Subjects.Prefix == "" {
		c.Subjects.Prefix = mailevent.DefaultPrefix
	}
	if err := mailevent.ValidatePrefix(c.Subjects.Prefix); err != nil {
		return c, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if c.Durable == "" {
		c.Durable = "alerter"
	}
	if c.Bucket == "" {
		c.Bucket = "alerts"
	}
	if c.Rules == nil {
		rules := DefaultRules()
		c.Rules = &rules
	}
	if err := c.Rules.Validate(); err != nil {
		return c, err
	}
	if c.Mode == "" {
		c.Mode = mailevent.ModeBinary
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 100
	}
	if c.NotifyGrace <= 0 {
		c.NotifyGrace = 10 * time.Second
	}
	if c.EvaluateInterval <= 0 {
		c.EvaluateInterval = 30 * time.Second
	}
	if c.EvaluateDelay <= 0 {
		c.EvaluateDelay = time.Second
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxDeliver <= 0 {
		c.MaxDeliver = 5
	}
	if c.MaxDomains <= 0 {
		c.MaxDomains = 10000
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 200000
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Alerter is the alerting consumer. Run it once per stream: each process
// counts only the events it receives, so several Alerters sharing the
// durable would each see part of the rates.
type Alerter struct {
	cfg   Config
	js    jetstream.JetStream
	rules *Rules

	metrics *metrics
	queues  queues
	kick    chan struct{}
	ready   chan struct{}

	// mu guards tally.
	mu    sync.Mutex
	tally *tally

	// evalMu serializes evaluations, and guards states and store.
	evalMu sync.Mutex
	states map[string]State
	store  *stateStore

	// settling counts the goroutines that clear sent transitions.
	settling sync.WaitGroup

	// Set by Run before the durable consumer starts, then read-only.
	started   time.Time
	cut       uint64
	startTime time.Time // stored time of the cut, where a new durable starts
}

// New returns an Alerter that reads and publishes through js.
func New(js jetstream.JetStream, cfg Config) (*Alerter, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	a := &Alerter{
		cfg:     c,
		js:      js,
		rules:   c.Rules,
		metrics: newMetrics(),
		kick:    make(chan struct{}, 1),
		ready:   make(chan struct{}),
		tally:   newTally(c.Rules, c.MaxDomains, c.MaxFailures),
		states:  make(map[string]State),
	}
	if c.Registerer != nil {
		for _, collector := range a.metrics.collectors() {
			if err := c.Registerer.Register(collector); err != nil {
				return nil, fmt.Errorf("register alert metrics: %w", err)
			}
		}
	}
	notifiers := append([]Notifier{LogNotifier{Logger: c.Logger}}, c.Notifiers...)
	for _, n := range notifiers {
		a.queues = append(a.queues, newQueue(n, c.QueueSize, c.Logger, a.metrics))
	}
	return a, nil
}

// filterSubjects returns the subjects the Alerter reads: deliveries,
// bounces and blocks, not its own alerts or rejected input.
func (a *Alerter) filterSubjects() []string {
	s := a.cfg.Subjects
	return []string{s.Deliveries(), s.Bounces(), s.Blocks()}
}

// Ready returns a channel closed once Run has rebuilt the windows and
// started the durable consumer.
func (a *Alerter) Ready() <-chan struct{} { return a.ready }

// Run rebuilds the windows from the stream, then consumes live events and
// evaluates the rules until ctx ends. It then stops the consumer, waits up
// to NotifyGrace for queued notifications, and returns. Run may be called
// once.
func (a *Alerter) Run(ctx context.Context) error {
	err := a.setup(ctx)
	if err != nil && ctx.Err() != nil {
		// Stopped while starting: nothing was consumed, so nothing is lost.
		return nil
	}
	if err != nil {
		return err
	}
	return a.run(ctx)
}

// setup loads the alert states and rebuilds the windows.
func (a *Alerter) setup(ctx context.Context) error {
	setupCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	store, err := openStateStore(setupCtx, a.js, a.cfg.Bucket, a.cfg.Replicas)
	if err != nil {
		return err
	}
	states, err := store.loadAll(setupCtx)
	if err != nil {
		return err
	}
	a.evalMu.Lock()
	a.store, a.states = store, states
	for _, st := range states {
		a.metrics.setState(st.Rule, st.Key, st.Level)
	}
	a.evalMu.Unlock()

	a.started = a.cfg.Clock.Now()
	a.startTime, err = a.rebuild(setupCtx)
	return err
}

// run evaluates, consumes and notifies until ctx ends.
func (a *Alerter) run(ctx context.Context) error {
	// Notifiers run on their own context so that queued alerts still go
	// out for NotifyGrace after ctx ends.
	notifyCtx, stopNotify := context.WithCancel(context.WithoutCancel(ctx))
	defer stopNotify()
	var notifyWG sync.WaitGroup
	a.queues.start(notifyCtx, &notifyWG)

	if err := a.sendPending(ctx); err != nil {
		a.cfg.Logger.Error("sending pending alerts failed", slog.Any("error", err))
	}
	if err := a.Evaluate(ctx); err != nil {
		a.cfg.Logger.Error("alert evaluation failed", slog.Any("error", err))
	}

	loopCtx, stopLoop := context.WithCancel(ctx)
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		a.evaluateLoop(loopCtx)
	}()
	close(a.ready)

	runErr := consumer.Run(ctx, a.js, consumer.Config{
		Stream:         a.cfg.Stream,
		Durable:        a.cfg.Durable,
		FilterSubjects: a.filterSubjects(),
		AckWait:        a.cfg.AckWait,
		MaxDeliver:     a.cfg.MaxDeliver,
		SubjectPrefix:  a.cfg.Subjects.Prefix,
		StartTime:      a.startTime,
		TracerProvider: a.cfg.TracerProvider,
		Logger:         a.cfg.Logger,
	}, a.handle)

	stopLoop()
	<-loopDone
	a.queues.close()
	waited := make(chan struct{})
	go func() {
		notifyWG.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(a.cfg.NotifyGrace):
		stopNotify()
		<-waited
	}
	a.settling.Wait()
	a.cfg.Logger.Info("alerter stopped")
	if ctx.Err() != nil {
		// A stop while the consumer was still being created is a stop.
		return nil
	}
	return runErr
}

// evaluateLoop evaluates EvaluateDelay after events arrive, and every
// EvaluateInterval.
func (a *Alerter) evaluateLoop(ctx context.Context) {
	ticker := time.NewTicker(a.cfg.EvaluateInterval)
	defer ticker.Stop()
	delay := time.NewTimer(a.cfg.EvaluateDelay)
	delay.Stop()
	delayed := false
	for {
		select {
		case <-ctx.Done():
			delay.Stop()
			return
		case <-a.kick:
			if !delayed {
				delay.Reset(a.cfg.EvaluateDelay)
				delayed = true
			}
			continue
		case <-delay.C:
			delayed = false
		case <-ticker.C:
		}
		if err := a.Evaluate(ctx); err != nil && ctx.Err() == nil {
			a.cfg.Logger.Error("alert evaluation failed", slog.Any("error", err))
		}
	}
}

// handle counts one live event. Events up to the rebuild's cut were
// counted by the rebuild already and are acked without counting.
func (a *Alerter) handle(_ context.Context, msg *consumer.Msg) error {
	if msg.Sequence <= a.cut {
		return nil
	}
	now := a.cfg.Clock.Now()
	a.mu.Lock()
	obs, counted := a.tally.add(&msg.Event, msg.Stored)
	// Silence is measured on the Alerter's clock: a live event is news
	// now, whatever its stored time.
	if now.After(a.tally.lastEvent) {
		a.tally.lastEvent = now
	}
	a.mu.Unlock()

	a.metrics.events.WithLabelValues("live").Inc()
	a.metrics.lastEvent.Set(float64(now.UnixNano()) / 1e9)
	if counted {
		a.metrics.observe(obs)
	}
	select {
	case a.kick <- struct{}{}:
	default:
	}
	return nil
}

// rebuild counts the events stored within the longest window, up to the
// last stream sequence at this moment (the cut). The durable consumer
// then acks events up to the cut without counting them, so each event is
// counted once whether the durable is new, behind or caught up. It
// returns the stored time of the cut, from which a new durable starts.
func (a *Alerter) rebuild(ctx context.Context) (time.Time, error) {
	started := time.Now()
	stream, err := a.js.Stream(ctx, a.cfg.Stream)
	if err != nil {
		return time.Time{}, fmt.Errorf("stream %s: %w", a.cfg.Stream, err)
	}
	info := stream.CachedInfo()
	a.cut = info.State.LastSeq
	cutTime := info.State.LastTime

	// The last event's time starts the silence rule, whatever its age.
	for _, filter := range a.filterSubjects() {
		last, err := stream.GetLastMsgForSubject(ctx, filter)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("last event on %s: %w", filter, err)
		}
		a.mu.Lock()
		if last.Time.After(a.tally.lastEvent) {
			a.tally.lastEvent = last.Time
		}
		a.mu.Unlock()
	}

	window := a.rules.LongestWindow()
	if a.cut == 0 || window <= 0 {
		return cutTime, nil
	}
	from := a.started.Add(-window)
	reader, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: a.filterSubjects(),
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &from,
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read stream %s from %s: %w", a.cfg.Stream, from.Format(time.RFC3339), err)
	}
	defer consumer.RemoveOrdered(a.js, a.cfg.Stream, reader)

	var read int
	for done := false; !done; {
		batch, err := reader.FetchNoWait(1000)
		if err != nil {
			return time.Time{}, fmt.Errorf("read stream %s: %w", a.cfg.Stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil || meta.Sequence.Stream > a.cut {
				done = true
				continue
			}
			if meta.Sequence.Stream == a.cut || meta.NumPending == 0 {
				done = true
			}
			ev, err := mailevent.Decode(m.Headers(), m.Data())
			if err != nil {
				continue
			}
			read++
			a.mu.Lock()
			a.tally.add(&ev, meta.Timestamp)
			a.mu.Unlock()
		}
		if err := batch.Error(); err != nil {
			return time.Time{}, fmt.Errorf("read stream %s: %w", a.cfg.Stream, err)
		}
		if n == 0 {
			done = true
		}
	}
	a.metrics.events.WithLabelValues("rebuild").Add(float64(read))
	a.cfg.Logger.Info("alert windows rebuilt from the stream", slog.String("stream", a.cfg.Stream),
		slog.Int("events", read), slog.Time("from", from), slog.Uint64("through_sequence", a.cut),
		slog.Duration("duration", time.Since(started)))
	return cutTime, nil
}
