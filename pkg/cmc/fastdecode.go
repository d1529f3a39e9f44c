package cmc

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Fast paths of Decode. Each reads the common, plain shape of a webhook in
// one pass over the bytes, without encoding/json's reflection and copies,
// and returns ok false for anything else: escapes in the fields it reads,
// repeated or case-folded keys, or invalid JSON. The slow path then gives
// the same result, or the error, as before. Entries are slices of the
// body, capped so that an append cannot overwrite it.

// fastPaths turns the fast paths on. Tests turn them off to compute the
// slow path's result for comparison.
var fastPaths = true

// bodyFieldNames are the top-level fields that decodeJSON reads.
// encoding/json matches struct fields case-insensitively, so a key that
// differs from one of these only in case goes to the slow path.
var bodyFieldNames = [...]string{"event_type", "server_composition", "api_key", "event"}

// decodeJSONFast decodes a JSON body like decodeJSON.
// It skips decodeJSON's separate pass of checkJSON: the scanner enforces
// limits.MaxJSONDepth itself, and a body that fails either check goes to
// decodeJSON, which reports it.
func decodeJSONFast(body []byte, limits Limits) (*Batch, error) {
	if !fastPaths || !utf8.Valid(body) {
		return decodeJSON(body, limits)
	}
	batch, event, entries, ok := scanBody(body, limits.MaxJSONDepth)
	if !ok {
		return decodeJSON(body, limits)
	}
	return finishBatch(batch, event, entries)
}

// scanBody reads the top-level object of a JSON body, nested at most
// maxDepth levels deep with the object itself. It returns the batch
// without entries and the raw event field. When the event field is a list,
// or an object with one list under the event type's name, it also returns
// the list's entries, split as the list was read.
func scanBody(body []byte, maxDepth int) (*Batch, json.RawMessage, []json.RawMessage, bool) {
	start := skipSpace(body, 0)
	if start >= len(body) || body[start] != '{' {
		return nil, nil, nil, false
	}
	var values [len(bodyFieldNames)][]byte
	var seen [len(bodyFieldNames)]bool
	list := &eventList{body: body}

	end, ok := scanObject(body, start, maxDepth-1, func(keyStart, keyEnd int, keyEscaped bool, valueStart, valueEnd int) bool {
		if keyEscaped {
			return false
		}
		key := body[keyStart:keyEnd]
		for _, c := range key {
			if c >= utf8.RuneSelf {
				return false
			}
		}
		for i, name := range bodyFieldNames {
			if string(key) == name {
				if seen[i] {
					return false
				}
				seen[i] = true
				values[i] = body[valueStart:valueEnd:valueEnd]
				return true
			}
			if strings.EqualFold(string(key), name) {
				return false
			}
		}
		return true
	}, list.readField)
	if !ok || skipSpace(body, end) != len(body) {
		return nil, nil, nil, false
	}

	// The three text fields must be plain strings, and event_type present.
	var text [3]string
	for i := range text {
		if !seen[i] {
			continue
		}
		s, ok := plainString(values[i])
		if !ok {
			return nil, nil, nil, false
		}
		text[i] = s
	}
	if !seen[0] {
		return nil, nil, nil, false
	}
	eventField := values[3]
	if len(eventField) > 0 && eventField[0] == '"' {
		return nil, nil, nil, false
	}
	batch := &Batch{
		EventType:         EventType(text[0]),
		ServerComposition: text[1],
		APIKey:            text[2],
		Encoding:          EncodingJSON,
	}
	return batch, json.RawMessage(eventField), list.entriesOf(eventField, text[0]), true
}

// eventList splits the event field's list while the body is read: the
// field itself, or the one list in the field's object. The name that list
// must have is known only once event_type is read, which may come later.
type eventList struct {
	body    []byte
	entries []json.RawMessage
	lists   int
	listKey []byte
	// keys are the object's first names, and keyCount the number of all.
	keys     [8][]byte
	keyCount int
	escaped  bool
}

