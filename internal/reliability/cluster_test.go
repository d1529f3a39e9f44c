package reliability

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"
)

// longTests reports whether the full-length variants run.
func longTests() bool { return os.Getenv("MAILBRIDGE_LONG_TESTS") == "1" }

func TestClusterFailoverKeepsAckedEvents(t *testing.T) {
	t.Parallel()
	cluster := StartCluster(t, 3)
	admin := cluster.Connect(t)
	adminJS := jsFor(t, admin)
	EnsureStream(t, adminJS, 3, 0)

	bridges := []*Bridge{
		StartBridge(t, BridgeConfig{URLs: cluster.URLs()}),
		StartBridge(t, BridgeConfig{URLs: cluster.URLs()}),
	}
	step := 20
	if longTests() {
		step = 200
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	load := StartLoad(ctx, LoadConfig{
		Targets:    []string{bridges[0].WebhookURL(), bridges[1].WebhookURL()},
		Posters:    6,
		BatchSize:  10,
		MaxBatches: 20_000,
		Pause:      100 * time.Millisecond,
	})
	load.WaitOK(t, step, 30*time.Second)

	// Kill the stream leader; a new leader takes over on the other two.
	first := WaitStreamLeader(t, adminJS, StreamName, 30*time.Second)
	killedAt := time.Now()
	cluster.Node(first).Shutdown()
	second := WaitStreamLeader(t, adminJS, StreamName, 60*time.Second, first)
	t.Logf("stream leader %s killed; %s took over after %s", first, second, time.Since(killedAt).Round(time.Millisecond))
	load.WaitOK(t, step, 60*time.Second)

	// Kill another node: one of three is left, no quorum, so the bridge
	// must respond 503 until a node returns.
	cluster.Node(second).Shutdown()
	noQuorumAt := time.Now()
	waitFor(t, 30*time.Second, "a 503 without quorum", func() bool {
		load.mu.Lock()
		defer load.mu.Unlock()
		return load.result.LastFailure.After(noQuorumAt)
	})

	// Restart both; the stream gets a leader again and webhooks succeed.
	cluster.Node(first).Restart(t)
	cluster.Node(second).Restart(t)
	restartedAt := time.Now()
	WaitStreamLeader(t, adminJS, StreamName, 60*time.Second)
	load.WaitOK(t, step, 60*time.Second)
	t.Logf("two nodes restarted; webhooks succeed again after %s", time.Since(restartedAt).Round(time.Millisecond))

	result := load.Stop()

	// A sender that retries its failed batches stores each event once.
	retried, err := Retry(ctx, bridges[0].WebhookURL(), nil, result.Failed, 60*time.Second)
	if err != nil {
		t.Fatalf("retry failed batches: %v", err)
	}

	counts := StreamCounts(t, adminJS, StreamName, 60*time.Second)
	missing, duplicates := CheckExactlyOnce(t, counts, result.Acked)
	missingAfterRetry, _ := CheckExactlyOnce(t, counts, retried)
	t.Logf("requests %d: 200 %d, 503 %d, transport errors %d, stopped %d", result.Requests,
		result.Status[http.StatusOK], result.Status[http.StatusServiceUnavailable], result.Status[0], result.Stopped)
	if !result.FirstFailure.IsZero() {
		t.Logf("non-200 answers from %s after the first kill for %s; longest 503 took %s",
			result.FirstFailure.Sub(killedAt).Round(time.Millisecond),
			result.LastFailure.Sub(result.FirstFailure).Round(time.Millisecond),
			result.MaxLatency[http.StatusServiceUnavailable].Round(time.Millisecond))
	}
	t.Logf("acked events %d, retried %d, stored %d, missing %d (%d after retry), duplicates %d",
		len(result.Acked), len(retried), len(counts), missing, missingAfterRetry, duplicates)
	for i, b := range bridges {
		waitFor(t, 10*time.Second, fmt.Sprintf("bridge %d's pending pub acks to drain", i), func() bool {
			return b.JS.PublishAsyncPending() == 0
		})
	}
	if result.Status[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no webhook got a 503 while the stream had no quorum")
	}
}
