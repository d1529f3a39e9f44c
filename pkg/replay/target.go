package replay

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/nats-io/nats.go"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Item is one selected event on its way to a target.
type Item struct {
	// Sequence is the stream sequence of the message.
	Sequence uint64
	// NATSSubject is the subject the message was stored on.
	NATSSubject string
	// Header and Data are the stored message as it is.
	Header nats.Header
	Data   []byte
	// Event is the decoded CloudEvent.
	Event mailevent.Event
}

// Target receives the selected events.
type Target interface {
	// Send hands over one event. Run calls it from one goroutine, in
	// stream order. It may return before the event is delivered, and it
	// returns an error once the target has failed, for this event or an
	// earlier one.
	Send(ctx context.Context, item *Item) error

	// Close waits until every event handed over is delivered or has
	// failed, and returns the first failure.
	Close(ctx context.Context) error

	// Delivered returns the highest stream sequence up to which every
	// event handed over has been delivered, or 0 when none has.
	Delivered() uint64
}

// writerFlushSize is how much JSON a WriterTarget collects before it
// writes to its io.Writer.
const writerFlushSize = 256 << 10

// WriterTarget writes each event as one line of JSON (JSON Lines) in the
// CloudEvents JSON format, the structured content mode.
type WriterTarget struct {
	w         io.Writer
	buf       []byte
	buffered  uint64 // sequence of the last event in buf
	delivered uint64
}

// NewWriterTarget returns a target that writes to w.
func NewWriterTarget(w io.Writer) *WriterTarget {
	return &WriterTarget{w: w, buf: make([]byte, 0, writerFlushSize+4096)}
}

// Send appends the event and writes the collected lines once they pass
// 256 KiB.
func (t *WriterTarget) Send(_ context.Context, item *Item) error {
	t.buf = mailevent.AppendStructured(t.buf, &item.Event)
	t.buf = append(t.buf, '\n')
	t.buffered = item.Sequence
	if len(t.buf) >= writerFlushSize {
		return t.flush()
	}
	return nil
}

// Close writes the lines still collected.
func (t *WriterTarget) Close(context.Context) error { return t.flush() }

// Delivered returns the sequence of the last event written to the
// io.Writer.
func (t *WriterTarget) Delivered() uint64 { return t.delivered }

func (t *WriterTarget) flush() error {
	if len(t.buf) == 0 {
		return nil
	}
	if _, err := t.w.Write(t.buf); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	t.buf = t.buf[:0]
	t.delivered = t.buffered
	return nil
}

// messageSender is a Target that takes a stored message as it is, without
// a decoded Event. Run prefers it to Send.
type messageSender interface {
	// sendMessage hands over the message stored at stream sequence seq.
	// It returns false, having sent nothing, when the message is not a
	// CloudEvent, and otherwise the error Send would return.
	sendMessage(seq uint64, header nats.Header, data []byte) (isCloudEvent bool, err error)
}

func (t *WriterTarget) sendMessage(seq uint64, header nats.Header, data []byte) (bool, error) {
	var err error
	if t.buf, err = mailevent.AppendStructuredMsg(t.buf, header, data); err != nil {
		return false, nil
	}
	t.buf = append(t.buf, '\n')
	t.buffered = seq
	if len(t.buf) >= writerFlushSize {
		return true, t.flush()
	}
	return true, nil
}

// tracker follows events handed over in stream order and delivered in any
// order, and keeps the sequence up to which all are delivered.
type tracker struct {
	mu        sync.Mutex
	queue     []uint64        // sequences handed over and not yet passed, in order
	done      map[uint64]bool // delivered sequences still in queue
	delivered uint64
}

func newTracker() *tracker { return &tracker{done: make(map[uint64]bool)} }

func (t *tracker) start(seq uint64) {
	t.mu.Lock()
	t.queue = append(t.queue, seq)
	t.mu.Unlock()
}

func (t *tracker) finish(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done[seq] = true
	n := 0
	for n < len(t.queue) && t.done[t.queue[n]] {
		delete(t.done, t.queue[n])
		t.delivered = t.queue[n]
		n++
	}
	if n > 0 {
		t.queue = append(t.queue[:0], t.queue[n:]...)
	}
}

func (t *tracker) last() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.delivered
}