// readField reads the event field's value, as the body's valueFunc.
func (l *eventList) readField(keyStart, keyEnd, start, room int) (int, bool, bool) {
	if string(l.body[keyStart:keyEnd]) != "event" || start >= len(l.body) || room <= 0 {
		return 0, false, false
	}
	switch l.body[start] {
	case '[':
		return l.readList(start, room)
	case '{':
		end, ok := scanObject(l.body, start, room-1, l.addKey, l.readMember)
		return end, true, ok
	}
	return 0, false, false
}

// readMember reads a list in the event field's object, as its valueFunc.
func (l *eventList) readMember(keyStart, keyEnd, start, room int) (int, bool, bool) {
	if start >= len(l.body) || l.body[start] != '[' || room <= 0 {
		return 0, false, false
	}
	l.listKey = l.body[keyStart:keyEnd]
	return l.readList(start, room)
}

// readList splits the first list it is given. It leaves any later one to
// scanObject.
func (l *eventList) readList(start, room int) (int, bool, bool) {
	l.lists++
	if l.lists > 1 {
		return 0, false, false
	}
	l.entries = make([]json.RawMessage, 0, 16)
	end, ok := scanArray(l.body, start, room-1, l.addEntry)
	return end, true, ok
}

func (l *eventList) addEntry(start, end int) {
	l.entries = append(l.entries, json.RawMessage(l.body[start:end:end]))
}

// addKey records a name of the event field's object, for the checks that
// splitEntriesFast makes: no escaped name, and the event type's name once.
func (l *eventList) addKey(keyStart, keyEnd int, keyEscaped bool, _, _ int) bool {
	l.escaped = l.escaped || keyEscaped
	if l.keyCount < len(l.keys) {
		l.keys[l.keyCount] = l.body[keyStart:keyEnd]
	}
	l.keyCount++
	return true
}

// entriesOf returns the split entries when they are eventField's one list
// for eventType, and nil otherwise, so that finishBatch splits the field
// again.
func (l *eventList) entriesOf(eventField []byte, eventType string) []json.RawMessage {
	if l.lists != 1 || len(eventField) == 0 {
		return nil
	}
	if eventField[0] == '[' {
		return l.entries
	}
	if l.escaped || l.keyCount > len(l.keys) || string(l.listKey) != eventType {
		return nil
	}
	matches := 0
	for _, key := range l.keys[:l.keyCount] {
		if string(key) == eventType {
			matches++
		}
	}
	if matches != 1 {
		return nil
	}
	return l.entries
}

// plainString returns the text of a scanned JSON string without escapes.
func plainString(value []byte) (string, bool) {
	if len(value) < 2 || value[0] != '"' {
		return "", false
	}
	inner := value[1 : len(value)-1]
	for _, c := range inner {
		if c == '\\' {
			return "", false
		}
	}
	return string(inner), true
}

// splitEntriesFast splits the event field, trimmed and not null, into its
// entries: the list itself, or the list under the event type's key.
func splitEntriesFast(eventType EventType, event []byte) ([]json.RawMessage, bool) {
	if !fastPaths || len(event) == 0 {
		return nil, false
	}
	list := event
	if event[0] == '{' {
		var found []byte
		end, ok := scanObject(event, 0, maxScanDepth, func(keyStart, keyEnd int, keyEscaped bool, valueStart, valueEnd int) bool {
			if keyEscaped {
				return false
			}
			if string(event[keyStart:keyEnd]) != string(eventType) {
				return true
			}
			if found != nil {
				return false
			}
			found = event[valueStart:valueEnd]
			return true
		}, nil)
		if !ok || end != len(event) || found == nil {
			return nil, false
		}
		list = found
	}
	if list[0] != '[' {
		return nil, false
	}

	entries := make([]json.RawMessage, 0, 16)
	end, ok := scanArray(list, 0, maxScanDepth, func(start, end int) {
		entries = append(entries, json.RawMessage(list[start:end:end]))
	})
	if !ok || end != len(list) {
		return nil, false
	}
	return entries, true
}
