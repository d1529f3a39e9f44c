package main

import (
	"errors"
	"fmt"

	"github.com/mailbridge/mailbridge/pkg/embedded"
)

// storageCheck returns the ingress's check that the embedded server's
// JetStream can store events in stream, or nil with an external NATS
// server, whose state only its own servers know.
func (s *natsSetup) storageCheck(c NATSConfig, stream string) func() error {
	if s.server == nil {
		return nil
	}
	return func() error {
		return storageRemedy(c, embedded.CheckStorage(s.server, stream))
	}
}

// storageRemedy adds to an error of embedded.CheckStorage what the operator
// can do about it.
//
// NOTE: mailbridge does not turn JetStream back on, or reopen a stream
// after a write error, without a restart. nats-server v2.15.3 has no
// public call that clears a stream's write error, and EnableJetStream
// after ShutdownJetStream reloads every stream and consumer under the
// running suppression list and alerter, which no test here covers.
func storageRemedy(c NATSConfig, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, embedded.ErrStoreFull) && c.EmbeddedMaxStore > 0:
		return fmt.Errorf("%w: remove events from the stream, or raise MAILBRIDGE_EMBEDDED_JETSTREAM_MAX_STORE_BYTES (with the disk space under MAILBRIDGE_DATA_DIR %s to match) and restart mailbridge", err, c.DataDir)
	case errors.Is(err, embedded.ErrStoreFull):
		return fmt.Errorf("%w: remove events from the stream, or free disk space under MAILBRIDGE_DATA_DIR %s and restart mailbridge, which sizes the max store from the free space at start (or set MAILBRIDGE_EMBEDDED_JETSTREAM_MAX_STORE_BYTES)", err, c.DataDir)
	case errors.Is(err, embedded.ErrStreamWriteFailed):
		return fmt.Errorf("%w: free disk space under MAILBRIDGE_DATA_DIR %s, then restart mailbridge, because nats-server fails every later write to the stream until it restarts", err, c.DataDir)
	case errors.Is(err, embedded.ErrJetStreamDisabled):
		return fmt.Errorf("%w: fix the cause in the nats server log, such as a full disk or file permissions under MAILBRIDGE_DATA_DIR %s, then restart mailbridge", err, c.DataDir)
	}
	return err
}
