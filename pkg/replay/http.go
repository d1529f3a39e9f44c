package replay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// HTTPConfig configures an HTTPTarget.
type HTTPConfig struct {
	// URL is the endpoint that receives each event as a POST. Required.
	URL string

	// Client sends the requests. Defaults to a client whose Timeout is
	// 10 seconds.
	Client *http.Client

	// Header holds extra request headers, such as Authorization.
	Header http.Header

	// Concurrency is how many requests are in flight at once. Events can
	// arrive out of stream order when it is above 1. Defaults to 4.
	Concurrency int

	// MaxRetries is how many times an event is sent again after a 5xx,
	// 408 or 429 answer, a timeout or a connection error. Defaults to 5;
	// a negative value sends each event once.
	MaxRetries int

	// RetryBackoff is the wait before the first retry. It doubles for
	// each further retry up to 30 seconds, and a Retry-After answer header
	// replaces it. Defaults to 500 milliseconds.
	RetryBackoff time.Duration

	// Logger receives a Warn line per retry. Defaults to discarding.
	Logger *slog.Logger
}

// maxRetryWait caps a retry's wait, whatever Retry-After says.
const maxRetryWait = 30 * time.Second

// HTTPTarget posts each event in the binary content mode of the
// CloudEvents HTTP protocol binding: the attributes in ce- headers and the
// data as the body.
type HTTPTarget struct {
	cfg     HTTPConfig
	items   chan *Item
	tracker *tracker
	wg      sync.WaitGroup

	ctx    context.Context // ends when the target fails or closes
	cancel context.CancelFunc

	mu     sync.Mutex
	failed error
}

// NewHTTPTarget checks cfg and starts the senders.
func NewHTTPTarget(cfg HTTPConfig) (*HTTPTarget, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: target URL %q is not an http:// or https:// URL", ErrInvalidConfig, cfg.URL)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	} else if cfg.MaxRetries < 0 {
		cfg.MaxRetries = 0
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	t := &HTTPTarget{cfg: cfg, items: make(chan *Item, cfg.Concurrency), tracker: newTracker()}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for range cfg.Concurrency {
		t.wg.Add(1)
		go t.sendLoop()
	}
	return t, nil
}

// Send queues the event for the next free sender.
func (t *HTTPTarget) Send(ctx context.Context, item *Item) error {
	if err := t.err(); err != nil {
		return err
	}
	t.tracker.start(item.Sequence)
	select {
	case t.items <- item:
		return nil
	case <-t.ctx.Done():
		return t.err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close waits for the events in flight. When ctx ends first, the requests
// in flight are cancelled.
func (t *HTTPTarget) Close(ctx context.Context) error {
	close(t.items)
	done := make(chan struct{})
	go func() {
		t.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.cancel()
		<-done
	}
	t.cancel()
	return t.err()
}

// Delivered returns the sequence up to which every event was answered 2xx.
func (t *HTTPTarget) Delivered() uint64 { return t.tracker.last() }

func (t *HTTPTarget) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

// fail records err and stops the senders. Of several event failures it
// keeps the one of the lowest stream sequence, where a resumed run starts.
func (t *HTTPTarget) fail(err error) {
	t.mu.Lock()
	var recorded, incoming *TargetError
	switch {
	case t.failed == nil:
		t.failed = err
	case errors.As(err, &incoming) && (!errors.As(t.failed, &recorded) || incoming.Sequence < recorded.Sequence):
		t.failed = err
	}
	t.mu.Unlock()
	t.cancel()
}

func (t *HTTPTarget) sendLoop() {
	defer t.wg.Done()
	for item := range t.items {
		if t.ctx.Err() != nil {
			continue // drain the queue after a failure
		}
		if err := t.deliver(item); err != nil {
			t.fail(err)
			continue
		}
		t.tracker.finish(item.Sequence)
	}
}

// deliver posts one event, retrying what may succeed later.
func (t *HTTPTarget) deliver(item *Item) error {
	backoff := t.cfg.RetryBackoff
	for attempt := 0; ; attempt++ {
		status, detail, retryAfter, err := t.post(item)
		if err != nil && t.ctx.Err() != nil {
			return t.ctx.Err()
		}
		switch {
		case err == nil && status >= 200 && status < 300:
			return nil
		case err == nil && status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
			return t.targetError(item, ErrTargetRejected, detail)
		case err != nil:
			detail = err.Error()
		}
		if attempt >= t.cfg.MaxRetries {
			return t.targetError(item, ErrTargetUnavailable,
				fmt.Sprintf("%s (after %d attempts)", detail, attempt+1))
		}

		wait := backoff
		if retryAfter > 0 {
			wait = retryAfter
		}
		// Jitter spreads the retries of concurrent senders.
		wait = min(wait+rand.N(wait/4+1), maxRetryWait)
		t.cfg.Logger.LogAttrs(t.ctx, slog.LevelWarn, "replay target failed, retrying",
			slog.String("event_id", item.Event.ID), slog.Uint64("stream_sequence", item.Sequence),
			slog.Int("attempt", attempt+1), slog.String("detail", detail), slog.Duration("wait", wait))
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-t.ctx.Done():
			timer.Stop()
			return t.ctx.Err()
		}
		backoff = min(backoff*2, maxRetryWait)
	}
}

// post sends one request. It returns the status and a detail for errors:
// the status text and up to 512 bytes of the answer.
func (t *HTTPTarget) post(item *Item) (status int, detail string, retryAfter time.Duration, err error) {
	req, err := http.NewRequestWithContext(t.ctx, http.MethodPost, t.cfg.URL, bytes.NewReader(item.Event.Data))
	if err != nil {
		return 0, "", 0, fmt.Errorf("build request: %w", err)
	}
	for name, values := range t.cfg.Header {
		req.Header[name] = values
	}
	mailevent.SetHTTPBinary(req.Header, &item.Event)

	resp, err := t.cfg.Client.Do(req)
	if err != nil {
		return 0, "", 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))

	detail = "HTTP " + resp.Status
	if text := strings.TrimSpace(string(body)); text != "" {
		detail += ": " + text
	}
	if seconds, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && seconds > 0 {
		retryAfter = time.Duration(seconds) * time.Second
	}
	return resp.StatusCode, detail, retryAfter, nil
}

func (t *HTTPTarget) targetError(item *Item, kind error, detail string) error {
	return &TargetError{
		Sequence: item.Sequence,
		EventID:  item.Event.ID,
		Event:    mailevent.AppendStructured(nil, &item.Event),
		Detail:   detail,
		Err:      kind,
	}
}
