package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Config configures a Run.
type Config struct {
	// URL is the webhook URL, such as http://127.0.0.1:8080/webhooks/cmc.
	// Required.
	URL string

	// AllowRemote lets URL point at a host that is not loopback.
	AllowRemote bool

	// Concurrency is the number of requests in flight at once, each on its
	// own keep-alive connection. Defaults to 8.
	Concurrency int

	// BatchSize is the number of records per request. Defaults to 100.
	BatchSize int

	// Encoding is the body encoding. Defaults to EncodingJSON.
	Encoding Encoding

	// Count is the number of requests to send. Zero sends until Duration
	// ends.
	Count int

	// Duration bounds the run. When Count is set too, the run ends at
	// whichever comes first. When only Count is set, Duration defaults to
	// 10 minutes, so that a stalled bridge cannot hold the run forever.
	Duration time.Duration

	// Rate is the number of requests started per second, spread evenly.
	// Latency is then measured from each request's scheduled start, so
	// that a stalled bridge shows in the percentiles. Zero sends as fast
	// as Concurrency allows.
	Rate float64

	// RequestTimeout bounds one request. Defaults to 30s.
	RequestTimeout time.Duration

	// Memory samples the bridge's memory during the run. Nil reports no
	// memory.
	Memory MemoryProbe

	// MemoryInterval is how often Memory is sampled. Defaults to 250ms.
	MemoryInterval time.Duration

	// Counter counts the stream's events before and after the run. Nil
	// skips the check.
	Counter Counter

	// CPU reads the bridge's CPU time before and after the run, which
	// shows the cost per event even when other processes share the
	// machine. Nil reports none.
	CPU CPUProbe

	// RunID goes into every message id. Defaults to 8 random hex digits.
	RunID string

	// Seed makes the generated records repeatable. Defaults to 1.
	Seed uint64

	// Client, when set, sends the requests through net/http. When nil,
	// plain http:// URLs go through the package's lean HTTP/1.1 client,
	// which spends less CPU per request on the machine under test, and
	// other URLs through NewHTTPClient.
	Client *http.Client
}

// CPUProbe returns the CPU time a process has used so far.
type CPUProbe interface {
	ReadCPU() (time.Duration, error)
}

// Counter returns the number of events a stream holds.
type Counter interface {
	Count(ctx context.Context) (uint64, error)
}

func (c Config) withDefaults() (Config, error) {
	if c.URL == "" {
		return c, errors.New("loadgen: URL is required")
	}
	if !c.AllowRemote {
		if err := CheckLoopback(c.URL); err != nil {
			return c, err
		}
	}
	if c.Count <= 0 && c.Duration <= 0 {
		return c, fmt.Errorf("%w: set a request count, a duration or both", ErrUnbounded)
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Minute
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 100
	}
	if c.Encoding == "" {
		c.Encoding = EncodingJSON
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.MemoryInterval <= 0 {
		c.MemoryInterval = 250 * time.Millisecond
	}
	if c.RunID == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return c, fmt.Errorf("run id: %w", err)
		}
		c.RunID = hex.EncodeToString(b[:])
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.Client == nil && !leanClientServes(c.URL) {
		c.Client = NewHTTPClient(c.Concurrency, c.RequestTimeout)
	}
	return c, nil
}

// leanClientServes reports whether the lean client can send to rawURL: a
// plain http:// URL without user information.
func leanClientServes(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Scheme == "http" && u.User == nil && u.Host != ""
}

// NewHTTPClient returns the net/http client Run uses when the lean client
// cannot serve the URL: one idle keep-alive connection per concurrent
// request, no compression, and timeout for each request.
func NewHTTPClient(concurrency int, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			MaxIdleConns:        concurrency,
			MaxIdleConnsPerHost: concurrency,
			MaxConnsPerHost:     concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
	}
}

// workerStats are the counts of one worker, which Run merges into the
// Report.
type workerStats struct {
	latencies  []time.Duration
	requests   int
	events     int
	accepted   int
	duplicates int
	rejected   int
	errors     map[string]int
	lastDone   time.Time
	// reconnects and retries are counted by the lean client only.
	reconnects int
	retries    int
}

