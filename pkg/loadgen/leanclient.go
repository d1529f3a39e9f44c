package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// leanUserAgent is the User-Agent header of the lean client's requests.
const leanUserAgent = "mailbridge-bench"

// maxResponseBody is how much of a response body a client keeps. The rest
// is read and dropped, so that the connection stays usable.
const maxResponseBody = 64 << 10

// maxResponseHeader bounds the status line and header fields of one
// response, in bytes.
const maxResponseHeader = 64 << 10

// leanClient is an HTTP/1.1 client for plain http:// URLs that sends the
// requests of one worker over one kept-alive TCP connection. It writes
// each request with one vectored write (writev) of its header and body,
// and reads the response through a reused bufio.Reader into a reused
// buffer, so a request costs a few system calls and no allocation. It is
// not safe for concurrent use, except for interrupt.
//
// When the server closes the connection, by "Connection: close" or after
// an HTTP/1.0 response, the next request opens a new one. When a kept-alive
// connection fails before any byte of the response arrives, which is how
// an idle connection that the server closed shows, the request is sent
// once more on a new connection and counted in retries.
type leanClient struct {
	addr    string
	timeout time.Duration
	dialer  net.Dialer

	// head is the request header up to "Content-Length: ".
	head []byte
	// request is head with the Content-Length of the current body.
	request []byte
	// writes holds the request header and body, and vector is the
	// net.Buffers over it that the vectored write consumes. Both are fields
	// so that a write allocates nothing.
	writes [2][]byte
	vector net.Buffers

	// mu guards conn against interrupt. Only the owning worker changes
	// conn, so it reads conn without the lock.
	mu     sync.Mutex
	conn   net.Conn
	reader *bufio.Reader
	// served counts the responses read on conn.
	served int

	// watched is the context whose end interrupts the request in flight.
	watched   context.Context
	stopWatch func() bool

	// body is the body of the last response, at most maxResponseBody bytes.
	body []byte

	// dials counts the connections opened, retries the requests sent a
	// second time.
	dials   int
	retries int
}

// parsedResponse is the status and framing of one response, read from its
// head.
type parsedResponse struct {
	status int
	// contentLength is -1 when the response has none.
	contentLength int64
	chunked       bool
	// closes is set when the server closes the connection after this
	// response.
	closes bool
	// headerBytes is the size of the head read so far.
	headerBytes int
}

// newLeanClient returns a client that posts bodies of contentType to
// rawURL, an http:// URL without user information.
func newLeanClient(rawURL, contentType string, timeout time.Duration) (*leanClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("URL %q is invalid: %w", rawURL, err)
	}
	if u.Scheme != "http" || u.User != nil || u.Host == "" {
		return nil, fmt.Errorf("URL %q is not a plain http:// URL with a host", rawURL)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}

	c := &leanClient{
		addr:    net.JoinHostPort(u.Hostname(), port),
		timeout: timeout,
	}
	c.head = append(c.head, "POST "...)
	c.head = append(c.head, u.RequestURI()...)
	c.head = append(c.head, " HTTP/1.1\r\nHost: "...)
	c.head = append(c.head, u.Host...)
	c.head = append(c.head, "\r\nUser-Agent: "+leanUserAgent+"\r\nContent-Type: "...)
	c.head = append(c.head, contentType...)
	c.head = append(c.head, "\r\nContent-Length: "...)
	return c, nil
}

// post sends body and reads the response. It returns the status code and,
// for a 200, the bridge's counts. The client is done with body when post
// returns.
func (c *leanClient) post(ctx context.Context, body []byte) (int, webhookResult, error) {
	var result webhookResult
	c.watch(ctx)
	deadline := time.Now().Add(c.timeout)

	c.request = append(c.request[:0], c.head...)
	c.request = strconv.AppendInt(c.request, int64(len(body)), 10)
	c.request = append(c.request, "\r\n\r\n"...)

	status, retry, err := c.roundTrip(ctx, deadline, body)
	if retry {
		c.retries++
		status, _, err = c.roundTrip(ctx, deadline, body)
	}
	if err != nil {
		if ctx.Err() != nil {
			return 0, result, fmt.Errorf("post: %w", ctx.Err())
		}
		return 0, result, err
	}

	if status == 200 {
		if result, err = parseWebhookResult(c.body); err != nil {
			return 0, result, fmt.Errorf("200 response body is not a webhook result: %w", err)
		}
	}
	return status, result, nil
}

