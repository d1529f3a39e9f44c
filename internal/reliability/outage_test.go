package reliability

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
)

// outageLength is how long the outage tests hold NATS down: 60 seconds in
// the long variant, 5 in the default one.
func outageLength() time.Duration {
	if longTests() {
		return 60 * time.Second
	}
	return 5 * time.Second
}

// outage makes NATS unreachable for a bridge and brings it back.
type outage struct {
	name string
	// setup returns the URL the bridge connects to, and functions that
	// start and end the outage.
	setup func(t *testing.T, nats *natstest.Server) (url string, start, end func())
}

var outages = []outage{
	{
		name: "server stopped",
		setup: func(t *testing.T, nats *natstest.Server) (string, func(), func()) {
			return nats.URL(), nats.Shutdown, func() { nats.Restart(t) }
		},
	},
	{
		name: "network cut",
		setup: func(t *testing.T, nats *natstest.Server) (string, func(), func()) {
			proxy := StartProxy(t, nats.Server.Addr().String())
			return proxy.URL(), proxy.Cut, proxy.Heal
		},
	},
}

func TestOutageAnswers503AndRecovers(t *testing.T) {
	t.Parallel()
	for _, o := range outages {
		t.Run(o.name, func(t *testing.T) {
			t.Parallel()
			nats := natstest.Start(t)
			EnsureStream(t, nats.JS, 1, 0)
			url, startOutage, endOutage := o.setup(t, nats)
			publishTimeout := time.Second
			bridge := StartBridge(t, BridgeConfig{URLs: url, PublishTimeout: publishTimeout})

			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			load := StartLoad(ctx, LoadConfig{
				Targets:    []string{bridge.WebhookURL()},
				Posters:    4,
				BatchSize:  10,
				MaxBatches: 1_000_000,
			})
			load.WaitOK(t, 50, 30*time.Second)

			// Hold NATS down under load.
			startOutage()
			down := time.Now()
			okBefore := load.OK()
			waitFor(t, 10*time.Second, "a 503 during the outage", func() bool {
				load.mu.Lock()
				defer load.mu.Unlock()
				return load.result.LastFailure.After(down)
			})
			time.Sleep(time.Until(down.Add(outageLength()))) // the outage itself, not a wait for a condition
			okDuring := load.OK() - okBefore

			endOutage()
			up := time.Now()
			load.WaitOK(t, 50, 30*time.Second)
			recovery := time.Since(up)
			result := load.Stop()

			// Every 200 stands for stored events; a retry of the rest
			// stores them once.
			retried, err := Retry(ctx, bridge.WebhookURL(), nil, result.Failed, 30*time.Second)
			if err != nil {
				t.Fatalf("retry failed batches: %v", err)
			}
			counts := StreamCounts(t, nats.JS, StreamName, 30*time.Second)
			missing, duplicates := CheckExactlyOnce(t, counts, result.Acked)
			CheckExactlyOnce(t, counts, retried)

			t.Logf("outage %s: requests %d, 200 %d (%d during the outage), 503 %d, transport errors %d, longest 503 %s, recovered %s after NATS returned",
				outageLength(), result.Requests, result.Status[http.StatusOK], okDuring,
				result.Status[http.StatusServiceUnavailable], result.Status[0],
				result.MaxLatency[http.StatusServiceUnavailable].Round(time.Millisecond), recovery.Round(time.Millisecond))
			t.Logf("acked events %d, stored %d, missing %d, duplicates %d", len(result.Acked), len(counts), missing, duplicates)

			if limit := publishTimeout + 500*time.Millisecond; result.MaxLatency[http.StatusServiceUnavailable] > limit {
				t.Errorf("longest 503 took %s, want at most the publish timeout plus a margin, %s",
					result.MaxLatency[http.StatusServiceUnavailable], limit)
			}
			if result.Status[0] > 0 {
				t.Errorf("%d requests ended in transport errors, want an HTTP answer for each", result.Status[0])
			}
			if okDuring > 4 {
				// Up to one batch per poster may have been stored just
				// before the outage began.
				t.Errorf("%d webhooks got a 200 while NATS was down, want at most the 4 in flight", okDuring)
			}
			waitFor(t, 2*publishTimeout+5*time.Second, "the bridge's pending pub acks to drain", func() bool {
				return bridge.JS.PublishAsyncPending() == 0
			})
		})
	}
}
