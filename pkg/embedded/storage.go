package embedded

import (
	"fmt"
	"net/http"

	"github.com/nats-io/nats-server/v2/server"
)

// CheckStorage returns nil while the JetStream of s can store messages in
// stream, or an error wrapping ErrJetStreamDisabled, ErrStreamWriteFailed
// or ErrStoreFull that describes why not. It reads the server's own state and
// sends no request, so it is cheap enough to run on every readiness probe.
//
// It reports the three ways nats-server v2.15.3 stops storing on a
// single server:
//   - JetStream disabled, which the server does after a write permission
//     error;
//   - a write error on the stream, such as "no space left on device",
//     which the stream keeps until the server restarts: every later
//     publish to it gets no pub ack at all;
//   - the server's store usage over its max store, where every publish is
//     rejected with "insufficient resources" until usage drops below it.
//
// A stream that does not exist is no storage problem, so it returns nil.
func CheckStorage(s *server.Server, stream string) error {
	if !s.JetStreamEnabled() {
		return fmt.Errorf("%w, which nats-server does after a write error named in its log", ErrJetStreamDisabled)
	}

	health := s.Healthz(&server.HealthzOptions{Account: s.GlobalAccount().Name, Stream: stream})
	if health.StatusCode != http.StatusOK && health.StatusCode != http.StatusNotFound {
		return fmt.Errorf("%w %s: %s", ErrStreamWriteFailed, stream, health.Error)
	}

	info, err := s.Jsz(nil)
	if err != nil || info.Disabled {
		return fmt.Errorf("%w (JetStream usage unavailable: %v)", ErrJetStreamDisabled, err)
	}
	// The same comparison as the server's own check before it stores a
	// message.
	if info.Config.MaxStore > 0 && int64(info.Store) > info.Config.MaxStore {
		return fmt.Errorf("%w: %d bytes used, max store %d bytes", ErrStoreFull, info.Store, info.Config.MaxStore)
	}
	return nil
}
