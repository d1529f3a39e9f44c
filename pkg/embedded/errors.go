package embedded

import "errors"

var (
	// ErrInvalidAddr is returned by Start when Options.Addr is not host:port
	// with a numeric port.
	ErrInvalidAddr = errors.New("invalid embedded NATS address")
	// ErrAddrUnavailable is returned by Start when the client address cannot
	// be listened on, for example because another process uses the port.
	ErrAddrUnavailable = errors.New("embedded NATS address unavailable")
	// ErrStoreDir is returned by Start when the JetStream store directory
	// cannot be created or written.
	ErrStoreDir = errors.New("embedded NATS store directory unusable")
)

// Errors of CheckStorage.
var (
	// ErrJetStreamDisabled is returned when the server has turned JetStream
	// off, which nats-server does after some write errors.
	ErrJetStreamDisabled = errors.New("JetStream is disabled")
	// ErrStreamWriteFailed is returned when a write to the stream failed,
	// such as on a full disk. nats-server keeps the error, and fails every
	// later write to the stream, until it restarts.
	ErrStreamWriteFailed = errors.New("JetStream cannot write to the stream")
	// ErrStoreFull is returned when JetStream's store usage is over its max
	// store, so that it rejects new messages with "insufficient resources".
	ErrStoreFull = errors.New("JetStream storage is full")
)
