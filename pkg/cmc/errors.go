package cmc

import "errors"

var (
	// ErrUnsupportedMediaType is returned by Decode for a content type
	// that CMC does not send.
	ErrUnsupportedMediaType = errors.New("unsupported media type")

	// ErrMalformed is returned by Decode when the body cannot be read as a
	// CMC event webhook, and by ParseEntry for an entry that cannot be read.
	ErrMalformed = errors.New("malformed payload")

	// ErrRepeated is returned, with ErrMalformed, by Decode for a body that
	// gives a field or the event list more than once, and by ParseEntry for
	// an entry that gives a field more than once. Keeping one of the values
	// would drop the others unnoticed.
	ErrRepeated = errors.New("repeated field")

	// ErrUnknownEventType is returned by Decode when event_type is not one
	// of deliveries, bounces or blocks.
	ErrUnknownEventType = errors.New("unknown event_type")
)
