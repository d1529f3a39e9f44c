package mailevent

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mailbridge/mailbridge/pkg/cmc"
)

// SchemaBase is the start of every dataschema URI. The schemas are the
// files under schemas/ in mailbridge's repository, where their $id is the
// same URI.
const SchemaBase = "https://github.com/mailbridge/mailbridge/schemas/"

// The dataschema URIs of the event data.
const (
	SchemaDelivery = SchemaBase + "data/delivery.json"
	SchemaBounce   = SchemaBase + "data/bounce.json"
	SchemaBlock    = SchemaBase + "data/block.json"
)

// ErrUnmappable is returned by Builder.Build for a record that cannot
// become an event.
var ErrUnmappable = errors.New("record cannot be mapped to a CloudEvent")

// Builder turns CMC records into Events.
type Builder struct {
	Subjects Subjects

	// Location is the time zone CMC writes created in. Defaults to UTC;
	// CMC's Japanese customers use Asia/Tokyo.
	Location *time.Location

	// Classify returns the verdict on a failed or deferred delivery or a
	// bounce. When nil, events carry no classification.
	Classify func(diagnostic, bounceCode, deliveryStatus string) Classification

	// ParseCodes returns the SMTP reply code and the enhanced status code
	// found in a diagnostic. When nil, the data carries empty codes.
	ParseCodes func(diagnostic string) (smtpCode, enhancedStatus string)
}

// Build maps one raw record of a batch to its event and NATS subject.
//
// It returns an error wrapping ErrUnmappable (and cmc.ErrMalformed for a
// record that cannot be read) when the record is not an object, when a
// known field has the wrong type, when created is missing or not a time,
// or when a delivery or bounce names no recipient.
func (b *Builder) Build(eventType cmc.EventType, composition string, raw json.RawMessage) (Event, string, error) {
	return b.BuildTo(nil, eventType, composition, raw)
}

// BuildTo is Build with the event data written over dst, which lets a
// caller reuse the data of an event it no longer needs. The returned
// event's Data uses dst's storage when it is large enough.
func (b *Builder) BuildTo(dst []byte, eventType cmc.EventType, composition string, raw json.RawMessage) (Event, string, error) {
	entry, err := cmc.ParseEntry(raw)
	if err != nil {
		return Event{}, "", fmt.Errorf("%w: %w", ErrUnmappable, err)
	}

	loc := b.Location
	if loc == nil {
		loc = time.UTC
	}
	created, err := cmc.ParseCreated(entry.Created, loc)
	if err != nil {
		return Event{}, "", fmt.Errorf("%w: %w", ErrUnmappable, err)
	}
	if eventType != cmc.EventTypeBlocks && strings.TrimSpace(entry.To) == "" {
		return Event{}, "", fmt.Errorf("%w: missing recipient (field to or envelopeTo)", ErrUnmappable)
	}

	ev := Event{
		ID:              EventID(eventType, composition, &entry),
		Source:          Source(composition),
		Subject:         strings.TrimSpace(entry.Recipient()),
		Time:            created,
		DataContentType: "application/json",
	}

	var subject string
	switch eventType {
	case cmc.EventTypeDeliveries:
		ev.Type, _ = deliveryType(entry.Status)
		ev.DataSchema = SchemaDelivery
		subject = b.Subjects.Delivery(entry.Status)
		classify := entry.Status == StatusFailed || entry.Status == StatusDeferred
		ev.Data = b.messageData(dst, &entry, composition, false, classify)
	case cmc.EventTypeBounces:
		ev.Type = TypeBounce
		ev.DataSchema = SchemaBounce
		subject = b.Subjects.Bounce(entry.Status)
		ev.Data = b.messageData(dst, &entry, composition, true, true)
	case cmc.EventTypeBlocks:
		ev.Type = TypeBlock
		ev.DataSchema = SchemaBlock
		subject = b.Subjects.Block(entry.Status)
		ev.Data = blockData(dst, &entry, composition)
	default:
		return Event{}, "", fmt.Errorf("%w: unknown event_type %q", ErrUnmappable, eventType)
	}
	return ev, subject, nil
}

// Source returns the CloudEvent source of records from one CMC server
// composition: a URI reference such as /cmc/pro.
func Source(composition string) string {
	if composition == "" {
		return "/cmc"
	}
	// The events of a batch share one composition, so the last one's
	// source is kept rather than made again for every event.
	// NOTE: when requests of several compositions interleave, a change of
	// composition allocates a cache entry besides the source.
	if last := lastSource.Load(); last != nil && last.composition == composition {
		return last.source
	}
	source := "/cmc/" + url.PathEscape(composition)
	lastSource.Store(&composedSource{composition: composition, source: source})
	return source
}

// composedSource is a server composition and its source.
type composedSource struct{ composition, source string }

// lastSource is the composition Source was last given, and its source.
var lastSource atomic.Pointer[composedSource]

// ServerComposition returns the server composition named by a source that
// Source made, and false for any other source.
func ServerComposition(source string) (string, bool) {
	if source == "/cmc" {
		return "", true
	}
	rest, ok := strings.CutPrefix(source, "/cmc/")
	if !ok {
		return "", false
	}
	composition, err := url.PathUnescape(rest)
	if err != nil {
		return "", false
	}
	return composition, true
}

