package loadgen

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Shape is a summary of a stream's messages in the terms of nats bench's
// publisher: the number of subjects, the headers of a typical message,
// and the average size. With it, nats bench publishes messages that
// JetStream stores at the same cost as the bridge's.
type Shape struct {
	// Sampled is how many messages the figures come from.
	Sampled int
	// Subjects is the number of distinct subjects that match the filter.
	Subjects int
	// Header is the header of the sampled message with the median header
	// size.
	Header nats.Header
	// Size is the average of subject, header and data bytes, as written
	// in the NATS protocol.
	Size int
}

// msgIDLength is about the length of the message ids nats bench sets with
// --dedup, such as "1a2437d0c08-0-123456": close enough for a payload
// size, a few bytes either way.
const msgIDLength = 20

// SampleShape reads at most n of the stream's messages on subjects that
// match filters, spread evenly from its first to its last message, and
// counts the subjects that match.
func SampleShape(ctx context.Context, js jetstream.JetStream, streamName string, filters []string, n int) (Shape, error) {
	s, err := js.Stream(ctx, streamName)
	if err != nil {
		return Shape{}, fmt.Errorf("stream %s: %w", streamName, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return Shape{}, fmt.Errorf("stream %s info: %w", streamName, err)
	}
	subjects := 0
	for _, filter := range filters {
		filtered, err := s.Info(ctx, jetstream.WithSubjectFilter(filter))
		if err != nil {
			return Shape{}, fmt.Errorf("stream %s info: %w", streamName, err)
		}
		subjects += len(filtered.State.Subjects)
	}
	if subjects == 0 {
		return Shape{}, fmt.Errorf("stream %s has no message on %s: post some webhooks first", streamName, strings.Join(filters, ", "))
	}

	first, last := info.State.FirstSeq, info.State.LastSeq
	step := uint64(1)
	if span := last - first + 1; n > 0 && span > uint64(n) {
		step = span / uint64(n)
	}
	var (
		total   int
		headers []nats.Header
	)
	for seq := first; seq <= last && (n <= 0 || len(headers) < n); seq += step {
		msg, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // deleted
		}
		if err != nil {
			return Shape{}, fmt.Errorf("stream %s message %d: %w", streamName, seq, err)
		}
		if !slices.ContainsFunc(filters, func(filter string) bool { return server.SubjectMatchesFilter(msg.Subject, filter) }) {
			continue
		}
		total += len(msg.Subject) + HeaderSize(msg.Header) + len(msg.Data)
		headers = append(headers, msg.Header)
	}
	if len(headers) == 0 {
		return Shape{}, fmt.Errorf("stream %s: no message left to sample between %d and %d", streamName, first, last)
	}
	slices.SortStableFunc(headers, func(a, b nats.Header) int { return HeaderSize(a) - HeaderSize(b) })
	return Shape{
		Sampled:  len(headers),
		Subjects: subjects,
		Header:   headers[len(headers)/2],
		Size:     total / len(headers),
	}, nil
}

// HeaderSize is the length of h in the NATS protocol: the NATS/1.0 line,
// one "key: value" line per value, and the empty line that ends them.
func HeaderSize(h nats.Header) int {
	if len(h) == 0 {
		return 0
	}
	size := len("NATS/1.0\r\n") + len("\r\n")
	for key, values := range h {
		for _, value := range values {
			size += len(key) + len(": ") + len(value) + len("\r\n")
		}
	}
	return size
}

// NATSBenchArgs returns the flags of nats bench js pub that publish
// messages of this shape to subject in stream. They are one --header per
// header except the message id, which --dedup sets, and
// Nats-Expected-Stream names stream. --multisubject spreads the messages
// over as many subjects, and --size makes up the rest of the average.
func (s Shape) NATSBenchArgs(subject, stream string) []string {
	header := nats.Header{}
	for key, values := range s.Header {
		switch key {
		case nats.MsgIdHdr:
			continue
		case jetstream.ExpectedStreamHeader:
			values = []string{stream}
		}
		header[key] = values
	}
	header.Set(nats.MsgIdHdr, string(make([]byte, msgIDLength)))

	subjects := max(s.Subjects, 1)
	subjectLength := len(subject)
	var args []string
	if subjects > 1 {
		args = append(args, "--multisubject", "--multisubjectmax", strconv.Itoa(subjects))
		// nats bench appends "." and the message number modulo the
		// maximum, zero-padded to the maximum's digits.
		subjectLength += 1 + len(strconv.Itoa(subjects))
	}
	size := max(s.Size-subjectLength-HeaderSize(header), 0)
	args = append(args, "--size", strconv.Itoa(size)+"B")
	for _, key := range slices.Sorted(maps.Keys(header)) {
		if key == nats.MsgIdHdr {
			continue
		}
		for _, value := range header[key] {
			args = append(args, "--header", key+":"+value)
		}
	}
	return args
}
