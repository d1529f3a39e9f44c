package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Batch is one webhook body and the ids of the events it carries.
type Batch struct {
	Seq  int
	Body []byte
	IDs  []string
}

// NewBatch builds a CMC webhook body with size records. Records are unique
// per (run, seq, index), so different runs never share an event id. Even
// seq gives a deliveries batch with every status, odd seq a bounces batch.
func NewBatch(run string, seq, size int) Batch {
	eventType := cmc.EventTypeDeliveries
	if seq%2 == 1 {
		eventType = cmc.EventTypeBounces
	}
	statuses := []string{"queued", "succeeded", "failed", "deferred"}
	bounceCodes := []string{"1", "2", "3", "5", "10", "99"}
	created := time.Date(2024, 4, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Second)

	records := make([]map[string]string, size)
	ids := make([]string, size)
	for i := range records {
		record := map[string]string{
			"created":    created.Format(time.DateTime),
			"returnPath": "info@return.pro.smtps.jp",
			"from":       "info@example.com",
			// 25 batches share each address, so that a burst gives an
			// address a few events, as real mail does, not hundreds.
			"to":        fmt.Sprintf("user%d-%d@example.jp", seq%25, i),
			"messageId": fmt.Sprintf("<%s-%d-%d@example.com>", run, seq, i),
			"subject":   "reliability test",
			"reason":    "550 5.1.1 <user@example.jp>: Recipient address rejected: User unknown",
		}
		if eventType == cmc.EventTypeDeliveries {
			record["status"] = statuses[i%len(statuses)]
			record["senderIp"] = "192.0.2.10"
		} else {
			record["status"] = bounceCodes[i%len(bounceCodes)]
		}
		records[i] = record

		raw, err := json.Marshal(record)
		if err != nil {
			panic(err) // a map of strings always marshals
		}
		entry, err := cmc.ParseEntry(raw)
		if err != nil {
			panic(fmt.Sprintf("reliability: generated record does not parse: %v", err))
		}
		ids[i] = mailevent.EventID(eventType, "pro", &entry)
	}

	body, err := json.Marshal(map[string]any{
		"event_type":         string(eventType),
		"server_composition": "pro",
		"event":              map[string]any{string(eventType): records},
	})
	if err != nil {
		panic(err)
	}
	return Batch{Seq: seq, Body: body, IDs: ids}
}

// LoadConfig configures a load loop.
type LoadConfig struct {
	// Targets are the webhook URLs; poster i posts to Targets[i%len].
	Targets []string

	// Run makes the events of this load unique. Defaults to the start
	// time in nanoseconds.
	Run string

	// Posters is the number of concurrent posters. Defaults to 4.
	Posters int

	// BatchSize is the number of records per webhook. Defaults to 20.
	BatchSize int

	// MaxBatches bounds the whole load. Defaults to 1000.
	MaxBatches int

	// RequestTimeout is the HTTP client's timeout. Defaults to 30s.
	RequestTimeout time.Duration

	// Header is added to every request, such as Authorization.
	Header http.Header

	// Rate, when positive, bounds the webhooks started per second across
	// all posters. Zero posts as fast as the posters can.
	Rate float64

	// Pause is the time a poster waits after a response other than 200,
	// so that an outage is not a busy loop. Defaults to 20ms.
	Pause time.Duration
}

// Load is a running load loop.
type Load struct {
	cfg    LoadConfig
	cancel context.CancelFunc
	done   chan struct{}
	next   atomic.Int64
	ok     atomic.Int64

	mu     sync.Mutex
	result LoadResult
}

// LoadResult is the record of a load loop.
type LoadResult struct {
	// Acked are the ids of the events whose webhook got a 200.
	Acked map[string]bool
	// Failed are the batches that got anything but a 200, including
	// transport errors.
	Failed []Batch
	// Status counts responses by HTTP status; 0 counts transport errors.
	Status map[int]int
	// FirstFailure and LastFailure bound the time in which responses other
	// than 200 came, and both are zero when there were none.
	FirstFailure, LastFailure time.Time
	// MaxLatency is the longest time any request took, by status.
	MaxLatency map[int]time.Duration
	Requests   int
	// Stopped counts the requests cut short by Stop or by ctx; they are
	// in Failed too.
	Stopped int
}