// EventID derives an event's id from its content: the event type, the
// server composition and every non-empty field of the record, by version 2
// name. CMC sending the same record twice, in any body encoding or webhook
// version, gives the same id, so JetStream's duplicate window and the
// consumers drop the copy. The id is 32 hex digits of a SHA-256 digest.
func EventID(eventType cmc.EventType, composition string, entry *cmc.Entry) string {
	// A record as CMC sends it fits the stack buffer, so hashing it costs
	// no allocation; a longer one grows the buffer on the heap.
	var stack [1024]byte
	buf := stack[:0]
	write := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}

	write("cmc-record-v1")
	write(string(eventType))
	write(composition)

	// Known fields in a fixed order (sorted by name), then the unknown ones
	// sorted by name. Length prefixes keep field boundaries unambiguous.
	known := [...][2]string{
		{"apiData", entry.APIData},
		{"created", entry.Created},
		{"email", entry.Email},
		{"from", entry.From},
		{"messageId", entry.MessageID},
		{"reason", entry.Reason},
		{"returnPath", entry.ReturnPath},
		{"senderIp", entry.SenderIP},
		{"sourceIp", entry.SourceIP},
		{"status", entry.Status},
		{"subject", entry.Subject},
		{"to", entry.To},
	}
	for _, field := range known {
		if field[1] == "" {
			continue
		}
		write(field[0])
		write(field[1])
	}
	for _, name := range sortedExtraKeys(entry.Extra) {
		write(name)
		write(canonicalJSON(entry.Extra[name]))
	}

	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16])
}

// reservedDataKeys are the data members the bridge adds. An unknown record
// field with one of these names is written as "cmc_<name>" so that it
// neither replaces nor duplicates the bridge's member.
var reservedDataKeys = map[string]bool{
	"server_composition": true, "smtp_code": true, "enhanced_status": true,
	"classification": true, "bounce_code": true, "bounce_name": true,
}

func (b *Builder) messageData(dst []byte, entry *cmc.Entry, composition string, isBounce, classify bool) []byte {
	w := objectWriter{buf: storage(dst, 512+len(entry.Reason)+len(entry.Subject))}
	w.field("created", entry.Created)
	w.field("returnPath", entry.ReturnPath)
	w.field("from", entry.From)
	w.field("to", entry.To)
	w.field("messageId", entry.MessageID)
	w.field("subject", entry.Subject)
	w.field("reason", entry.Reason)
	w.field("senderIp", entry.SenderIP)
	w.field("sourceIp", entry.SourceIP)
	w.field("apiData", entry.APIData)
	w.field("status", entry.Status)
	writeExtra(&w, entry.Extra)

	w.field("server_composition", composition)
	var smtpCode, enhanced string
	if b.ParseCodes != nil && entry.Reason != "" {
		smtpCode, enhanced = b.ParseCodes(entry.Reason)
	}
	w.field("smtp_code", smtpCode)
	w.field("enhanced_status", enhanced)

	if isBounce {
		w.plainKey("bounce_code")
		if code, err := strconv.Atoi(strings.TrimSpace(entry.Status)); err == nil {
			w.buf = strconv.AppendInt(w.buf, int64(code), 10)
		} else {
			w.buf = append(w.buf, "null"...)
		}
		w.field("bounce_name", BounceName(entry.Status))
	}

	if classify && b.Classify != nil {
		bounceCode, status := "", entry.Status
		if isBounce {
			bounceCode, status = strings.TrimSpace(entry.Status), ""
		}
		c := b.Classify(entry.Reason, bounceCode, status)
		w.plainKey("classification")
		cw := objectWriter{buf: w.buf}
		cw.field("reason", c.Reason)
		cw.boolean("hard", c.Hard)
		cw.field("smtp_code", c.SMTPCode)
		cw.field("enhanced_status", c.EnhancedStatus)
		w.buf = cw.close()
	}
	return w.close()
}

// storage returns dst emptied, or new storage of size bytes when dst is
// smaller.
func storage(dst []byte, size int) []byte {
	if cap(dst) < size {
		return make([]byte, 0, size)
	}
	return dst[:0]
}

// blockData writes a block record's fields as they arrived, with the
// server composition.
func blockData(dst []byte, entry *cmc.Entry, composition string) []byte {
	w := objectWriter{buf: storage(dst, 256)}
	w.field("created", entry.Created)
	if entry.Email != "" {
		w.field("email", entry.Email)
	}
	if entry.To != "" {
		w.field("to", entry.To)
	}
	w.field("status", entry.Status)
	optional := [...][2]string{
		{"returnPath", entry.ReturnPath}, {"from", entry.From},
		{"messageId", entry.MessageID}, {"subject", entry.Subject},
		{"reason", entry.Reason}, {"senderIp", entry.SenderIP},
		{"sourceIp", entry.SourceIP}, {"apiData", entry.APIData},
	}
	for _, field := range optional {
		if field[1] != "" {
			w.field(field[0], field[1])
		}
	}
	writeExtra(&w, entry.Extra)
	w.field("server_composition", composition)
	return w.close()
}

func writeExtra(w *objectWriter, extra map[string]json.RawMessage) {
	for _, name := range sortedExtraKeys(extra) {
		key := name
		if reservedDataKeys[name] {
			key = "cmc_" + name
		}
		w.raw(key, []byte(compactJSON(extra[name])))
	}
}

func sortedExtraKeys(extra map[string]json.RawMessage) []string {
	if len(extra) == 0 {
		return nil
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// canonicalJSON returns a raw JSON value with its object members sorted by
// name and without insignificant white space, so that the same value sent
// with other spacing or member order gives the same event id. Numbers keep
// their literal text.
func canonicalJSON(raw json.RawMessage) string {
	decoder := json.NewDecoder(bytes.NewReader(raw))
	decoder.UseNumber()
	var value any
	if err := decoder.Decode(&value); err != nil {
		return compactJSON(raw)
	}
	out, err := json.Marshal(value)
	if err != nil {
		return compactJSON(raw)
	}
	return string(out)
}

// compactJSON returns a raw JSON value without insignificant white space,
// so that the same value sent with other spacing reads the same.
func compactJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return string(raw)
	}
	return buf.String()
}
