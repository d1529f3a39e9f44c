// Package embedded runs a NATS server with JetStream inside the mailbridge
// process, so that one command runs the whole bridge on one machine.
package embedded

import (
	"fmt"
	"net"
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
		return nil, fmt.Errorf("embedded NATS address %q is invalid: use host:port, such as 127.0.0.1:4222", opts.Addr)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS port %q is invalid", portText)
	}
	name := opts.ServerName
	if name == "" {
		name = "mailbridge"
	}
	storeDir, err := filepath.Abs(opts.StoreDir)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS store directory %q: %w", opts.StoreDir, err)
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
		return nil, fmt.Errorf("embedded NATS server not ready after %s (is %s in use?)", timeout, opts.Addr)
	}
	return s, nil
}
