package main

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// publishAsyncMaxPending is how many pub acks one JetStream context waits
// for at once before a publish stalls. It is far above what the requests
// in flight send, so that flow control never stalls a request.
const publishAsyncMaxPending = 16384

// connectPublishers opens the further connections the ingress publishes
// over, so that MAILBRIDGE_PUBLISH_CONNECTIONS counts the first one too.
// The returned function drains them.
func connectPublishers(cfg serveConfig, setup *natsSetup, logger *slog.Logger) ([]jetstream.JetStream, func(), error) {
	var conns []*nats.Conn
	var closed []chan struct{}
	closeAll := func() {
		for _, nc := range conns {
			if err := nc.Drain(); err != nil {
				logger.Warn("nats drain failed", slog.Any("error", err))
			}
		}
		timeout := time.NewTimer(10 * time.Second)
		defer timeout.Stop()
		expired := false
		for i, nc := range conns {
			if expired {
				nc.Close()
				continue
			}
			select {
			case <-closed[i]:
			case <-timeout.C:
				logger.Warn("nats drain timed out; closing the publisher connections")
				expired = true
				nc.Close()
			}
		}
	}

	var contexts []jetstream.JetStream
	for i := 1; i < cfg.PublishConnections; i++ {
		name := fmt.Sprintf("mailbridge ingress publisher %d", i+1)
		opts, err := cfg.NATSConfig.options(name, logger)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		done := make(chan struct{})
		opts = append(opts, nats.ClosedHandler(func(*nats.Conn) { close(done) }))
		url := ""
		if setup.server != nil {
			opts = append(opts, nats.InProcessServer(setup.server))
		} else {
			url = splitURLs(cfg.NATSConfig.URL)
		}
		nc, err := nats.Connect(url, opts...)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("connect publisher %d of MAILBRIDGE_PUBLISH_CONNECTIONS: %w", i+1, err)
		}
		conns = append(conns, nc)
		closed = append(closed, done)
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(publishAsyncMaxPending))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("jetstream: %w", err)
		}
		contexts = append(contexts, js)
	}
	return contexts, closeAll, nil
}
