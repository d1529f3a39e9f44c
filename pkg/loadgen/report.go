package loadgen

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Report is the outcome of a Run.
type Report struct {
	Concurrency int
	BatchSize   int
	Encoding    Encoding
	Rate        float64

	// Elapsed runs from the first request to the last response.
	Elapsed time.Duration

	// Requests counts every request sent, with or without a response; Events counts
	// their records.
	Requests int
	Events   int

	// Accepted, Duplicates and Rejected add up the bridge's 200 responses.
	Accepted   int
	Duplicates int
	Rejected   int

	// Errors counts the requests that did not get a 200, by status code,
	// or "request failed" for those that got no answer.
	Errors map[string]int

	// Reconnects counts the connections the lean client opened after each
	// worker's first one, because the server closed one or a request
	// failed. Retries counts the requests it sent a second time, on a new
	// connection, after a kept-alive connection failed before any byte of
	// the response. Both stay 0 with a net/http Client, which does not
	// report them.
	Reconnects int
	Retries    int

	// Latency percentiles of the answered requests.
	P50, P90, P99, Max time.Duration

	// PeakMemoryBytes is the bridge's largest resident memory seen, or 0
	// when it was not sampled. MemoryErr is the last sampling error.
	PeakMemoryBytes uint64
	MemoryErr       error

	// BridgeCPU is the CPU time the bridge used during the run, or 0 when
	// it was not read.
	BridgeCPU time.Duration

	// StreamChecked is set when the stream was counted before and after.
	StreamChecked bool
	StreamBefore  uint64
	StreamAfter   uint64
}

func mergeStats(cfg Config, began time.Time, stats []*workerStats) *Report {
	r := &Report{
		Concurrency: cfg.Concurrency,
		BatchSize:   cfg.BatchSize,
		Encoding:    cfg.Encoding,
		Rate:        cfg.Rate,
		Errors:      map[string]int{},
	}
	var latencies []time.Duration
	last := began
	for _, st := range stats {
		r.Requests += st.requests
		r.Events += st.events
		r.Accepted += st.accepted
		r.Duplicates += st.duplicates
		r.Rejected += st.rejected
		r.Reconnects += st.reconnects
		r.Retries += st.retries
		for status, n := range st.errors {
			r.Errors[status] += n
		}
		latencies = append(latencies, st.latencies...)
		if st.lastDone.After(last) {
			last = st.lastDone
		}
	}
	r.Elapsed = last.Sub(began)

	slices.Sort(latencies)
	r.P50 = percentile(latencies, 50)
	r.P90 = percentile(latencies, 90)
	r.P99 = percentile(latencies, 99)
	if len(latencies) > 0 {
		r.Max = latencies[len(latencies)-1]
	}
	return r
}

// percentile returns the nearest-rank percentile p of sorted values.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (p*len(sorted) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// ErrorCount returns the number of requests that did not get a 200.
func (r *Report) ErrorCount() int {
	n := 0
	for _, count := range r.Errors {
		n += count
	}
	return n
}

// EventsPerSecond returns the events the bridge accepted per second.
func (r *Report) EventsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Accepted) / r.Elapsed.Seconds()
}

// RequestsPerSecond returns the requests answered 200 per second.
func (r *Report) RequestsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests-r.ErrorCount()) / r.Elapsed.Seconds()
}

// StreamGained returns how many events the stream gained during the run.
func (r *Report) StreamGained() uint64 {
	return r.StreamAfter - r.StreamBefore
}

// StreamMatches reports whether the stream gained exactly the accepted
// events. It is false when the stream was not checked.
func (r *Report) StreamMatches() bool {
	return r.StreamChecked && r.StreamAfter >= r.StreamBefore && r.StreamGained() == uint64(r.Accepted)
}

// Write prints the report as aligned "name: value" lines.
func (r *Report) Write(w io.Writer) error {
	rate := "unlimited"
	if r.Rate > 0 {
		rate = fmt.Sprintf("%.0f req/s", r.Rate)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "concurrency:      %d\n", r.Concurrency)
	fmt.Fprintf(&b, "batch size:       %d (%s)\n", r.BatchSize, r.Encoding)
	fmt.Fprintf(&b, "rate:             %s\n", rate)
	fmt.Fprintf(&b, "elapsed:          %s\n", r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "requests:         %d\n", r.Requests)
	fmt.Fprintf(&b, "events accepted:  %d (duplicates %d, rejected %d)\n", r.Accepted, r.Duplicates, r.Rejected)
	fmt.Fprintf(&b, "events/s:         %.0f\n", r.EventsPerSecond())
	fmt.Fprintf(&b, "requests/s:       %.0f\n", r.RequestsPerSecond())
	fmt.Fprintf(&b, "latency:          p50 %s  p90 %s  p99 %s  max %s\n",
		roundLatency(r.P50), roundLatency(r.P90), roundLatency(r.P99), roundLatency(r.Max))

	fmt.Fprintf(&b, "errors:           %d", r.ErrorCount())
	statuses := make([]string, 0, len(r.Errors))
	for status := range r.Errors {
		statuses = append(statuses, status)
	}
	slices.Sort(statuses)
	for _, status := range statuses {
		fmt.Fprintf(&b, "  [%s: %d]", status, r.Errors[status])
	}
	b.WriteString("\n")
	if r.Reconnects > 0 || r.Retries > 0 {
		fmt.Fprintf(&b, "reconnects:       %d (%d requests sent again after a kept-alive connection closed)\n", r.Reconnects, r.Retries)
	}

	switch {
	case r.PeakMemoryBytes > 0:
		fmt.Fprintf(&b, "bridge peak RSS:  %.1f MiB\n", float64(r.PeakMemoryBytes)/(1<<20))
	case r.MemoryErr != nil:
		fmt.Fprintf(&b, "bridge peak RSS:  unknown (%v)\n", r.MemoryErr)
	}
	if r.BridgeCPU > 0 && r.Accepted > 0 {
		fmt.Fprintf(&b, "bridge CPU:       %.1f µs/event (%.2f cores)\n",
			float64(r.BridgeCPU.Microseconds())/float64(r.Accepted), r.BridgeCPU.Seconds()/r.Elapsed.Seconds())
	}
	if r.StreamChecked {
		verdict := "matches"
		if !r.StreamMatches() {
			verdict = "MISMATCH"
		}
		fmt.Fprintf(&b, "stream:           %d -> %d, gained %d for %d accepted: %s\n",
			r.StreamBefore, r.StreamAfter, int64(r.StreamAfter)-int64(r.StreamBefore), r.Accepted, verdict)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func roundLatency(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(10 * time.Microsecond)
}
