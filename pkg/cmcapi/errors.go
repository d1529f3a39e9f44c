package cmcapi

import "errors"

var (
	// ErrAuth is wrapped by errors for a response of 401 or 403: the API
	// user or key is wrong or lacks the data reference permission.
	ErrAuth = errors.New("CMC API rejected the credentials")

	// ErrRateLimited is wrapped by errors for a response of 429.
	ErrRateLimited = errors.New("CMC API rate limit reached")

	// ErrAPI is wrapped by errors for any other response that is not 2xx.
	ErrAPI = errors.New("CMC API request failed")

	// ErrMalformedResponse is wrapped by errors for a 2xx response that is
	// not the expected JSON.
	ErrMalformedResponse = errors.New("CMC API response is malformed")

	// ErrTooManyPages is wrapped by ListAll's error when the records go on
	// past Config.MaxPages pages.
	ErrTooManyPages = errors.New("CMC API returned more pages than allowed")
)
