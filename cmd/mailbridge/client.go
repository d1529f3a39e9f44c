package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// readConfig is the configuration of the commands that read the stream
// beside a running serve: replay and tail.
type readConfig struct {
	CMCTimezone string `envconfig:"CMC_TIMEZONE" default:"Asia/Tokyo" desc:"time zone of CMC's created field, as set in the CMC webhook"`

	NATSConfig
	StreamConfig
	LogConfig
}

// connectClient connects to MAILBRIDGE_NATS_URL, or to the embedded
// server of a running serve when the URL is empty. Unlike connectNATS it
// never starts a server.
func connectClient(c NATSConfig, name string, logger *slog.Logger) (*nats.Conn, error) {
	opts, err := c.options(name, logger)
	if err != nil {
		return nil, err
	}
	if c.URL == "" {
		if _, port, err := net.SplitHostPort(c.EmbeddedAddr); err == nil && (port == "0" || port == "-1") {
			return nil, fmt.Errorf("connect to NATS: MAILBRIDGE_EMBEDDED_NATS_ADDR %s gives serve's embedded server a random port or none, so this command cannot find it: "+
				"set MAILBRIDGE_NATS_URL to the client_addr in serve's 'embedded nats server started' log line, such as nats://127.0.0.1:41234", c.EmbeddedAddr)
		}
	}
	nc, err := nats.Connect(c.clientURL(), append(opts, nats.RetryOnFailedConnect(false))...)
	if err != nil {
		return nil, connectError(c, err)
	}
	return nc, nil
}

// closeClient drains nc within a few seconds.
func closeClient(nc *nats.Conn) {
	done := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(done) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		nc.Close()
	}
}

// stringList is a flag that may be given more than once.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(value string) error {
	*l = append(*l, value)
	return nil
}

// parseTime reads a time flag: RFC 3339, or a date or a date and time
// (2023-01-25, 2023-01-25 14:00:00) in loc.
func parseTime(name, value string, loc *time.Location) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, value); err == nil {
		return t, nil
	}
	for _, layout := range []string{time.DateOnly, time.DateTime, "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, value, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: --%s %q is not a time: use RFC 3339 (2023-01-25T14:00:00+09:00) or a date (2023-01-25) in %s",
		errUsage, name, value, loc)
}

// loadLocation reads MAILBRIDGE_CMC_TIMEZONE.
func loadLocation(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("MAILBRIDGE_CMC_TIMEZONE %q is not a time zone name such as Asia/Tokyo: %w", name, err)
	}
	return loc, nil
}

// isTerminal reports whether w is a terminal, where a progress bar
// belongs.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
