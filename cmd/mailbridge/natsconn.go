package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
	"github.com/mailbridge/mailbridge/pkg/embedded"
)

// natsSetup is a NATS connection and, on the embedded default, the server
// it is connected to.
type natsSetup struct {
	conn   *nats.Conn
	server *server.Server
	closed chan struct{}
	// unlock releases the data directory after the embedded server stopped.
	unlock func()
}

// clientURL returns the URL that commands other than serve connect to.
func (c NATSConfig) clientURL() string { return app.NATSConfig(c).ClientURL() }

// options returns the connection options for c's credentials and TLS.
func (c NATSConfig) options(name string, logger *slog.Logger) ([]nats.Option, error) {
	return app.NATSConfig(c).Options(name, logger)
}

// connectNATS connects to MAILBRIDGE_NATS_URL, or starts the embedded
// server and connects to it in-process when the URL is empty.
func connectNATS(ctx context.Context, c NATSConfig, name string, logger *slog.Logger) (*natsSetup, error) {
	opts, err := c.options(name, logger)
	if err != nil {
		return nil, err
	}
	closed := make(chan struct{})
	opts = append(opts, nats.ClosedHandler(func(*nats.Conn) { close(closed) }))

	if c.URL != "" {
		nc, err := nats.Connect(splitURLs(c.URL), append(opts, nats.RetryOnFailedConnect(c.RetryConnect))...)
		if err != nil {
			return nil, connectError(c, err)
		}
		if !nc.IsConnected() {
			logger.Warn("nats unreachable; connecting in the background", slog.String("url", c.URL))
			return &natsSetup{conn: nc, closed: closed}, nil
		}
		logger.Info("connected to nats", slog.String("url", nc.ConnectedUrlRedacted()))
		return &natsSetup{conn: nc, closed: closed}, nil
	}

	unlock, previous, err := lockDataDir(c.DataDir)
	if err != nil {
		return nil, err
	}
	if previous != "" {
		logger.Warn("the last run on this data directory did not stop cleanly: jetstream checks and recovers its store, which can take a while for a large one",
			slog.String("data_dir", c.DataDir), slog.String("previous_pid", previous))
	}
	storeDir := filepath.Join(c.DataDir, "jetstream")
	srv, err := embedded.Start(embedded.Options{
		Addr:     c.EmbeddedAddr,
		StoreDir: storeDir,
		MaxStore: c.EmbeddedMaxStore,
		Logger:   natsServerLogger{logger: logger},
	})
	if err != nil {
		unlock()
		return nil, embeddedStartError(c, err)
	}
	listen := "none (in-process only)"
	if addr := srv.Addr(); addr != nil {
		listen = addr.String()
	}
	logger.Info("embedded nats server started", slog.String("client_addr", listen), slog.String("store_dir", storeDir),
		slog.Int64("max_store_bytes", maxStore(srv)))

	nc, err := nats.Connect("", append(opts, nats.InProcessServer(srv))...)
	if err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		unlock()
		return nil, fmt.Errorf("connect to the embedded NATS server: %w", err)
	}
	return &natsSetup{conn: nc, server: srv, closed: closed, unlock: unlock}, nil
}

// maxStore returns the JetStream max store of srv in bytes, or 0 when
// JetStream is off.
func maxStore(srv *server.Server) int64 {
	if config := srv.JetStreamConfig(); config != nil {
		return config.MaxStore
	}
	return 0
}

// embeddedStartError adds to err the variable to change and how.
func embeddedStartError(c NATSConfig, err error) error {
	switch {
	case errors.Is(err, embedded.ErrInvalidAddr):
		return fmt.Errorf("MAILBRIDGE_EMBEDDED_NATS_ADDR: %w", err)
	case errors.Is(err, embedded.ErrAddrUnavailable):
		return fmt.Errorf("MAILBRIDGE_EMBEDDED_NATS_ADDR %s cannot be used, so stop the process on that port or set another MAILBRIDGE_EMBEDDED_NATS_ADDR (port 0 picks a free one): %w", c.EmbeddedAddr, err)
	case errors.Is(err, embedded.ErrStoreDir):
		return fmt.Errorf("MAILBRIDGE_DATA_DIR %s cannot hold the JetStream store, so fix its permissions or set another MAILBRIDGE_DATA_DIR: %w", c.DataDir, err)
	}
	return err
}

// connectError wraps a failed connect with the URLs tried, without their
// credentials, and what to check.
func connectError(c NATSConfig, err error) error {
	hint := "check MAILBRIDGE_NATS_URL and that the NATS cluster is up, or unset MAILBRIDGE_NATS_URL to use the embedded server"
	if c.URL == "" {
		hint = "start 'mailbridge serve' first, or set MAILBRIDGE_NATS_URL"
	}
	return fmt.Errorf("connect to NATS at %s: %w: %s", redactURLs(c.clientURL()), err, hint)
}

// redactURLs replaces the user information of each URL in a
// comma-separated list, so that passwords and tokens stay out of errors.
func redactURLs(list string) string {
	urls := strings.Split(list, ",")
	for i, raw := range urls {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil {
			urls[i] = "(unparsable URL)"
			continue
		}
		if u.User != nil {
			u.User = url.User("redacted")
		}
		urls[i] = u.String()
	}
	return strings.Join(urls, ",")
}

// close drains the connection, then stops the embedded server if any.
func (s *natsSetup) close(logger *slog.Logger) {
	if err := s.conn.Drain(); err != nil {
		logger.Warn("nats drain failed", slog.Any("error", err))
	}
	select {
	case <-s.closed:
	case <-time.After(30 * time.Second):
		logger.Warn("nats drain timed out; closing the connection")
		s.conn.Close()
	}
	if s.server != nil {
		s.server.Shutdown()
		s.server.WaitForShutdown()
		logger.Info("embedded nats server stopped")
	}
	if s.unlock != nil {
		s.unlock()
	}
}
