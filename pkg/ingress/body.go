package ingress

import (
	"errors"
	"io"
)

// readAllSized reads r to the end like io.ReadAll, but starts with a
// buffer of the request's Content-Length when it is known and at most
// limit. io.ReadAll starts at 512 bytes and copies the body every time it
// grows, which for a 100-record batch is about seven copies.
func readAllSized(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength <= 0 || contentLength > limit {
		return io.ReadAll(r)
	}
	// One byte more than announced, so that reaching EOF needs no growth.
	buf := make([]byte, 0, contentLength+1)
	for {
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			// The body is longer than announced: let append grow it.
			buf = append(buf, 0)[:len(buf)]
		}
	}
}
