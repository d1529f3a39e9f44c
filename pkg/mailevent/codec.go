package mailevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
)

// Mode is a content mode of the CloudEvents NATS protocol binding.
type Mode string

const (
	// ModeBinary puts the attributes in ce- message headers and the data,
	// as it is, in the payload.
	ModeBinary Mode = "binary"
	// ModeStructured puts the whole event in the payload in the JSON event
	// format, with content type application/cloudevents+json.
	ModeStructured Mode = "structured"
)

// ParseMode reads a content mode name.
func ParseMode(name string) (Mode, error) {
	switch Mode(strings.ToLower(strings.TrimSpace(name))) {
	case ModeBinary, "":
		return ModeBinary, nil
	case ModeStructured:
		return ModeStructured, nil
	}
	return "", fmt.Errorf("CloudEvents mode %q is invalid: use binary or structured", name)
}

// Header names used on NATS messages.
const (
	headerPrefix      = "ce-"
	HeaderContentType = "content-type"
	// HeaderMsgID is JetStream's message id header, used for deduplication.
	HeaderMsgID = "Nats-Msg-Id"
	// StructuredContentType is the content type of structured-mode messages.
	StructuredContentType = "application/cloudevents+json"
)

// ErrNotCloudEvent is returned by Decode for a message that is neither a
// binary-mode nor a structured-mode CloudEvent.
var ErrNotCloudEvent = errors.New("message is not a CloudEvent")

// Encode writes an event as a NATS message on subject in the given mode,
// with the event id as the JetStream message id.
func Encode(ev *Event, subject string, mode Mode) *nats.Msg {
	return EncodeTo(new(MessageBuffer), ev, subject, mode)
}

// MessageBuffer is a reusable NATS message with storage for its headers,
// so that events are encoded one after another without a new header map.
// A message encoded into a buffer is valid until the next EncodeTo into it.
//
// The header map belongs to the buffer. A caller may add headers of other
// names, which the next EncodeTo removes, but must not change or delete
// the headers EncodeTo set, because the next event with the same header
// names only overwrites their values.
type MessageBuffer struct {
	// self is the buffer's address after its first EncodeTo. A copy of the
	// buffer, whose map points into the original's values, refills its map.
	self *MessageBuffer
	msg  nats.Msg
	// values backs the value slice of every header in msg's map.
	values [headerCapacity]string
	// keys are the header names of the last EncodeTo, in the order set.
	keys     [headerCapacity]string
	keyCount int
	// extra is the header SetExtraHeader set, as name and value.
	extra [2]string
}

// SetExtraHeader makes every later EncodeTo into b add the header
// name: value, such as a publisher's Nats-Expected-Stream, so that it
// stays in the map between events. An empty name adds none.
func (b *MessageBuffer) SetExtraHeader(name, value string) {
	b.extra = [2]string{name, value}
}

// headerCapacity is the number of headers a MessageBuffer keeps in place:
// the 10 of a binary-mode event with a subject and a time, the extra
// header and two extensions.
const headerCapacity = 13

// headerList is an event's headers before they go into the map.
type headerList struct {
	keys, values [headerCapacity]string
	count        int
	// more is the headers past headerCapacity.
	more [][2]string
}

func (l *headerList) add(key, value string) {
	if l.count < headerCapacity {
		l.keys[l.count], l.values[l.count] = key, value
		l.count++
		return
	}
	l.more = append(l.more, [2]string{key, value})
}

// EncodeTo encodes an event as Encode does, into b, and returns b's
// message. It reuses the header map of the message encoded before.
func EncodeTo(b *MessageBuffer, ev *Event, subject string, mode Mode) *nats.Msg {
	var headers headerList
	headers.add(HeaderMsgID, ev.ID)
	if mode == ModeStructured {
		headers.add(HeaderContentType, StructuredContentType)
		b.addExtra(&headers)
		b.setHeaders(subject, &headers)
		b.msg.Data = AppendStructured(make([]byte, 0, len(ev.Data)+512), ev)
		return &b.msg
	}

	// NOTE: sdk-go's NATS bindings (v2.16.2) do not percent-decode ce-
	// headers, so a consumer using sdk-go in binary mode reads a non-ASCII
	// or space-containing subject or source still encoded. Structured mode
	// has no such limit.
	set := func(key, value string) {
		if value != "" {
			headers.add(key, percentEncode(value))
		}
	}
	set(headerPrefix+"specversion", SpecVersion)
	set(headerPrefix+"id", ev.ID)
	set(headerPrefix+"source", ev.Source)
	set(headerPrefix+"type", ev.Type)
	set(headerPrefix+"subject", ev.Subject)
	if !ev.Time.IsZero() {
		set(headerPrefix+"time", ev.Time.Format(time.RFC3339Nano))
	}
	set(headerPrefix+"dataschema", ev.DataSchema)
	for name, value := range ev.Extensions {
		set(headerPrefix+name, value)
	}
	// The NATS binding maps datacontenttype to ce-datacontenttype; sdk-go
	// also reads content-type, which older readers look for.
	set(headerPrefix+"datacontenttype", ev.DataContentType)
	if ev.DataContentType != "" {
		headers.add(HeaderContentType, ev.DataContentType)
	}
	b.addExtra(&headers)
	b.setHeaders(subject, &headers)
	b.msg.Data = ev.Data
	return &b.msg
}

