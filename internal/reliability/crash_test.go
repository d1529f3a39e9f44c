package reliability

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
)

func TestBridgeKilledMidBatchLosesNothing(t *testing.T) {
	t.Parallel()
	nats := natstest.Start(t)
	EnsureStream(t, nats.JS, 1, 0)
	bin := mailbridgeBinary(t)
	env := []string{"MAILBRIDGE_NATS_URL=" + nats.URL(), "MAILBRIDGE_PUBLISH_TIMEOUT=2s"}

	kills := 3
	if longTests() {
		kills = 20
	}
	acked := make(map[string]bool)
	var interrupted []Batch
	var process *Process
	for round := range kills + 1 {
		process = StartProcess(t, bin, env...)
		if round == kills {
			break
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		load := StartLoad(ctx, LoadConfig{
			Targets:    []string{process.WebhookURL()},
			Run:        "crash" + string(rune('a'+round)),
			Posters:    8,
			BatchSize:  50,
			MaxBatches: 100_000,
		})
		load.WaitOK(t, 20, 30*time.Second)

		// SIGKILL while webhooks are in flight.
		process.Kill()
		result := load.Stop()
		cancel()
		for id := range result.Acked {
			acked[id] = true
		}
		interrupted = append(interrupted, result.Failed...)
		t.Logf("kill %d: %d webhooks got a 200, %d were cut off (status: %v)", round+1,
			result.Status[http.StatusOK], len(result.Failed), result.Status)
	}
	if len(interrupted) == 0 {
		t.Fatalf("no webhook was in flight at any of %d kills", kills)
	}

	// Some events of the interrupted batches may be stored already; the
	// retry must not store them again.
	before := StreamCounts(t, nats.JS, StreamName, 30*time.Second)
	storedEarly := 0
	for _, batch := range interrupted {
		for _, id := range batch.IDs {
			if before[id] > 0 {
				storedEarly++
			}
		}
	}

	// The sender retries the interrupted batches on a new process.
	retryCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	retried, err := Retry(retryCtx, process.WebhookURL(), nil, interrupted, 30*time.Second)
	if err != nil {
		t.Fatalf("retry interrupted batches: %v", err)
	}

	counts := StreamCounts(t, nats.JS, StreamName, 30*time.Second)
	missing, duplicates := CheckExactlyOnce(t, counts, acked)
	missingRetried, _ := CheckExactlyOnce(t, counts, retried)
	t.Logf("%d kills: acked events %d, interrupted batches %d (%d events, %d of them stored before the retry), stored %d, missing %d (%d of the retried), duplicates %d",
		kills, len(acked), len(interrupted), len(retried), storedEarly, len(counts), missing, missingRetried, duplicates)
}