// StartLoad starts the posters. They stop after MaxBatches batches, when
// ctx ends, or on Stop.
func StartLoad(ctx context.Context, cfg LoadConfig) *Load {
	if cfg.Run == "" {
		cfg.Run = fmt.Sprint(time.Now().UnixNano())
	}
	if cfg.Posters <= 0 {
		cfg.Posters = 4
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 20
	}
	if cfg.MaxBatches <= 0 {
		cfg.MaxBatches = 1000
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.Pause <= 0 {
		cfg.Pause = 20 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{
		cfg:    cfg,
		cancel: cancel,
		done:   make(chan struct{}),
		result: LoadResult{
			Acked:      make(map[string]bool),
			Status:     make(map[int]int),
			MaxLatency: make(map[int]time.Duration),
		},
	}
	client := &http.Client{Timeout: cfg.RequestTimeout}
	var tokens <-chan time.Time
	if cfg.Rate > 0 {
		ticker := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
		go func() {
			<-l.done
			ticker.Stop()
		}()
		tokens = ticker.C
	}
	var wg sync.WaitGroup
	for poster := range cfg.Posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := cfg.Targets[poster%len(cfg.Targets)]
			for ctx.Err() == nil {
				if tokens != nil {
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					}
				}
				seq := int(l.next.Add(1)) - 1
				if seq >= cfg.MaxBatches {
					return
				}
				batch := NewBatch(cfg.Run, seq, cfg.BatchSize)
				status, latency := post(ctx, client, target, cfg.Header, batch.Body)
				if ctx.Err() != nil && status != http.StatusOK {
					// Stopped in the middle: the batch is neither acked
					// nor a failure the bridge caused.
					l.record(batch, -1, latency)

					return
				}
				l.record(batch, status, latency)
				if status != http.StatusOK {
					select {
					case <-ctx.Done():
					case <-time.After(cfg.Pause):
					}
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		close(l.done)
	}()
	return l
}

// post sends one webhook and returns its status, 0 for a transport error.
func post(ctx context.Context, client *http.Client, target string, header http.Header, body []byte) (int, time.Duration) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, 0
	}
	req.Header.Set("Content-Type", "application/json")
	for name, values := range header {
		req.Header[name] = values
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, time.Since(start)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start)
}

func (l *Load) record(batch Batch, status int, latency time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := &l.result
	r.Requests++
	if status < 0 {
		r.Stopped++
		r.Failed = append(r.Failed, batch)
		return
	}
	r.Status[status]++
	if latency > r.MaxLatency[status] {
		r.MaxLatency[status] = latency
	}
	if status == http.StatusOK {
		for _, id := range batch.IDs {
			r.Acked[id] = true
		}
		l.ok.Add(1)
		return
	}
	r.Failed = append(r.Failed, batch)
	now := time.Now()
	if r.FirstFailure.IsZero() {
		r.FirstFailure = now
	}
	r.LastFailure = now
}

// OK returns how many webhooks got a 200 so far.
func (l *Load) OK() int { return int(l.ok.Load()) }

// Sent returns how many batches were taken so far.
func (l *Load) Sent() int { return min(int(l.next.Load()), l.cfg.MaxBatches) }

// Done is closed when every poster has stopped.
func (l *Load) Done() <-chan struct{} { return l.done }

// Stop stops the posters, waits for them and returns what they saw.
func (l *Load) Stop() LoadResult {
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.result
}

// WaitOK waits until count more webhooks than now got a 200, and fails
// the test when timeout passes first.
func (l *Load) WaitOK(tb testing.TB, count int, timeout time.Duration) {
	tb.Helper()
	target := l.OK() + count
	deadline := time.Now().Add(timeout)
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for l.OK() < target {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %d more webhooks to get a 200 (%d so far)", timeout, count, l.OK())
		}
		select {
		case <-l.done:
			if l.OK() < target {
				tb.Fatalf("load ended after %d batches before %d more webhooks got a 200", l.Sent(), count)
			}
		case <-ticker.C:
		}
	}
}

// Retry posts each batch to target until it gets a 200 or timeout passes,
// and returns the ids of the events now acknowledged.
func Retry(ctx context.Context, target string, header http.Header, batches []Batch, timeout time.Duration) (map[string]bool, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	acked := make(map[string]bool)
	deadline := time.Now().Add(timeout)
	for _, batch := range batches {
		for {
			status, _ := post(ctx, client, target, header, batch.Body)
			if status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return acked, fmt.Errorf("retry of batch %d: status %d after %s", batch.Seq, status, timeout)
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
		for _, id := range batch.IDs {
			acked[id] = true
		}
	}
	return acked, nil
}