func (b *MessageBuffer) addExtra(headers *headerList) {
	if b.extra[0] != "" {
		headers.add(b.extra[0], b.extra[1])
	}
}

// setHeaders resets b's message to subject and headers. If the map holds
// exactly the names of headers, in the order b set them last, only the
// values change. Otherwise the map is filled again.
func (b *MessageBuffer) setHeaders(subject string, headers *headerList) {
	header := b.msg.Header
	b.msg = nats.Msg{Subject: subject, Header: header}
	same := header != nil && b.self == b && len(headers.more) == 0
	same = same && headers.count == b.keyCount && len(header) == b.keyCount
	for i := 0; same && i < headers.count; i++ {
		same = headers.keys[i] == b.keys[i]
	}
	if same {
		copy(b.values[:], headers.values[:headers.count])
		return
	}

	if header == nil {
		header = make(nats.Header, headerCapacity)
		b.msg.Header = header
	} else {
		clear(header)
	}
	for i := range headers.count {
		b.values[i] = headers.values[i]
		header[headers.keys[i]] = b.values[i : i+1 : i+1]
	}
	b.keys, b.keyCount, b.self = headers.keys, headers.count, b
	for _, kv := range headers.more {
		header[kv[0]] = []string{kv[1]}
	}
	if len(headers.more) > 0 || len(header) != headers.count {
		// With headers past the capacity, or a name set twice, the next
		// event refills the map.
		b.keyCount = -1
	}
}

// AppendStructured appends the event in the CloudEvents JSON event format.
// Data that is JSON is embedded as it is; other data is written as a JSON
// string.
func AppendStructured(dst []byte, ev *Event) []byte {
	w := objectWriter{buf: dst}
	w.str("specversion", SpecVersion)
	w.str("id", ev.ID)
	w.str("source", ev.Source)
	w.str("type", ev.Type)
	if ev.Subject != "" {
		w.str("subject", ev.Subject)
	}
	if !ev.Time.IsZero() {
		w.str("time", ev.Time.Format(time.RFC3339Nano))
	}
	if ev.DataContentType != "" {
		w.str("datacontenttype", ev.DataContentType)
	}
	if ev.DataSchema != "" {
		w.str("dataschema", ev.DataSchema)
	}
	// Sorted names give the same bytes for the same event every time.
	for _, name := range slices.Sorted(maps.Keys(ev.Extensions)) {
		w.str(name, ev.Extensions[name])
	}
	if ev.Data != nil {
		if isJSONContentType(ev.DataContentType) && json.Valid(ev.Data) {
			w.raw("data", ev.Data)
		} else {
			w.str("data", string(ev.Data))
		}
	}
	return w.close()
}

// Decode reads a NATS message of either content mode into an Event. A
// message with a ce-specversion header is binary mode; one with content
// type application/cloudevents+json, or without a content type but with a
// JSON object payload, is structured mode.
func Decode(header nats.Header, data []byte) (Event, error) {
	if headerValue(header, headerPrefix+"specversion") != "" {
		return decodeBinary(header, data)
	}
	contentType := headerValue(header, HeaderContentType)
	if strings.HasPrefix(contentType, StructuredContentType) ||
		(contentType == "" && len(bytes.TrimSpace(data)) > 0 && bytes.TrimSpace(data)[0] == '{') {
		return decodeStructured(data)
	}
	return Event{}, ErrNotCloudEvent
}

func decodeBinary(header nats.Header, data []byte) (Event, error) {
	var ev Event
	// ce-datacontenttype wins over content-type whatever the map order.
	var contentType string
	var hasCEContentType bool
	for key, values := range header {
		if len(values) == 0 {
			continue
		}
		lower := strings.ToLower(key)
		if lower == HeaderContentType {
			contentType = values[0]
			continue
		}
		name, ok := strings.CutPrefix(lower, headerPrefix)
		if !ok {
			continue
		}
		value, err := percentDecode(unquoteHeader(values[0]))
		if err != nil {
			return Event{}, fmt.Errorf("header %s: %w", key, err)
		}
		if name == "datacontenttype" {
			ev.DataContentType, hasCEContentType = value, true
			continue
		}
		if err := ev.setAttribute(name, value); err != nil {
			return Event{}, err
		}
	}
	if !hasCEContentType {
		ev.DataContentType = contentType
	}
	ev.Data = data
	return ev, ev.checkRequired()
}

