package cmc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Entry is one record of a batch: a delivery, a bounce or a block.
// Field names are webhook version 2 names; a version 1 record's
// envelopeFrom is in ReturnPath and its envelopeTo in To.
type Entry struct {
	// Version is 1 when the record used version 1 field names, else 2.
	Version int

	Created    string
	ReturnPath string
	From       string
	To         string
	MessageID  string
	Subject    string
	Reason     string
	SenderIP   string
	SourceIP   string
	APIData    string
	Status     string

	// Email is the address of a block record.
	Email string

	// Extra holds the fields this package does not read, as sent, so that
	// none is dropped. It is nil when there are none.
	Extra map[string]json.RawMessage
}

// field returns the place in e of a known JSON field name, and nil for
// any other name.
func (e *Entry) field(name string) *string {
	if i := fieldIndex(name); i >= 0 {
		return e.fieldAt(i)
	}
	return nil
}

// fieldIndex numbers the known JSON field names from 0 to 13, and returns
// -1 for any other name. A switch finds them faster than a map on the hot
// path.
func fieldIndex(name string) int {
	switch name {
	case "created":
		return 0
	case "returnPath":
		return 1
	case "envelopeFrom":
		return 2
	case "from":
		return 3
	case "to":
		return 4
	case "envelopeTo":
		return 5
	case "messageId":
		return 6
	case "subject":
		return 7
	case "reason":
		return 8
	case "senderIp":
		return 9
	case "sourceIp":
		return 10
	case "apiData":
		return 11
	case "status":
		return 12
	case "email":
		return 13
	}
	return -1
}

// fieldAt returns the place in e of the known field numbered i.
func (e *Entry) fieldAt(i int) *string {
	switch i {
	case 0:
		return &e.Created
	case 1, 2:
		return &e.ReturnPath
	case 3:
		return &e.From
	case 4, 5:
		return &e.To
	case 6:
		return &e.MessageID
	case 7:
		return &e.Subject
	case 8:
		return &e.Reason
	case 9:
		return &e.SenderIP
	case 10:
		return &e.SourceIP
	case 11:
		return &e.APIData
	case 12:
		return &e.Status
	case 13:
		return &e.Email
	}
	return nil
}

// version2Field returns the number of the version 2 field of the version 1
// field numbered i (envelopeFrom, envelopeTo).
func version2Field(i int) (int, bool) {
	switch i {
	case 2:
		return 1, true
	case 5:
		return 4, true
	}
	return 0, false
}

// version2Name returns the version 2 name of a version 1 field name.
func version2Name(name string) (string, bool) {
	switch name {
	case "envelopeFrom":
		return "returnPath", true
	case "envelopeTo":
		return "to", true
	}
	return "", false
}

// ParseEntry reads one raw record of a batch.
//
// A known field may be a JSON string, a number (read as its literal text)
// or null (read as empty). It returns an error wrapping ErrMalformed when
// the record is not a JSON object or a known field has another type.
// When a record carries both a version 1 name and its version 2 name, the
// version 2 value wins and the version 1 value stays in Extra.
func ParseEntry(raw json.RawMessage) (Entry, error) {
	if entry, ok := parseEntryFast(raw); ok {
		return entry, nil
	}
	var fields map[string]json.RawMessage
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Entry{}, fmt.Errorf("%w: entry is not a JSON object", ErrMalformed)
	}
	if name, repeated := repeatedKey(trimmed, nil, false); repeated {
		return Entry{}, fmt.Errorf("%w: %w: entry has the field %s more than once", ErrMalformed, ErrRepeated, name)
	}
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return Entry{}, fmt.Errorf("%w: entry: %v", ErrMalformed, describeJSONError(err))
	}

	entry := Entry{Version: 2}
	for _, name := range sortedKeys(fields) {
		value := fields[name]
		place := entry.field(name)
		if v2, isV1 := version2Name(name); isV1 {
			if _, hasV2 := fields[v2]; hasV2 {
				place = nil
			} else {
				entry.Version = 1
			}
		}
		if place == nil {
			if entry.Extra == nil {
				entry.Extra = make(map[string]json.RawMessage)
			}
			entry.Extra[name] = value
			continue
		}

		text, err := fieldText(value)
		if err != nil {
			return Entry{}, fmt.Errorf("%w: entry field %s: %v", ErrMalformed, name, err)
		}
		*place = text
	}
	return entry, nil
}

// Recipient returns the address the record is about: To, or Email for a
// block record that has no To.
func (e *Entry) Recipient() string {
	if e.To != "" {
		return e.To
	}
	return e.Email
}

// fieldText reads a known field's value as text.
func fieldText(value json.RawMessage) (string, error) {
	value = bytes.TrimSpace(value)
	if len(value) == 0 {
		return "", nil
	}
	switch c := value[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(value, &s); err != nil {
			return "", err
		}
		return s, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return string(value), nil
	case bytes.Equal(value, []byte("null")):
		return "", nil
	default:
		return "", fmt.Errorf("expected a string, got %s", jsonKind(c))
	}
}

func jsonKind(first byte) string {
	switch first {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	}
	return "an invalid value"
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// createdLayouts are the layouts ParseCreated accepts, the first being the
// one CMC documents.
var createdLayouts = []string{
	"2006-01-02 15:04:05",
	"2006/01/02 15:04:05",
	"2006-01-02T15:04:05",
}

// ParseCreated reads a record's created field. CMC writes it without an
// offset in the time zone set for the webhook, given here as loc. An
// RFC 3339 value with its own offset is read with that offset.
func ParseCreated(created string, loc *time.Location) (time.Time, error) {
	created = strings.TrimSpace(created)
	if created == "" {
		return time.Time{}, fmt.Errorf("%w: missing field created", ErrMalformed)
	}
	if t, ok := parseCreatedFast(created, loc); ok {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, created); err == nil {
		return t, nil
	}
	for _, layout := range createdLayouts {
		if t, err := time.ParseInLocation(layout, created, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: field created %q is not a time of the form YYYY-MM-DD HH:MM:SS", ErrMalformed, created)
}
