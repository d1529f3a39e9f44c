package reliability

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/buffer"
)

func TestBufferedOutageLosesNothing(t *testing.T) {
	t.Parallel()
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			nats := natstest.Start(t)
			EnsureStream(t, nats.JS, 1, 0)
			url, startOutage, endOutage := o.setup(t, nats)

			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			buf, err := buffer.Open(ctx, buffer.Config{
				Dir:            t.TempDir(),
				TargetStream:   StreamName,
				ForwardTimeout: time.Second,
				RetryWait:      100 * time.Millisecond,
				Logger:         slog.New(slog.NewTextHandler(t.Output(), nil)),
			})
			if err != nil {
				t.Fatalf("open buffer: %v", err)
			}
			t.Cleanup(func() { buf.Close() })
			bridge := StartBridge(t, BridgeConfig{URLs: url, PublishTimeout: time.Second, Buffer: buf})
			forwardCtx, stopForward := context.WithCancel(ctx)
			forwarded := make(chan error, 1)
			go func() { forwarded <- buf.Forward(forwardCtx, bridge.Conn, bridge.JS) }()
			t.Cleanup(func() {
				stopForward()
				<-forwarded
			})

			load := StartLoad(ctx, LoadConfig{
				Targets:    []string{bridge.WebhookURL()},
				Posters:    4,
				BatchSize:  10,
				MaxBatches: 1_000_000,
			})
			load.WaitOK(t, 50, 30*time.Second)

			// During the outage every webhook still gets a 200.
			startOutage()
			down := time.Now()
			load.WaitOK(t, 50, 30*time.Second)
			time.Sleep(time.Until(down.Add(outageLength()))) // the outage itself, not a wait for a condition
			peak, err := buf.Pending(ctx)
			if err != nil {
				t.Fatalf("buffer pending: %v", err)
			}
			endOutage()
			up := time.Now()
			load.WaitOK(t, 50, 30*time.Second)
			result := load.Stop()

			// The buffer drains into the stream by itself.
			waitFor(t, 60*time.Second, "the buffer to drain", func() bool {
				pending, err := buf.Pending(ctx)
				return err == nil && pending == 0
			})
			drained := time.Since(up)

			counts := StreamCounts(t, nats.JS, StreamName, 30*time.Second)
			missing, duplicates := CheckExactlyOnce(t, counts, result.Acked)
			t.Logf("outage %s with buffer: requests %d, statuses %v, longest 200 %s, %d messages buffered at the end of the outage, drained %s after NATS returned",
				outageLength(), result.Requests, result.Status, result.MaxLatency[http.StatusOK].Round(time.Millisecond),
				peak, drained.Round(time.Millisecond))
			t.Logf("acked events %d, stored %d, missing %d, duplicates %d", len(result.Acked), len(counts), missing, duplicates)

			if peak == 0 {
				t.Errorf("nothing was buffered during the outage")
			}
			if n := result.Requests - result.Stopped - result.Status[http.StatusOK]; n > 0 {
				t.Errorf("%d webhooks got no 200 (statuses %v), want a 200 for each in buffer mode", n, result.Status)
			}
		})
	}
}

func TestBufferSurvivesRestartDuringOutage(t *testing.T) {
	t.Parallel()
	nats := natstest.Start(t)
	EnsureStream(t, nats.JS, 1, 0)
	bin := mailbridgeBinary(t)
	env := []string{
		"MAILBRIDGE_NATS_URL=" + nats.URL(),
		"MAILBRIDGE_PUBLISH_TIMEOUT=1s",
		"MAILBRIDGE_ON_UNAVAILABLE=buffer",
		"MAILBRIDGE_BUFFER_DIR=" + t.TempDir(),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	acked := make(map[string]bool)
	var cutOff []Batch
	collect := func(r LoadResult) {
		for id := range r.Acked {
			acked[id] = true
		}
		cutOff = append(cutOff, r.Failed...)
		if n := r.Status[http.StatusServiceUnavailable]; n > 0 {
			t.Errorf("%d webhooks got a 503 in buffer mode", n)
		}
	}

	// The first process buffers during the outage and is killed.
	first := StartProcess(t, bin, env...)
	load := StartLoad(ctx, LoadConfig{Targets: []string{first.WebhookURL()}, Run: "restart1", Posters: 4, MaxBatches: 100_000})
	load.WaitOK(t, 20, 30*time.Second)
	nats.Shutdown()
	load.WaitOK(t, 40, 30*time.Second)
	first.Kill()
	collect(load.Stop())

	// The second starts while NATS is still down, on the same buffer.
	second := StartProcess(t, bin, env...)
	if left := bufferOpenPending(t, second); left == 0 {
		t.Errorf("the second process found an empty buffer, want the first one's batches")
	}
	load = StartLoad(ctx, LoadConfig{Targets: []string{second.WebhookURL()}, Run: "restart2", Posters: 4, MaxBatches: 100_000})
	load.WaitOK(t, 20, 30*time.Second)
	nats.Restart(t)
	load.WaitOK(t, 20, 30*time.Second)
	collect(load.Stop())

	// The sender retries what the kill cut off.
	retried, err := Retry(ctx, second.WebhookURL(), nil, cutOff, 30*time.Second)
	if err != nil {
		t.Fatalf("retry cut-off batches: %v", err)
	}
	for id := range retried {
		acked[id] = true
	}

	// Everything acked reaches the stream through the forwarder.
	var counts map[string]int
	waitFor(t, 60*time.Second, "every acked event in the stream", func() bool {
		counts = StreamCounts(t, nats.JS, StreamName, 30*time.Second)
		for id := range acked {
			if counts[id] == 0 {
				return false
			}
		}
		return true
	})
	missing, duplicates := CheckExactlyOnce(t, counts, acked)
	t.Logf("restart during outage: acked events %d, cut off batches %d, stored %d, missing %d, duplicates %d",
		len(acked), len(cutOff), len(counts), missing, duplicates)
}

// bufferOpenPending returns the pending count that process logged when it
// opened its buffer.
func bufferOpenPending(tb testing.TB, p *Process) uint64 {
	tb.Helper()
	for _, line := range strings.Split(p.Logs(), "\n") {
		var entry struct {
			Msg     string `json:"msg"`
			Pending uint64 `json:"pending"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "buffer open" {
			return entry.Pending
		}
	}
	tb.Fatalf("process logged no buffer open line:\n%s", p.Logs())
	return 0
}
