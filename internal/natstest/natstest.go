// Package natstest starts real NATS servers with JetStream for tests: an
// embedded server on a random loopback port with its store in the test's
// temporary directory, removed when the test ends.
package natstest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is a running test server with a connection to it.
type Server struct {
	Server *server.Server
	Conn   *nats.Conn
	JS     jetstream.JetStream
	// StoreDir is the JetStream store, kept across Restart.
	StoreDir string
	// Port is the client port, kept across Restart.
	Port int
	// MaxStore is JetStream's max store in bytes, kept across Restart; 0
	// lets nats-server size it from the free disk space.
	MaxStore int64
}

// Start starts a JetStream server on 127.0.0.1 with a random port and
// connects to it. Both are stopped when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s := &Server{StoreDir: tb.TempDir(), Port: -1}
	s.start(tb)
	tb.Cleanup(s.Shutdown)
	return s
}

// StartWithMaxStore is Start with JetStream's max store set to maxStore
// bytes, over which JetStream rejects publishes with "insufficient
// resources", as it does on a disk it measured as full.
func StartWithMaxStore(tb testing.TB, maxStore int64) *Server {
	tb.Helper()
	s := &Server{StoreDir: tb.TempDir(), Port: -1, MaxStore: maxStore}
	s.start(tb)
	tb.Cleanup(s.Shutdown)
	return s
}

func (s *Server) start(tb testing.TB) {
	tb.Helper()
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      s.Port,
		JetStream: true,
		StoreDir:  s.StoreDir,
		NoLog:     true,
		NoSigs:    true,
		// nats-server reads 0 as "not set".
		JetStreamMaxStore: s.MaxStore,
	})
	if err != nil {
		tb.Fatalf("configure nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready after 10s")
	}
	s.Server = srv
	s.Port = srv.Addr().(*net.TCPAddr).Port
	s.Conn = s.Connect(tb)
	js, err := jetstream.New(s.Conn)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	s.JS = js
}

// URL returns the client URL.
func (s *Server) URL() string { return s.Server.ClientURL() }

// Connect opens another connection, closed when the test ends.
func (s *Server) Connect(tb testing.TB, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.Server.ClientURL(), opts...)
	if err != nil {
		tb.Fatalf("connect to nats: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// Shutdown stops the server and waits until it is down. The store stays
// for Restart.
func (s *Server) Shutdown() {
	if s.Server == nil {
		return
	}
	s.Server.Shutdown()
	s.Server.WaitForShutdown()
}

// Restart starts the server again on the same port and store, and
// reconnects Conn and JS.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.Shutdown()
	s.start(tb)
}

// Context returns a context that ends after timeout or with the test.
func Context(tb testing.TB, timeout time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	tb.Cleanup(cancel)
	return ctx
}
