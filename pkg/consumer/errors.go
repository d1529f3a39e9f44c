package consumer

import "errors"

// ErrInvalidConfig is wrapped by the error Run returns for a Config field
// that is missing or out of range. The message names the field.
var ErrInvalidConfig = errors.New("invalid consumer config")

// ErrNoDeadLetterStream is wrapped by the error Run returns when no stream
// stores Config.DeadLetterSubject, so dead-lettered events would be lost.
var ErrNoDeadLetterStream = errors.New("no stream stores the dead-letter subject")

// ErrStopTimeout is wrapped by the error Run returns when handlers are
// still running Config.StopTimeout after ctx ended. The message names the
// stream sequence of each message left unacked.
var ErrStopTimeout = errors.New("handlers still running after the stop timeout")

// Permanent marks an error that redelivery will not fix, such as data
// that can never be valid. A handler that returns it (or an error that
// wraps it) has its message published to the dead-letter subject and
// termed at once, whatever its delivery count. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err or an error it wraps came from
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct {
	err error
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
