package schemas

import "errors"

var (
	// ErrUnknownSchema is returned by Validate for a $id that is not one of
	// the embedded schemas.
	ErrUnknownSchema = errors.New("unknown schema")

	// ErrInvalidJSON is returned by Validate for a document that is not JSON.
	ErrInvalidJSON = errors.New("document is not JSON")

	// ErrInvalid is returned by Validate for a document that does not match
	// its schema.
	ErrInvalid = errors.New("document does not match its schema")
)
