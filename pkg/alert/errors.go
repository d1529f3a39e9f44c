package alert

import "errors"

// ErrInvalidRules is wrapped by every error about a rule setting. The
// error text names the field, such as rules.hard_bounce_rate.critical.
var ErrInvalidRules = errors.New("invalid alert rules")

// ErrInvalidConfig is wrapped by New's errors about its Config.
var ErrInvalidConfig = errors.New("invalid alerter configuration")

// ErrNotifier is wrapped by a notifier's error after its last attempt.
var ErrNotifier = errors.New("notification failed")
