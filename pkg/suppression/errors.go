package suppression

import "errors"

var (
	// ErrInvalidAddress is wrapped by the errors of ParseAddress and of
	// every operation given an address that is not local@domain.
	ErrInvalidAddress = errors.New("invalid email address")

	// ErrNotSuppressed is returned by Store.Get and Store.Remove for an
	// address that is not on the list.
	ErrNotSuppressed = errors.New("address is not suppressed")

	// ErrConflict is wrapped by Store errors when a record changed under
	// every compare-and-set attempt, which takes heavy contention on one
	// address. Retrying later succeeds.
	ErrConflict = errors.New("record changed concurrently on every attempt")

	// ErrInvalidCSV is wrapped by Store.Import's error for a CSV file
	// without an address column or that cannot be read.
	ErrInvalidCSV = errors.New("invalid CSV")
)
