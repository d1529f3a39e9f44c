package ingress

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ackCollector publishes the messages of a request on one connection and
// gathers their pub acks. jetstream.PublishMsgAsync does the same, but it
// creates a future with channels per message, keeps every message in one
// map under one lock, and decodes each ack with encoding/json while
// holding that lock. Here a request registers once, each reply subject
// names the request and the message's index in it, and a plain ack is
// read with two byte searches.
type ackCollector struct {
	nc *nats.Conn
	// prefix is the unique inbox the reply subjects start with.
	prefix string
	// expectStream is the Nats-Expected-Stream value of the messages that
	// arrive without one. They share it because nats.go only reads it.
	expectStream []string

	mu       sync.Mutex
	requests map[uint64]*ackWait
	lastID   uint64
}

// ackWait is one request waiting for its pub acks.
type ackWait struct {
	acked     []bool
	failed    []bool
	duplicate []bool
	remaining int
	err       error
	done      chan struct{}
	closed    bool
}

func newAckCollector(nc *nats.Conn, stream string) (*ackCollector, error) {
	c := &ackCollector{nc: nc, prefix: nc.NewInbox() + ".", expectStream: []string{stream}, requests: map[uint64]*ackWait{}}
	sub, err := nc.Subscribe(c.prefix+"*.*", c.handleAck)
	if err != nil {
		return nil, fmt.Errorf("subscribe to pub acks: %w", err)
	}
	// The acks waiting at once are bounded by the requests in flight and
	// their batch sizes, not by the subscription.
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, fmt.Errorf("pub ack subscription limits: %w", err)
	}
	return c, nil
}

// publish sends every message, then waits until JetStream has acknowledged
// all of them or ctx ends, marking each message stored or duplicate as its
// ack reported. It returns the first error JetStream reported for a message,
// and no error only when every message is stored.
//
// NOTE: a "no responders" reply (no stream listening, as during a
// JetStream leader election) fails the request at once, where
// PublishMsgAsync retries after a pause. The batch then goes to the disk
// buffer when one is configured, and otherwise the sender gets 503 and
// retries it, which the message ids make safe.
func (c *ackCollector) publish(ctx context.Context, batch []pending) error {
	wait := &ackWait{
		acked:     make([]bool, len(batch)),
		failed:    make([]bool, len(batch)),
		duplicate: make([]bool, len(batch)),
		remaining: len(batch),
		done:      make(chan struct{}),
	}
	c.mu.Lock()
	c.lastID++
	id := c.lastID
	c.requests[id] = wait
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.requests, id)
		c.mu.Unlock()
	}()

	replies := c.replySubjects(id, len(batch))
	for i := range batch {
		msg := batch[i].msg
		msg.Reply = replies.at(i)
		// An event's message buffer adds the header itself, in serve.
		// Other messages get it for this publish only.
		added := false
		if _, has := msg.Header[jetstream.ExpectedStreamHeader]; !has {
			if msg.Header == nil {
				msg.Header = nats.Header{}
			}
			msg.Header[jetstream.ExpectedStreamHeader] = c.expectStream
			added = true
		}
		err := c.nc.PublishMsg(msg)
		// A message kept for a later publish, as by the disk buffer, must
		// not carry this request's reply subject.
		msg.Reply = ""
		if added {
			delete(msg.Header, jetstream.ExpectedStreamHeader)
		}
		if err != nil {
			return fmt.Errorf("publish to %s: %w: %w", msg.Subject, errNotStored, err)
		}
	}

	var timedOut error
	select {
	case <-wait.done:
	case <-ctx.Done():
		timedOut = ctx.Err()
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range batch {
		batch[i].stored = wait.acked[i] && !wait.failed[i]
		batch[i].duplicate = wait.duplicate[i]
	}
	if wait.err != nil {
		return wait.err
	}
	if timedOut != nil {
		return fmt.Errorf("waiting for %d pub acks: %w: %w", wait.remaining, errNotStored, timedOut)
	}
	return nil
}