func decodeStructured(data []byte) (Event, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return Event{}, fmt.Errorf("%w: structured payload: %v", ErrNotCloudEvent, err)
	}

	var ev Event
	for name, raw := range members {
		switch name {
		case "data":
			ev.Data = raw
			continue
		case "data_base64":
			var decoded []byte
			if err := json.Unmarshal(raw, &decoded); err != nil {
				return Event{}, fmt.Errorf("member data_base64: %w", err)
			}
			ev.Data = decoded
			continue
		}
		var value string
		if err := json.Unmarshal(raw, &value); err != nil {
			// Extension values may be numbers or booleans.
			value = string(raw)
		}
		if name == "datacontenttype" {
			ev.DataContentType = value
			continue
		}
		if err := ev.setAttribute(name, value); err != nil {
			return Event{}, err
		}
	}

	// Data that is a JSON string in a non-JSON event is the string itself.
	if len(ev.Data) > 0 && ev.Data[0] == '"' && !isJSONContentType(ev.DataContentType) {
		var s string
		if err := json.Unmarshal(ev.Data, &s); err == nil {
			ev.Data = []byte(s)
		}
	}
	return ev, ev.checkRequired()
}

func (ev *Event) setAttribute(name, value string) error {
	switch name {
	case "specversion":
		if value != SpecVersion {
			return fmt.Errorf("specversion %q is not supported: expected %s", value, SpecVersion)
		}
	case "id":
		ev.ID = value
	case "source":
		ev.Source = value
	case "type":
		ev.Type = value
	case "subject":
		ev.Subject = value
	case "time":
		t, err := time.Parse(time.RFC3339Nano, value)
		if err != nil {
			return fmt.Errorf("attribute time %q is not RFC 3339", value)
		}
		ev.Time = t
	case "dataschema":
		ev.DataSchema = value
	default:
		if ev.Extensions == nil {
			ev.Extensions = make(map[string]string)
		}
		ev.Extensions[name] = value
	}
	return nil
}

func (ev *Event) checkRequired() error {
	var missing []string
	if ev.ID == "" {
		missing = append(missing, "id")
	}
	if ev.Source == "" {
		missing = append(missing, "source")
	}
	if ev.Type == "" {
		missing = append(missing, "type")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing attribute %s", ErrNotCloudEvent, strings.Join(missing, ", "))
	}
	return nil
}

func headerValue(header nats.Header, key string) string {
	if values := header[key]; len(values) > 0 {
		return values[0]
	}
	for k, values := range header {
		if len(values) > 0 && strings.EqualFold(k, key) {
			return values[0]
		}
	}
	return ""
}

func isJSONContentType(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.TrimSpace(strings.ToLower(mediaType))
	return mediaType == "" || mediaType == "application/json" || mediaType == "text/json" ||
		strings.HasSuffix(mediaType, "+json")
}

// percentEncode encodes a header value as the CloudEvents HTTP and NATS
// bindings ask: space, '"', '%' and every byte outside printable ASCII
// become %XX of their UTF-8 bytes.
func percentEncode(value string) string {
	clean := true
	for i := 0; i < len(value); i++ {
		if needsPercent(value[i]) {
			clean = false
			break
		}
	}
	if clean {
		return value
	}
	var b strings.Builder
	b.Grow(len(value) + 16)
	for i := 0; i < len(value); i++ {
		c := value[i]
		if needsPercent(c) {
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func needsPercent(c byte) bool {
	return c <= 0x20 || c >= 0x7f || c == '"' || c == '%'
}

func percentDecode(value string) (string, error) {
	if !strings.Contains(value, "%") {
		return value, nil
	}
	var b strings.Builder
	b.Grow(len(value))
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(value) || !isHex(value[i+1]) || !isHex(value[i+2]) {
			return "", fmt.Errorf("invalid percent-encoding in %q", value)
		}
		b.WriteByte(unhex(value[i+1])<<4 | unhex(value[i+2]))
		i += 2
	}
	decoded := b.String()
	if !utf8.ValidString(decoded) {
		return "", fmt.Errorf("percent-encoding in %q is not valid UTF-8", value)
	}
	return decoded, nil
}

// unquoteHeader removes the double quotes and backslash escapes of a
// quoted header value, which the binding asks readers to accept from
// writers of its older versions.
func unquoteHeader(value string) string {
	if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
		return value
	}
	var b strings.Builder
	inner := value[1 : len(value)-1]
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' && i+1 < len(inner) {
			i++
		}
		b.WriteByte(inner[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
