package replay

import "errors"

var (
	// ErrInvalidConfig is wrapped by Run and Tail errors for a
	// configuration that cannot be used.
	ErrInvalidConfig = errors.New("invalid replay configuration")

	// ErrNoTargetStream is wrapped by NewNATSTarget's error when no stream
	// stores the target subjects and NATSConfig.AllowCoreNATS is not set.
	ErrNoTargetStream = errors.New("no stream for the target subjects")

	// ErrTargetRejected is wrapped by the *TargetError that Run returns
	// when the target refused an event for good, such as an HTTP 4xx.
	ErrTargetRejected = errors.New("target rejected the event")

	// ErrTargetUnavailable is wrapped by the *TargetError that Run
	// returns when the target still failed after every retry.
	ErrTargetUnavailable = errors.New("target unavailable")
)

// TargetError is the failure of one event at the target. Run stops at the
// first one, because the events after it in stream order would otherwise
// arrive before it.
type TargetError struct {
	// Sequence is the event's stream sequence.
	Sequence uint64
	// EventID is the CloudEvent id.
	EventID string
	// Event is the event in the CloudEvents JSON format, for the operator
	// to inspect.
	Event []byte
	// Detail says what the target answered, such as
	// `HTTP 400 Bad Request: {"error": "unknown type"}`.
	Detail string
	// Err is ErrTargetRejected or ErrTargetUnavailable.
	Err error
}

func (e *TargetError) Error() string {
	return "event " + e.EventID + " at stream sequence " + formatUint(e.Sequence) + ": " + e.Err.Error() + ": " + e.Detail
}

func (e *TargetError) Unwrap() error { return e.Err }
