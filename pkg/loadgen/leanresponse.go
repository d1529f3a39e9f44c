package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
)

// readResponse reads one final response into c.body, skipping 1xx
// interim responses.
func (c *leanClient) readResponse() (parsedResponse, error) {
	for {
		resp, err := c.readHead()
		if err != nil {
			return resp, err
		}
		if resp.status >= 100 && resp.status < 200 {
			if resp.status == 101 {
				return resp, errors.New("read response: server switched protocols (101), which a webhook post never requests")
			}
			continue
		}
		if err := c.readBody(&resp); err != nil {
			return resp, err
		}
		return resp, nil
	}
}

// readHead reads the status line and the header fields the client needs:
// Content-Length, Transfer-Encoding and Connection.
func (c *leanClient) readHead() (parsedResponse, error) {
	resp := parsedResponse{contentLength: -1}
	line, err := c.readLine(&resp)
	if err != nil {
		return resp, fmt.Errorf("read status line: %w", err)
	}
	minor, status, ok := parseStatusLine(line)
	if !ok {
		return resp, fmt.Errorf("read status line: %q is not an HTTP/1.x status line", truncate(line))
	}
	resp.status = status
	keepAlive := minor >= 1

	for {
		line, err := c.readLine(&resp)
		if err != nil {
			return resp, fmt.Errorf("read header: %w", err)
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return resp, fmt.Errorf("read header: %q is not a header field", truncate(line))
		}
		name, value := line[:colon], bytes.Trim(line[colon+1:], " \t")
		switch {
		case asciiEqualFold(name, "Content-Length"):
			n, ok := parseDecimal(value)
			if !ok || (resp.contentLength >= 0 && n != resp.contentLength) {
				return resp, fmt.Errorf("read header: Content-Length %q is invalid", truncate(value))
			}
			resp.contentLength = n
		case asciiEqualFold(name, "Transfer-Encoding"):
			if !asciiEqualFold(value, "chunked") {
				return resp, fmt.Errorf("read header: Transfer-Encoding %q is not supported, only chunked", truncate(value))
			}
			resp.chunked = true
		case asciiEqualFold(name, "Connection"):
			if hasToken(value, "close") {
				resp.closes = true
			}
			if hasToken(value, "keep-alive") {
				keepAlive = true
			}
		}
	}
	if !keepAlive {
		resp.closes = true
	}
	if resp.chunked && resp.contentLength >= 0 {
		// Transfer-Encoding overrides Content-Length (RFC 9112, section
		// 6.3), but a response with both may be an attempt at response
		// splitting, so the connection is closed after it.
		resp.contentLength = -1
		resp.closes = true
	}
	return resp, nil
}

// readBody reads the body that resp announces into c.body.
func (c *leanClient) readBody(resp *parsedResponse) error {
	c.body = c.body[:0]
	switch {
	case resp.status == 204 || resp.status == 304:
		return nil
	case resp.chunked:
		return c.readChunked(resp)
	case resp.contentLength >= 0:
		if err := c.readBodyBytes(resp.contentLength); err != nil {
			return fmt.Errorf("read body of %d bytes: %w", resp.contentLength, err)
		}
		return nil
	}

	// Without a length the body ends when the server closes.
	resp.closes = true
	for {
		if len(c.body) == cap(c.body) {
			c.body = slices.Grow(c.body, 512)
		}
		n, err := c.reader.Read(c.body[len(c.body):cap(c.body)])
		c.body = c.body[:len(c.body)+n]
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read body until the server closes: %w", err)
		}
		if len(c.body) > maxResponseBody {
			return fmt.Errorf("read body: longer than %d bytes without a Content-Length", maxResponseBody)
		}
	}
}

// readChunked reads a chunked body and its trailer section.
func (c *leanClient) readChunked(resp *parsedResponse) error {
	for {
		// The head limit applies to each chunk's framing on its own: the
		// body's limit and the request's deadline bound the rest.
		resp.headerBytes = 0
		line, err := c.readLine(resp)
		if err != nil {
			return fmt.Errorf("read chunk size: %w", err)
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, ok := parseHex(bytes.TrimRight(line, " \t"))
		if !ok {
			return fmt.Errorf("read chunk size: %q is not a hexadecimal size", truncate(line))
		}
		if size == 0 {
			break
		}
		if err := c.readBodyBytes(size); err != nil {
			return fmt.Errorf("read chunk of %d bytes: %w", size, err)
		}
		line, err = c.readLine(resp)
		if err != nil {
			return fmt.Errorf("read the line end after a chunk of %d bytes: %w", size, err)
		}
		if len(line) != 0 {
			return fmt.Errorf("read chunk: no line end after %d bytes of data", size)
		}
	}
	for {
		line, err := c.readLine(resp)
		if err != nil {
			return fmt.Errorf("read trailer: %w", err)
		}
		if len(line) == 0 {
			return nil
		}
	}
}

// readBodyBytes appends n bytes of body to c.body, keeping at most
// maxResponseBody in all and dropping the rest.
func (c *leanClient) readBodyBytes(n int64) error {
	keep := min(n, int64(maxResponseBody-len(c.body)))
	if keep > 0 {
		start := len(c.body)
		c.body = slices.Grow(c.body, int(keep))[:start+int(keep)]
		if _, err := io.ReadFull(c.reader, c.body[start:]); err != nil {
			return err
		}
	}
	if drop := n - keep; drop > 0 {
		if _, err := c.reader.Discard(int(drop)); err != nil {
			return err
		}
	}
	return nil
}

// readLine returns the next line without its CRLF or LF. The line is only
// valid until the next read.
func (c *leanClient) readLine(resp *parsedResponse) ([]byte, error) {
	line, err := c.reader.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("line longer than %d bytes", c.reader.Size())
	}
	if err != nil {
		return nil, err
	}
	resp.headerBytes += len(line)
	if resp.headerBytes > maxResponseHeader {
		return nil, fmt.Errorf("response head or chunk framing longer than %d bytes", maxResponseHeader)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
