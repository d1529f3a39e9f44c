package cmc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// EventType is the kind of records a batch carries.
type EventType string

// The event types CMC sends. Blocks are sent on the Pro plan only.
const (
	EventTypeDeliveries EventType = "deliveries"
	EventTypeBounces    EventType = "bounces"
	EventTypeBlocks     EventType = "blocks"
)

// Valid reports whether t is one of the event types CMC sends.
func (t EventType) Valid() bool {
	switch t {
	case EventTypeDeliveries, EventTypeBounces, EventTypeBlocks:
		return true
	}
	return false
}

// Encoding is how a webhook body was sent.
type Encoding string

// The body encodings CMC can be configured to send.
const (
	EncodingJSON      Encoding = "json"
	EncodingForm      Encoding = "form"
	EncodingMultipart Encoding = "multipart"
)

// Limits bound what Decode accepts from one body, so that a hostile body
// cannot make it allocate without bound. The body size itself is bounded
// by the caller.
type Limits struct {
	// MaxMultipartParts is the maximum number of parts in a multipart body.
	// Defaults to 64.
	MaxMultipartParts int

	// MaxJSONDepth is the maximum nesting depth of JSON in the body.
	// Defaults to 32.
	MaxJSONDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxMultipartParts <= 0 {
		l.MaxMultipartParts = 64
	}
	if l.MaxJSONDepth <= 0 {
		l.MaxJSONDepth = 32
	}
	return l
}

// Batch is one decoded event webhook.
type Batch struct {
	EventType         EventType
	ServerComposition string

	// APIKey is the api_key body field when the webhook is set to send it
	// there. It must never be published or logged.
	APIKey string

	Encoding Encoding

	// Entries are the records of the batch as raw JSON values, in the order
	// CMC sent them. Each is usually an object; ParseEntry rejects any
	// that is not.
	Entries []json.RawMessage
}

// jsonBody is the JSON form of an event webhook. Event stays raw because
// its shape depends on event_type, and in form posts it is a JSON string.
type jsonBody struct {
	EventType         *string         `json:"event_type"`
	ServerComposition *string         `json:"server_composition"`
	Event             json.RawMessage `json:"event"`
	APIKey            string          `json:"api_key"`
}

// Decode reads an event webhook body sent with the given Content-Type.
//
// It returns ErrUnsupportedMediaType for a content type other than
// application/json, application/x-www-form-urlencoded and
// multipart/form-data, ErrUnknownEventType (with the batch's other fields
// set) for an event_type it does not know, and an error wrapping
// ErrMalformed for anything else that cannot be read. A batch with no
// entries is valid.
func Decode(contentType string, body []byte, limits Limits) (*Batch, error) {
	limits = limits.withDefaults()

	// The usual JSON content type needs no parsing.
	mediaType, params := contentType, map[string]string(nil)
	if contentType != "application/json" {
		var err error
		mediaType, params, err = mime.ParseMediaType(contentType)
		if err != nil {
			return nil, fmt.Errorf("%w: content type %q", ErrUnsupportedMediaType, contentType)
		}
	}

	switch mediaType {
	case "application/json":
		// Some Windows tools start UTF-8 text with a byte order mark, which
		// JSON parsers may ignore (RFC 8259, section 8.1).
		return decodeJSONFast(bytes.TrimPrefix(body, []byte("\ufeff")), limits)
	case "application/x-www-form-urlencoded":
		values, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("%w: form body: %v", ErrMalformed, err)
		}
		return decodeFields(EncodingForm, values, limits)
	case "multipart/form-data":
		values, err := readMultipart(body, params["boundary"], limits)
		if err != nil {
			return nil, err
		}
		return decodeFields(EncodingMultipart, values, limits)
	default:
		return nil, fmt.Errorf("%w: content type %q", ErrUnsupportedMediaType, mediaType)
	}
}

