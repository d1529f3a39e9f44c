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
