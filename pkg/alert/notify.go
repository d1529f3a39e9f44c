package alert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Notifier sends an alert to people or systems.
type Notifier interface {
	// Name identifies the notifier in logs and metrics, such as "slack".
	Name() string
	// Notify sends one alert. It returns an error wrapping ErrNotifier
	// when the alert could not be delivered.
	Notify(ctx context.Context, alert *Alert) error
}

// queue runs one notifier on its own goroutine behind a bounded queue, so
// that a slow or failing notifier never blocks the consumer.
type queue struct {
	notifier Notifier
	alerts   chan *Alert
	logger   *slog.Logger
	metrics  *metrics
	done     chan struct{}
}

func newQueue(n Notifier, size int, logger *slog.Logger, m *metrics) *queue {
	return &queue{notifier: n, alerts: make(chan *Alert, size), logger: logger, metrics: m, done: make(chan struct{})}
}

// enqueue adds an alert without waiting. When the queue is full the alert
// is dropped for this notifier, logged and counted.
func (q *queue) enqueue(alert *Alert) {
	select {
	case q.alerts <- alert:
	default:
		q.metrics.notifications.WithLabelValues(q.notifier.Name(), "dropped").Inc()
		q.logger.Warn("alert notification dropped: notifier queue is full",
			slog.String("notifier", q.notifier.Name()), slog.String("alert_rule", alert.Data.Rule),
			slog.String("alert_key", alert.Data.Key), slog.Int("queue_size", cap(q.alerts)))
		alert.release()
	}
}

// run sends the queued alerts until the queue is closed and empty. ctx
// bounds each notification.
func (q *queue) run(ctx context.Context) {
	defer close(q.done)
	for alert := range q.alerts {
		if err := q.notifier.Notify(ctx, alert); err != nil {
			// NOTE: the state and the alert CloudEvent are stored before
			// notifying, so a failed notification is not sent again: the
			// rule and key below are what an operator has to look at.
			q.metrics.notifications.WithLabelValues(q.notifier.Name(), "failed").Inc()
			q.logger.Error("alert notification failed", slog.String("notifier", q.notifier.Name()),
				slog.String("alert_rule", alert.Data.Rule), slog.String("alert_key", alert.Data.Key),
				slog.String("alert_id", alert.Event.ID), slog.Any("error", err))
			alert.release()
			continue
		}
		q.metrics.notifications.WithLabelValues(q.notifier.Name(), "sent").Inc()
		alert.release()
	}
}

// LogNotifier writes each alert to a logger: firing alerts at Warn,
// resolved ones at Info. Keys are server compositions and domains, never
// addresses.
type LogNotifier struct {
	Logger *slog.Logger
}

// Name returns "log".
func (LogNotifier) Name() string { return "log" }

// Notify logs the alert.
func (n LogNotifier) Notify(ctx context.Context, alert *Alert) error {
	level := slog.LevelWarn
	message := "alert firing"
	if alert.Data.State == "resolved" {
		level, message = slog.LevelInfo, "alert resolved"
	}
	n.Logger.LogAttrs(ctx, level, message,
		slog.String("alert_rule", alert.Data.Rule),
		slog.String("alert_key", alert.Data.Key),
		slog.String("alert_level", string(alert.Data.Level)),
		slog.String("transition", string(alert.Data.Transition)),
		slog.Float64("value", alert.Data.Value),
		slog.String("window", alert.Data.Window),
		slog.String("summary", alert.Data.Summary),
		slog.String("alert_id", alert.Event.ID))
	return nil
}

// Retry is the retry policy of an HTTP notifier.
type Retry struct {
	// Attempts is the number of tries, the first included. Defaults to 5.
	Attempts int
	// Backoff is the wait before the second try; each later wait doubles,
	// up to MaxBackoff. Defaults to 1s.
	Backoff time.Duration
	// MaxBackoff caps the wait between tries. Defaults to 30s.
	MaxBackoff time.Duration
	// Timeout bounds each try, the response included. Defaults to 10s.
	Timeout time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Backoff <= 0 {
		r.Backoff = time.Second
	}
	if r.MaxBackoff <= 0 {
		r.MaxBackoff = 30 * time.Second
	}
	if r.Timeout <= 0 {
		r.Timeout = 10 * time.Second
	}
	return r
}

// errPermanent marks an HTTP response that another try will not change.
var errPermanent = errors.New("permanent")

// post sends the request that build makes until it succeeds, fails
// permanently, or the tries are used up. It retries on network errors,
// timeouts, 429 and 5xx responses. Other status codes of 300 and above
// are permanent.
func post(ctx context.Context, client *http.Client, retry Retry, build func(ctx context.Context) (*http.Request, error)) error {
	retry = retry.withDefaults()
	if client == nil {
		client = http.DefaultClient
	}
	wait := retry.Backoff
	var lastErr error
	for attempt := 1; attempt <= retry.Attempts; attempt++ {
		if attempt > 1 {
			timer := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				return fmt.Errorf("%w after %d tries: %w (last error: %w)", ErrNotifier, attempt-1, ctx.Err(), lastErr)
			case <-timer.C:
			}
			wait = min(wait*2, retry.MaxBackoff)
		}
		lastErr = postOnce(ctx, client, retry.Timeout, build)
		if lastErr == nil {
			return nil
		}
		if errors.Is(lastErr, errPermanent) {
			return fmt.Errorf("%w: %w", ErrNotifier, lastErr)
		}
	}
	return fmt.Errorf("%w after %d tries: %w", ErrNotifier, retry.Attempts, lastErr)
}

func postOnce(ctx context.Context, client *http.Client, timeout time.Duration, build func(ctx context.Context) (*http.Request, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := build(ctx)
	if err != nil {
		return fmt.Errorf("%w: build request: %w", errPermanent, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, trimBody(body))
	}
	return fmt.Errorf("%w: HTTP %d: %s", errPermanent, resp.StatusCode, trimBody(body))
}

func trimBody(body []byte) string {
	text := string(body)
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return strconv.Quote(text)
}

// queues runs a queue per notifier.
type queues []*queue

func (qs queues) start(ctx context.Context, wg *sync.WaitGroup) {
	for _, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.run(ctx)
		}()
	}
}

// close stops accepting alerts; the goroutines finish the queued ones.
func (qs queues) close() {
	for _, q := range qs {
		close(q.alerts)
	}
}
