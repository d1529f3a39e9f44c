package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
)

func TestFullStreamAnswers503AndKeepsOldEvents(t *testing.T) {
	t.Parallel()
	nats := natstest.Start(t)
	const maxBytes = 256 << 10
	EnsureStream(t, nats.JS, 1, maxBytes)
	bridge := StartBridge(t, BridgeConfig{URLs: nats.URL()})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := nats.JS.Stream(ctx, StreamName)
	if err != nil {
		t.Fatalf("stream: %v", err)
	}
	if got := s.CachedInfo().Config.Discard; got != jetstream.DiscardNew {
		t.Fatalf("discard policy = %v, want new", got)
	}

	// Post until the stream refuses; every webhook before that is a 200.
	var acked []Batch
	var refusal string
	for seq := 0; seq < 2000 && refusal == ""; seq++ {
		batch := NewBatch("full", seq, 20)
		resp, err := http.Post(bridge.WebhookURL(), "application/json", bytes.NewReader(batch.Body))
		if err != nil {
			t.Fatalf("post batch %d: %v", seq, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			acked = append(acked, batch)
		case http.StatusServiceUnavailable:
			refusal = string(body)
		default:
			t.Fatalf("batch %d: status %d, want 200 or 503: %s", seq, resp.StatusCode, body)
		}
	}
	if refusal == "" {
		t.Fatalf("the stream of %d bytes took %d batches without a 503", maxBytes, len(acked))
	}
	var message struct{ Error string }
	if err := json.Unmarshal([]byte(refusal), &message); err != nil {
		t.Fatalf("503 body is not JSON: %v: %s", err, refusal)
	}
	if !strings.Contains(message.Error, "full") {
		t.Errorf("503 error = %q, want it to say the stream is full", message.Error)
	}

	// The oldest events are still there, and so is every acked one.
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if info.State.FirstSeq != 1 {
		t.Errorf("first sequence = %d, want 1: old events were discarded", info.State.FirstSeq)
	}
	if info.State.Bytes > maxBytes {
		t.Errorf("stream bytes = %d, want at most %d", info.State.Bytes, maxBytes)
	}
	ids := make(map[string]bool)
	for _, b := range acked {
		for _, id := range b.IDs {
			ids[id] = true
		}
	}
	counts := StreamCounts(t, nats.JS, StreamName, 30*time.Second)
	missing, duplicates := CheckExactlyOnce(t, counts, ids)
	t.Logf("stream of %d bytes: %d webhooks got a 200 (%d events) before the first 503; %d stored, missing %d, duplicates %d",
		maxBytes, len(acked), len(ids), len(counts), missing, duplicates)
}