// replySubjects is the reply subjects of one request's messages,
// <prefix><request id>.<index>, in one string, so that a request allocates
// them once rather than once per message.
type replySubjects struct {
	all string
	// head is the length of <prefix><request id>.
	head int
}

// replySubjects writes the reply subjects of request id's n messages.
func (c *ackCollector) replySubjects(id uint64, n int) replySubjects {
	head := c.prefix + strconv.FormatUint(id, 10) + "."
	var b strings.Builder
	b.Grow(n*len(head) + digitsBefore(n))
	var digits [20]byte
	for i := range n {
		b.WriteString(head)
		b.Write(strconv.AppendInt(digits[:0], int64(i), 10))
	}
	return replySubjects{all: b.String(), head: len(head)}
}

// at returns the reply subject of message i.
func (r replySubjects) at(i int) string {
	start := i*r.head + digitsBefore(i)
	end := (i+1)*r.head + digitsBefore(i+1)
	return r.all[start:end]
}

// digitsBefore counts the decimal digits of the numbers 0 to i-1
// together.
func digitsBefore(i int) int {
	total, low, high, width := 0, 0, 10, 1
	for i > high {
		total += (high - low) * width
		low, high, width = high, high*10, width+1
	}
	return total + (i-low)*width
}

// handleAck records one pub ack. Acks for requests that have given up, or
// repeated acks, are ignored.
func (c *ackCollector) handleAck(m *nats.Msg) {
	idText, indexText, _ := strings.Cut(strings.TrimPrefix(m.Subject, c.prefix), ".")
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil {
		return
	}
	index, err := strconv.Atoi(indexText)
	if err != nil {
		return
	}
	duplicate, ackErr := readPubAck(m)

	c.mu.Lock()
	defer c.mu.Unlock()
	wait := c.requests[id]
	if wait == nil || index < 0 || index >= len(wait.acked) || wait.acked[index] {
		return
	}
	wait.acked[index] = true
	wait.duplicate[index] = duplicate
	wait.remaining--
	if ackErr != nil {
		wait.failed[index] = true
		if wait.err == nil {
			wait.err = fmt.Errorf("pub ack for message %d: %w: %w", index, errNotStored, ackErr)
		}
	}
	if !wait.closed && (wait.err != nil || wait.remaining == 0) {
		wait.closed = true
		close(wait.done)
	}
}

// readPubAck reads a JetStream pub ack: whether the message was a
// duplicate, or the error JetStream returned instead.
func readPubAck(m *nats.Msg) (duplicate bool, err error) {
	if len(m.Data) == 0 {
		if m.Header.Get("Status") == "503" {
			return false, jetstream.ErrNoStreamResponse
		}
		return false, jetstream.ErrInvalidJSAck
	}
	// A plain ack is {"stream":"MAIL","seq":7}, with "duplicate": true
	// when JetStream had the message id already. Everything else is
	// decoded.
	if bytes.HasPrefix(m.Data, []byte(`{"stream":"`)) && !bytes.Contains(m.Data, []byte(`"error"`)) {
		return duplicateFlag(m.Data), nil
	}
	var ack struct {
		Stream    string              `json:"stream"`
		Duplicate bool                `json:"duplicate"`
		Error     *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &ack); err != nil {
		return false, jetstream.ErrInvalidJSAck
	}
	if ack.Error != nil {
		return false, ack.Error
	}
	if ack.Stream == "" {
		return false, jetstream.ErrInvalidJSAck
	}
	return ack.Duplicate, nil
}

// duplicateFlag reports whether a plain ack has "duplicate" set to true,
// with or without white space around the colon (nats-server v2.15 writes
// "duplicate": true).
func duplicateFlag(ack []byte) bool {
	i := bytes.Index(ack, []byte(`"duplicate"`))
	if i < 0 {
		return false
	}
	rest := bytes.TrimLeft(ack[i+len(`"duplicate"`):], " \t\r\n")
	rest, ok := bytes.CutPrefix(rest, []byte(":"))
	if !ok {
		return false
	}
	return bytes.HasPrefix(bytes.TrimLeft(rest, " \t\r\n"), []byte("true"))
}