// Run sends webhooks to cfg.URL until cfg.Count requests are sent or
// cfg.Duration ends, whichever comes first, then waits for the requests
// in flight. Ending ctx stops the run early. The returned error is for a
// run that could not start or a stream check that could not be made;
// failed requests are counted in Report.Errors.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}

	stats := make([]*workerStats, cfg.Concurrency)
	workers := make([]*worker, cfg.Concurrency)
	for i := range workers {
		stats[i] = &workerStats{errors: map[string]int{}}
		workers[i] = &worker{cfg: cfg, gen: NewGenerator(cfg.RunID, i, cfg.Seed), stats: stats[i]}
		if cfg.Client == nil {
			if workers[i].lean, err = newLeanClient(cfg.URL, cfg.Encoding.ContentType(), cfg.RequestTimeout); err != nil {
				return nil, err
			}
		}
	}

	var before uint64
	if cfg.Counter != nil {
		if before, err = cfg.Counter.Count(ctx); err != nil {
			return nil, fmt.Errorf("count stream before the run: %w", err)
		}
	}

	var cpuBefore time.Duration
	if cfg.CPU != nil {
		if cpuBefore, err = cfg.CPU.ReadCPU(); err != nil {
			return nil, fmt.Errorf("read the bridge's CPU time: %w", err)
		}
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()

	// Sample memory until the requests are done.
	var sampler *memorySampler
	if cfg.Memory != nil {
		sampler = startMemorySampler(cfg.Memory, cfg.MemoryInterval)
	}

	// The dispatcher hands each worker the scheduled start of its next
	// request, and closes the channel at the end of the run.
	starts := make(chan time.Time, cfg.Concurrency)
	began := time.Now()
	go dispatch(runCtx, cfg, began, starts)

	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, starts)
		}()
	}
	wg.Wait()

	report := mergeStats(cfg, began, stats)
	if cfg.CPU != nil {
		cpuAfter, err := cfg.CPU.ReadCPU()
		if err != nil {
			return report, fmt.Errorf("read the bridge's CPU time: %w", err)
		}
		report.BridgeCPU = cpuAfter - cpuBefore
	}
	if sampler != nil {
		report.PeakMemoryBytes, report.MemoryErr = sampler.stop()
	}

	if cfg.Counter != nil {
		after, err := cfg.Counter.Count(ctx)
		if err != nil {
			return report, fmt.Errorf("count stream after the run: %w", err)
		}
		report.StreamChecked = true
		report.StreamBefore, report.StreamAfter = before, after
	}
	return report, nil
}

// dispatch sends scheduled start times until the count is reached or ctx
// ends. Without a rate the start is the zero time: send at once.
func dispatch(ctx context.Context, cfg Config, began time.Time, starts chan<- time.Time) {
	defer close(starts)
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()

	for i := 0; cfg.Count <= 0 || i < cfg.Count; i++ {
		var at time.Time
		if interval > 0 {
			at = began.Add(time.Duration(i) * interval)
			if wait := time.Until(at); wait > 0 {
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return
				}
			}
		}
		select {
		case starts <- at:
		case <-ctx.Done():
			return
		}
	}
}

// worker sends requests one at a time and counts their outcomes.
type worker struct {
	cfg   Config
	gen   *Generator
	stats *workerStats
	// lean sends the requests when cfg.Client is nil.
	lean *leanClient
	// body is reused for every request sent by lean.
	body []byte
}

// run sends one request per start time it receives.
func (w *worker) run(ctx context.Context, starts <-chan time.Time) {
	if w.lean != nil {
		defer func() {
			w.lean.close()
			w.stats.reconnects = max(w.lean.dials-1, 0)
			w.stats.retries = w.lean.retries
		}()
	}
	st := w.stats
	for scheduled := range starts {
		body := w.nextBody()
		start := time.Now()
		if !scheduled.IsZero() {
			start = scheduled
		}

		status, result, err := w.post(ctx, body)
		done := time.Now()
		st.requests++
		st.events += w.cfg.BatchSize
		st.lastDone = done
		if err != nil {
			st.errors["request failed"]++
			continue
		}
		st.latencies = append(st.latencies, done.Sub(start))
		if status != http.StatusOK {
			st.errors[strconv.Itoa(status)]++
			continue
		}
		st.accepted += result.Accepted
		st.duplicates += result.Duplicates
		st.rejected += result.Rejected
	}
}

// nextBody generates the next request body. The lean client is done with
// a body when post returns, so its worker reuses one buffer. net/http may
// still read a request body after Client.Do returns, so every request it
// sends gets a new one.
func (w *worker) nextBody() []byte {
	if w.lean == nil {
		return w.gen.Batch(w.cfg.BatchSize, w.cfg.Encoding)
	}
	w.body = w.gen.AppendBatch(w.body[:0], w.cfg.BatchSize, w.cfg.Encoding)
	return w.body
}

func (w *worker) post(ctx context.Context, body []byte) (int, webhookResult, error) {
	if w.lean != nil {
		return w.lean.post(ctx, body)
	}
	return postNetHTTP(ctx, w.cfg.Client, w.cfg.URL, w.cfg.Encoding.ContentType(), body)
}

// postNetHTTP sends one body through client and reads the whole response,
// so that the connection can be reused.
func postNetHTTP(ctx context.Context, client *http.Client, url, contentType string, body []byte) (int, webhookResult, error) {
	var result webhookResult
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, result, err
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := client.Do(req)
	if err != nil {
		return 0, result, err
	}
	defer resp.Body.Close()
	content, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		return 0, result, err
	}
	if resp.StatusCode == http.StatusOK {
		if result, err = parseWebhookResult(content); err != nil {
			return 0, result, fmt.Errorf("200 response body is not a webhook result: %w", err)
		}
	}
	return resp.StatusCode, result, nil
}
