package reliability

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
)

// soakGauges are the /metrics gauges a soak samples.
var soakGauges = []string{"go_goroutines", "process_resident_memory_bytes", "process_open_fds"}

// TestSoak runs mailbridge serve at half its measured capacity and checks
// that memory, goroutines and open files stay flat. It runs only when
// MAILBRIDGE_SOAK_DURATION is set, such as 10m; bench/soak.sh sets it.
func TestSoak(t *testing.T) {
	durationText := os.Getenv("MAILBRIDGE_SOAK_DURATION")
	if durationText == "" {
		t.Skip("set MAILBRIDGE_SOAK_DURATION (or run bench/soak.sh) to soak")
	}
	duration, err := time.ParseDuration(durationText)
	if err != nil {
		t.Fatalf("MAILBRIDGE_SOAK_DURATION %q is not a duration such as 10m: %v", durationText, err)
	}
	interval := 10 * time.Second
	if duration < 2*time.Minute {
		interval = duration / 12
	}

	nats := natstest.Start(t)
	EnsureStream(t, nats.JS, 1, 0)
	process := StartProcess(t, mailbridgeBinary(t), "MAILBRIDGE_NATS_URL="+nats.URL())
	ctx, cancel := context.WithTimeout(context.Background(), duration+5*time.Minute)
	defer cancel()

	// Capacity: as fast as 8 posters go, for 10 seconds.
	probe := StartLoad(ctx, LoadConfig{Targets: []string{process.WebhookURL()}, Run: "capacity", Posters: 8, BatchSize: 100, MaxBatches: 1_000_000})
	probeStart := time.Now()
	time.Sleep(10 * time.Second) // the measuring period itself
	probed := probe.Stop()
	capacity := float64(probed.Status[http.StatusOK]) / time.Since(probeStart).Seconds()
	if capacity == 0 {
		t.Fatalf("no webhook got a 200 while measuring capacity (statuses %v)", probed.Status)
	}
	rate := capacity / 2
	t.Logf("capacity %.0f webhooks/s of 100 events; soaking at %.0f/s for %s, sampling every %s", capacity, rate, duration, interval)

	load := StartLoad(ctx, LoadConfig{Targets: []string{process.WebhookURL()}, Run: "soak", Posters: 8, BatchSize: 100, Rate: rate, MaxBatches: 1 << 30})
	var samples []map[string]float64
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	end := time.Now().Add(duration)
	t.Logf("%8s %10s %12s %9s %9s", "elapsed", "goroutines", "rss_mib", "open_fds", "ok")
	for start := time.Now(); time.Now().Before(end); {
		<-ticker.C
		sample, err := scrapeGauges(process.BaseURL() + "/metrics")
		if err != nil {
			t.Fatalf("scrape /metrics: %v", err)
		}
		samples = append(samples, sample)
		t.Logf("%8s %10.0f %12.1f %9.0f %9d", time.Since(start).Round(time.Second), sample["go_goroutines"],
			sample["process_resident_memory_bytes"]/(1<<20), sample["process_open_fds"], load.OK())
	}
	result := load.Stop()
	t.Logf("soak: %d webhooks, statuses %v", result.Requests, result.Status)
	if n := result.Requests - result.Stopped - result.Status[http.StatusOK]; n > 0 {
		t.Errorf("%d webhooks got no 200 at half capacity", n)
	}

	verdicts, flat := flatness(samples)
	for _, v := range verdicts {
		t.Log(v)
	}
	if !flat {
		t.Errorf("verdict: NOT FLAT")
	} else {
		t.Logf("verdict: flat")
	}
}

// flatness compares the median of the first and the last quarter of the
// samples, after the first sample (the warm-up), for each gauge.
func flatness(samples []map[string]float64) ([]string, bool) {
	if len(samples) < 5 {
		return []string{"too few samples for a verdict"}, false
	}
	samples = samples[1:]
	quarter := len(samples) / 4
	if quarter == 0 {
		quarter = 1
	}
	// The growth allowed: a quarter plus a small absolute slack, because
	// goroutines and files count connections in flight at the instant.
	slack := map[string]float64{"go_goroutines": 20, "process_resident_memory_bytes": 16 << 20, "process_open_fds": 10}
	flat := true
	var verdicts []string
	for _, gauge := range soakGauges {
		first := median(samples[:quarter], gauge)
		last := median(samples[len(samples)-quarter:], gauge)
		limit := first*1.25 + slack[gauge]
		ok := last <= limit
		flat = flat && ok
		verdicts = append(verdicts, fmt.Sprintf("%s: first quarter %.0f, last quarter %.0f, limit %.0f, flat %v", gauge, first, last, limit, ok))
	}
	return verdicts, flat
}

func median(samples []map[string]float64, gauge string) float64 {
	values := make([]float64, len(samples))
	for i, s := range samples {
		values[i] = s[gauge]
	}
	sort.Float64s(values)
	return values[len(values)/2]
}

// scrapeGauges reads the soak gauges from a Prometheus text endpoint.
func scrapeGauges(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	out := make(map[string]float64)
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	for scanner.Scan() {
		name, value, ok := strings.Cut(scanner.Text(), " ")
		if !ok {
			continue
		}
		for _, gauge := range soakGauges {
			if name == gauge {
				v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
				if err != nil {
					return nil, fmt.Errorf("%s value %q: %w", gauge, value, err)
				}
				out[gauge] = v
			}
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, err
	}
	for _, gauge := range soakGauges {
		if _, ok := out[gauge]; !ok {
			return nil, fmt.Errorf("gauge %s missing", gauge)
		}
	}
	return out, nil
}