func decodeJSON(body []byte, limits Limits) (*Batch, error) {
	if err := checkJSON(body, limits.MaxJSONDepth); err != nil {
		return nil, err
	}

	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: body must be a JSON object", ErrMalformed)
	}
	if name, ok := repeatedField(body); ok {
		return nil, fmt.Errorf("%w: %w: field %s appears more than once: send each field once", ErrMalformed, ErrRepeated, name)
	}
	var raw jsonBody
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, describeJSONError(err))
	}
	if raw.EventType == nil {
		return nil, fmt.Errorf("%w: missing field event_type", ErrMalformed)
	}

	batch := &Batch{
		EventType: EventType(*raw.EventType),
		APIKey:    raw.APIKey,
		Encoding:  EncodingJSON,
	}
	if raw.ServerComposition != nil {
		batch.ServerComposition = *raw.ServerComposition
	}

	// Some senders put the JSON-encoded string in the JSON body too, as the
	// form encoding does.
	event := raw.Event
	if len(event) > 0 && event[0] == '"' {
		var inner string
		if err := json.Unmarshal(event, &inner); err != nil {
			return nil, fmt.Errorf("%w: field event: %v", ErrMalformed, err)
		}
		event = json.RawMessage(inner)
		if err := checkJSON(event, limits.MaxJSONDepth); err != nil {
			return nil, fmt.Errorf("field event: %w", err)
		}
	}

	return finishBatch(batch, event, nil)
}

func decodeFields(encoding Encoding, values url.Values, limits Limits) (*Batch, error) {
	if !values.Has("event_type") {
		return nil, fmt.Errorf("%w: missing field event_type", ErrMalformed)
	}
	// url.Values.Get reads only the first value of a field, so a repeated
	// field would lose the others unnoticed.
	for _, name := range bodyFieldNames {
		if n := len(values[name]); n > 1 {
			return nil, fmt.Errorf("%w: %w: field %s appears %d times: send each field once", ErrMalformed, ErrRepeated, name, n)
		}
	}
	batch := &Batch{
		EventType:         EventType(values.Get("event_type")),
		ServerComposition: values.Get("server_composition"),
		APIKey:            values.Get("api_key"),
		Encoding:          encoding,
	}
	for _, field := range []string{"event_type", "server_composition", "api_key"} {
		if !utf8.ValidString(values.Get(field)) {
			return nil, fmt.Errorf("%w: field %s is not valid UTF-8", ErrMalformed, field)
		}
	}

	event := []byte(values.Get("event"))
	if len(event) > 0 {
		if err := checkJSON(event, limits.MaxJSONDepth); err != nil {
			return nil, fmt.Errorf("field event: %w", err)
		}
	}
	return finishBatch(batch, event, nil)
}

// repeatedField returns the first of the body's fields (event_type,
// server_composition, api_key, event) that appears twice in a JSON object.
// The names are compared ignoring case, as encoding/json matches them, and
// encoding/json would keep only the last value.
func repeatedField(body []byte) (string, bool) {
	return repeatedKey(body, bodyFieldNames[:], true)
}

// repeatedKey returns the first member name of the JSON object in raw that
// appears more than once, among names or among all names when names is
// nil. With fold, a member matches a name that differs only in case. It
// returns false for a value that is not an object or not valid JSON,
// which the caller's decoding reports.
func repeatedKey(raw []byte, names []string, fold bool) (string, bool) {
	decoder := json.NewDecoder(bytes.NewReader(raw))
	if token, err := decoder.Token(); err != nil || token != json.Delim('{') {
		return "", false
	}
	seen := map[string]bool{}
	for decoder.More() {
		token, err := decoder.Token()
		if err != nil {
			return "", false
		}
		name, _ := token.(string)
		key, tracked := name, true
		if names != nil {
			i := slices.IndexFunc(names, func(known string) bool {
				return known == name || fold && strings.EqualFold(known, name)
			})
			tracked = i >= 0
			if tracked {
				key = names[i]
			}
		}
		if tracked {
			if seen[key] {
				return key, true
			}
			seen[key] = true
		}
		var value json.RawMessage
		if err := decoder.Decode(&value); err != nil {
			return "", false
		}
	}
	return "", false
}