// roundTrip sends one request and reads its response. On an error it
// closes the connection, and reports whether the request may be sent
// again: the connection had carried a response before, and it failed
// before any byte of this response arrived, for a reason other than the
// deadline or the end of ctx.
func (c *leanClient) roundTrip(ctx context.Context, deadline time.Time, body []byte) (status int, retry bool, err error) {
	if c.conn == nil {
		if err := c.dial(ctx, deadline); err != nil {
			return 0, false, err
		}
	}
	reused := c.served > 0
	if err := c.conn.SetDeadline(deadline); err != nil {
		c.closeConn()
		return 0, false, fmt.Errorf("set deadline: %w", err)
	}
	// interrupt may have run before SetDeadline replaced its deadline.
	if err := ctx.Err(); err != nil {
		c.closeConn()
		return 0, false, err
	}

	c.writes = [2][]byte{c.request, body}
	c.vector = c.writes[:]
	if _, err := c.vector.WriteTo(c.conn); err != nil {
		// A server may respond before it has read the whole body, as the
		// bridge does to a body over its size limit, and then close. The
		// response may still be readable.
		// NOTE: the response is read only once the write has failed, so the
		// latency of such a request includes the time until the server
		// closes: 500ms for a net/http server of Go 1.26.
		if resp, readErr := c.readResponse(); readErr == nil {
			c.closeConn()
			return resp.status, false, nil
		}
		c.closeConn()
		return 0, reused && retryable(ctx, err), fmt.Errorf("write request: %w", err)
	}
	if _, err := c.reader.Peek(1); err != nil {
		c.closeConn()
		return 0, reused && retryable(ctx, err), fmt.Errorf("read response: %w", err)
	}

	resp, err := c.readResponse()
	if err != nil {
		c.closeConn()
		return 0, false, err
	}
	c.served++
	if resp.closes {
		c.closeConn()
	}
	return resp.status, false, nil
}

// retryable reports whether err, met before any response byte, is worth a
// second attempt on a new connection: it is not a timeout, and ctx is not
// done.
func retryable(ctx context.Context, err error) bool {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return false
	}
	return ctx.Err() == nil
}

// dial opens a new connection.
func (c *leanClient) dial(ctx context.Context, deadline time.Time) error {
	dialCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	conn, err := c.dialer.DialContext(dialCtx, "tcp", c.addr)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", c.addr, err)
	}
	c.dials++

	if c.reader == nil {
		// One header line may fill the whole head.
		c.reader = bufio.NewReaderSize(conn, maxResponseHeader)
	} else {
		c.reader.Reset(conn)
	}
	c.mu.Lock()
	c.conn = conn
	c.served = 0
	c.mu.Unlock()
	return nil
}

// closeConn closes the connection, so that the next request dials.
func (c *leanClient) closeConn() {
	c.mu.Lock()
	conn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}

// watch makes the end of ctx interrupt the request in flight. It registers
// once per context, not once per request.
func (c *leanClient) watch(ctx context.Context) {
	if c.watched == ctx {
		return
	}
	if c.stopWatch != nil {
		c.stopWatch()
	}
	c.watched = ctx
	c.stopWatch = context.AfterFunc(ctx, c.interrupt)
}

// interrupt makes a blocked read or write on the connection return at
// once. It may run on any goroutine.
func (c *leanClient) interrupt() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		_ = c.conn.SetDeadline(time.Unix(1, 0))
	}
}

// close closes the connection and stops watching the context.
func (c *leanClient) close() {
	if c.stopWatch != nil {
		c.stopWatch()
	}
	c.closeConn()
}
