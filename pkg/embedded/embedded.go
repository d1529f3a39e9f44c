// Package embedded runs a NATS server with JetStream inside the mailbridge
// process, so that one command runs the whole bridge on one machine.
package embedded

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configures the embedded server.
type Options struct {
	// Addr is the host:port clients connect to, such as 127.0.0.1:4222.
	// Port 0 picks a free port; -1 for the port starts no client listener
	// at all, leaving only in-process connections.
	Addr string

	// StoreDir is the directory for JetStream's files.
	StoreDir string

	// MaxStore is JetStream's max store in bytes, over which it rejects new
	// messages with "insufficient resources" (API error code 10023). Zero
	// leaves nats-server's default: 75% of the disk space free at start,
	// plus 75% of what the store already holds (nats-server v2.15.3).
	MaxStore int64

	// ServerName names the server in logs and in JetStream. Defaults to
	// "mailbridge".
	ServerName string

	// ReadyTimeout is how long Start waits for the server. Defaults to 10s.
	ReadyTimeout time.Duration

	// Logger receives the server's own log lines when set.
	Logger server.Logger
}

// Start starts a NATS server with JetStream on file storage and waits until
// it accepts connections.
func Start(opts Options) (*server.Server, error) {
	host, portText, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w %q: use host:port, such as 127.0.0.1:4222", ErrInvalidAddr, opts.Addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("%w: port %q is not a number", ErrInvalidAddr, portText)
	}
	name := opts.ServerName
	if name == "" {
		name = "mailbridge"
	}
	storeDir, err := filepath.Abs(opts.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrStoreDir, opts.StoreDir, err)
	}

	// The server reports these failures only in its log and then never
	// becomes ready, so check them first rather than wait for the timeout.
	if err := checkStoreDir(storeDir); err != nil {
		return nil, err
	}
	if port > 0 {
		if err := checkAddrFree(opts.Addr); err != nil {
			return nil, err
		}
	}

	// nats-server reads port 0 as its default port 4222 and -1 as a random
	// port, so translate from this package's meaning.
	serverPort := port
	switch {
	case port == 0:
		serverPort = server.RANDOM_PORT
	case port < 0:
		serverPort = 0
	}
	s, err := server.NewServer(&server.Options{
		ServerName: name,
		Host:       host,
		Port:       serverPort,
		DontListen: port < 0,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
		// nats-server reads 0 as "not set" and sizes the limit itself.
		JetStreamMaxStore: opts.MaxStore,
	})
	if err != nil {
		return nil, fmt.Errorf("configure embedded NATS server: %w", err)
	}
	if opts.Logger != nil {
		s.SetLoggerV2(opts.Logger, false, false, false)
	}

	go s.Start()

	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if !s.ReadyForConnections(timeout) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded NATS server on %s not ready after %s: see its log lines above", opts.Addr, timeout)
	}
	return s, nil
}

// checkStoreDir creates dir if needed and checks that a file can be
// written in it.
func checkStoreDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreDir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStoreDir, err)
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreDir, err)
	}
	return nil
}

// checkAddrFree listens on addr and closes the listener at once.
//
// NOTE: another process can still take the port between this check and
// the server's own listen; the server then fails after its ready timeout.
func checkAddrFree(addr string) error {
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAddrUnavailable, err)
	}
	return listener.Close()
}