// finishBatch checks the event type and splits the event field into entries.
// The field is {"<event_type>": [...]}, or a bare list from some senders.
// entries, when not nil, are the list's entries, split already by the fast
// path that read the body.
func finishBatch(batch *Batch, event json.RawMessage, entries []json.RawMessage) (*Batch, error) {
	if !utf8.ValidString(batch.ServerComposition) || !utf8.ValidString(string(batch.EventType)) {
		return nil, fmt.Errorf("%w: event_type or server_composition is not valid UTF-8", ErrMalformed)
	}
	if !batch.EventType.Valid() {
		return batch, fmt.Errorf("%w %q: expected deliveries, bounces or blocks", ErrUnknownEventType, batch.EventType)
	}

	event = bytes.TrimSpace(event)
	if len(event) == 0 || bytes.Equal(event, []byte("null")) {
		return nil, fmt.Errorf("%w: missing field event", ErrMalformed)
	}
	if entries != nil {
		batch.Entries = entries
		return batch, nil
	}
	if entries, ok := splitEntriesFast(batch.EventType, event); ok {
		batch.Entries = entries
		return batch, nil
	}

	var list json.RawMessage
	switch event[0] {
	case '[':
		list = event
	case '{':
		if name, repeated := repeatedKey(event, []string{string(batch.EventType)}, false); repeated {
			return nil, fmt.Errorf("%w: %w: field event has the %q list more than once: send one list", ErrMalformed, ErrRepeated, name)
		}
		var wrapper map[string]json.RawMessage
		if err := json.Unmarshal(event, &wrapper); err != nil {
			return nil, fmt.Errorf("%w: field event: %v", ErrMalformed, describeJSONError(err))
		}
		var ok bool
		list, ok = wrapper[string(batch.EventType)]
		if !ok {
			return nil, fmt.Errorf("%w: field event has no %q list for event_type %q",
				ErrMalformed, batch.EventType, batch.EventType)
		}
	default:
		return nil, fmt.Errorf("%w: field event must be an object or a list", ErrMalformed)
	}

	if err := json.Unmarshal(list, &batch.Entries); err != nil {
		return nil, fmt.Errorf("%w: field event.%s must be a list: %v", ErrMalformed, batch.EventType, describeJSONError(err))
	}
	return batch, nil
}

// readMultipart reads the form fields of a multipart body. Parts beyond
// limits.MaxMultipartParts are an error, not ignored, so nothing is dropped
// unnoticed.
func readMultipart(body []byte, boundary string, limits Limits) (url.Values, error) {
	if boundary == "" {
		return nil, fmt.Errorf("%w: multipart body without a boundary parameter", ErrMalformed)
	}
	reader := multipart.NewReader(bytes.NewReader(body), boundary)
	values := url.Values{}

	for parts := 0; ; parts++ {
		part, err := reader.NextPart()
		if errors.Is(err, io.EOF) {
			return values, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: multipart body: %v", ErrMalformed, err)
		}
		if parts >= limits.MaxMultipartParts {
			return nil, fmt.Errorf("%w: multipart body has more than %d parts", ErrMalformed, limits.MaxMultipartParts)
		}

		// The part is a slice of a body already bounded in size, so reading
		// it whole costs no more than the body itself.
		value, err := io.ReadAll(part)
		if err != nil {
			return nil, fmt.Errorf("%w: multipart part %q: %v", ErrMalformed, part.FormName(), err)
		}
		name := part.FormName()
		if name == "" {
			return nil, fmt.Errorf("%w: multipart part %d has no form name", ErrMalformed, parts+1)
		}
		values.Add(name, string(value))
	}
}
