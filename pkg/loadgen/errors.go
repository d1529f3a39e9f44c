package loadgen

import "errors"

var (
	// ErrRemoteTarget is returned for a URL whose host is not a loopback
	// address when remote targets are not allowed.
	ErrRemoteTarget = errors.New("target is not on loopback")

	// ErrUnbounded is returned by Run when neither a request count nor a
	// duration is set.
	ErrUnbounded = errors.New("run is unbounded")
)
