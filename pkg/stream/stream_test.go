package stream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/stream"
)

func TestEnsureWithoutJetStream(t *testing.T) {
	t.Parallel()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatalf("configure nats server: %v", err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready after 10s")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = stream.Ensure(ctx, js, stream.Config{Name: "MAIL", Subjects: []string{"mail.>"}})
	if err == nil {
		t.Fatal("Ensure succeeded on a server without JetStream")
	}
	if !strings.Contains(err.Error(), "Start nats-server with -js") {
		t.Errorf("error %q does not say how to enable JetStream", err)
	}
}

func TestJetStreamHint(t *testing.T) {
	t.Parallel()
	for _, err := range []error{nats.ErrNoResponders, jetstream.ErrJetStreamNotEnabled, jetstream.ErrJetStreamNotEnabledForAccount} {
		hinted := stream.JetStreamHint(fmt.Errorf("open KV bucket alerts: %w", err))
		if !errors.Is(hinted, err) {
			t.Errorf("hinted error %q no longer wraps %v", hinted, err)
		}
		if !strings.Contains(hinted.Error(), "Start nats-server with -js") {
			t.Errorf("error %q has no hint", hinted)
		}
	}
	other := errors.New("timeout")
	if got := stream.JetStreamHint(other); got != other {
		t.Errorf("JetStreamHint changed an unrelated error to %q", got)
	}
}
