package ingress_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/embedded"
	"github.com/mailbridge/mailbridge/pkg/ingress"
)

// TestFullStoreAnswers503AndRecovers fills JetStream's max store, the
// limit nats-server otherwise sizes from the free disk space. It checks
// that the 503 responses and /readyz report it, that no 200 is lost, and
// that both recover once events are removed.
func TestFullStoreAnswers503AndRecovers(t *testing.T) {
	t.Parallel()
	const maxStore = 256 << 10
	srv := natstest.StartWithMaxStore(t, maxStore)
	b := setupOn(t, srv, func(cfg *ingress.Config) {
		cfg.PublishTimeout = 5 * time.Second
		cfg.StorageCheck = func() error { return embedded.CheckStorage(srv.Server, streamName) }
	})
	readyz := func() (int, string) {
		resp, err := b.http.Client().Get(b.http.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, body := readyz(); status != http.StatusOK {
		t.Fatalf("/readyz before the store fills = %d %s, want 200", status, body)
	}

	// Each batch has its own ids, so that none is a duplicate. 100 batches
	// of 100 events are several times the max store.
	base := mixedDeliveries(t, 100)
	batch := func(n int) []byte {
		return bytes.ReplaceAll(base, []byte("campaign-"), fmt.Appendf(nil, "batch-%d-campaign-", n))
	}
	accepted := 0
	var full response
	for n := 0; n < 100; n++ {
		resp := b.post(t, "application/json", batch(n), nil)
		if resp.status != http.StatusOK {
			full = resp
			break
		}
		accepted += resp.result(t).Accepted
	}
	if full.status != http.StatusServiceUnavailable {
		t.Fatalf("no 503 after 100 batches over a max store of %d bytes; last status %d", maxStore, full.status)
	}
	if message := full.errorMessage(t); !strings.Contains(message, "JetStream storage is full") {
		t.Errorf("503 message = %q, want it to say JetStream storage is full", message)
	}
	if accepted == 0 {
		t.Error("no batch was stored before the store filled")
	}

	// A 200 means every event of the batch is in the stream.
	info, err := b.nats.JS.Stream(natstest.Context(t, 5*time.Second), streamName)
	if err != nil {
		t.Fatal(err)
	}
	if stored := info.CachedInfo().State.Msgs; stored < uint64(accepted) {
		t.Errorf("stream holds %d messages, fewer than the %d events answered 200", stored, accepted)
	}

	status, body := readyz()
	if status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store full = %d, want 503", status)
	}
	if !strings.Contains(body, "JetStream storage is full") {
		t.Errorf("/readyz body = %s, want it to say JetStream storage is full", body)
	}
	if logs := b.logs.String(); !strings.Contains(logs, "jetstream cannot store events") {
		t.Errorf("log has no line saying JetStream cannot store events:\n%s", logs)
	}

	// While the store is full, a webhook gets its 503 without waiting for
	// the publish timeout.
	start := time.Now()
	resp := b.post(t, "application/json", batch(1000), nil)
	if resp.status != http.StatusServiceUnavailable {
		t.Errorf("webhook with the store full = %d, want 503", resp.status)
	}
	if took := time.Since(start); took >= b.cfg.PublishTimeout {
		t.Errorf("webhook with the store full answered after %s, want before the %s publish timeout", took, b.cfg.PublishTimeout)
	}

	// Removing events brings usage under the max store without a restart.
	if err := info.Purge(natstest.Context(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "/readyz to return 200 after the purge", func() bool {
		status, _ := readyz()
		return status == http.StatusOK
	})
	if got := b.post(t, "application/json", batch(1001), nil).result(t).Accepted; got != 100 {
		t.Errorf("after the purge accepted = %d, want 100", got)
	}
	if logs := b.logs.String(); !strings.Contains(logs, "jetstream stores events again") {
		t.Errorf("log has no line saying JetStream stores events again:\n%s", logs)
	}
}
