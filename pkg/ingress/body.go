package ingress

import (
	"errors"
	"io"
	"sync"
)

// bodyBuffers is the pool of buffers that request bodies are read into.
var bodyBuffers sync.Pool

// maxPooledBody is the largest body buffer kept for reuse, so that one
// large webhook does not keep its memory.
const maxPooledBody = 1 << 20

// recycleBody gives a body's buffer back for a later request. The caller
// must not use the body afterwards.
func recycleBody(body []byte) {
	if cap(body) > 0 && cap(body) <= maxPooledBody {
		bodyBuffers.Put(&body)
	}
}

// readAllSized reads r to the end like io.ReadAll, but starts with a
// buffer of the request's Content-Length when it is known and at most
// limit, reused from an earlier request when one is large enough.
// io.ReadAll starts at 512 bytes and copies the body every time it grows,
// which for a 100-record batch is about seven copies.
func readAllSized(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength <= 0 || contentLength > limit {
		return io.ReadAll(r)
	}
	// One byte more than announced, so that reaching EOF needs no growth.
	var buf []byte
	if pooled, ok := bodyBuffers.Get().(*[]byte); ok && int64(cap(*pooled)) > contentLength {
		buf = (*pooled)[:0]
	} else {
		buf = make([]byte, 0, contentLength+1)
	}
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
