package ingress_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

func TestPublishersShareRequests(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 20*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Name: streamName, Subjects: []string{"mail.>"}}); err != nil {
		t.Fatal(err)
	}
	conns := []*nats.Conn{srv.Connect(t), srv.Connect(t)}
	var publishers []jetstream.JetStream
	for _, nc := range conns {
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		publishers = append(publishers, js)
	}
	handler, err := ingress.New(srv.Conn, srv.JS, ingress.Config{
		StreamName: streamName,
		Builder:    newBuilder(t),
		Logger:     slog.New(slog.DiscardHandler),
		Publishers: publishers,
	})
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(handler)
	t.Cleanup(web.Close)

	// 12 requests of 5 records each, sent at once.
	const requests, perRequest = 12, 5
	var wg sync.WaitGroup
	errs := make(chan error, requests)
	for r := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var entries []string
			for i := range perRequest {
				entries = append(entries, fmt.Sprintf(`{"created":"2023-01-25 14:03:06","to":"user%d-%d@example.jp","status":"queued"}`, r, i))
			}
			body := `{"event_type":"deliveries","server_composition":"pro","event":{"deliveries":[` + strings.Join(entries, ",") + `]}}`
			resp, err := http.Post(web.URL, "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("request %d: status %d", r, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	s, err := srv.JS.Stream(ctx, streamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != requests*perRequest {
		t.Errorf("stream holds %d messages, want %d", info.State.Msgs, requests*perRequest)
	}
	for i, nc := range append([]*nats.Conn{srv.Conn}, conns...) {
		if out := nc.Stats().OutMsgs; out < perRequest {
			t.Errorf("connection %d sent %d messages, want at least one request's %d", i, out, perRequest)
		}
	}
}
