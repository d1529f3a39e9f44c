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
	// The event field's list is split as it is read: the field itself, or
	// the one list in it. Which name the list must have is known only
	// once event_type is read, which may come later.
	var entries []json.RawMessage
	var listKey []byte
	lists := 0
	// The names in the event object, for the checks splitEntriesFast makes:
	// no escaped name, and the event type's name once.
	var eventKeys [8][]byte
	eventKeyCount, eventKeyEscaped := 0, false
	eventKey := func(keyStart, keyEnd int, keyEscaped bool, _, _ int) bool {
		eventKeyEscaped = eventKeyEscaped || keyEscaped
		if eventKeyCount < len(eventKeys) {
			eventKeys[eventKeyCount] = body[keyStart:keyEnd]
		}
		eventKeyCount++
		return true
	}
	addEntry := func(start, end int) {
		entries = append(entries, json.RawMessage(body[start:end:end]))
	}
	readList := func(start, room int) (int, bool, bool) {
		lists++
		if lists > 1 {
			return 0, false, false
		}
		entries = make([]json.RawMessage, 0, 16)
		end, ok := scanArray(body, start, room-1, addEntry)
		return end, true, ok
	}
	inEvent := func(keyStart, keyEnd, start, room int) (int, bool, bool) {
		if start >= len(body) || body[start] != '[' || room <= 0 {
			return 0, false, false
		}
		listKey = body[keyStart:keyEnd]
		return readList(start, room)
	}
	event := func(keyStart, keyEnd, start, room int) (int, bool, bool) {
		if string(body[keyStart:keyEnd]) != "event" || start >= len(body) || room <= 0 {
			return 0, false, false
		}
		switch body[start] {
		case '[':
			return readList(start, room)
		case '{':
			end, ok := scanObject(body, start, room-1, eventKey, inEvent)
			return end, true, ok
		}
		return 0, false, false
	}

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
	}, event)
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
	// Entries stand only for the one list where it belongs; anything else
	// is split again by finishBatch.
	if lists != 1 || len(eventField) == 0 || (eventField[0] == '{' && !onlyList(eventKeys[:min(eventKeyCount, len(eventKeys))],
		eventKeyCount, eventKeyEscaped, listKey, text[0])) {
		entries = nil
	}
	batch := &Batch{
		EventType:         EventType(text[0]),
		ServerComposition: text[1],
		APIKey:            text[2],
		Encoding:          EncodingJSON,
	}
	return batch, json.RawMessage(eventField), entries, true
}

// onlyList reports whether the list split from the event object was the
// one under eventType's name, which no other name in the object repeats.
// keys are the object's first names, of count in all.
func onlyList(keys [][]byte, count int, escaped bool, listKey []byte, eventType string) bool {
	if escaped || count > len(keys) || string(listKey) != eventType {
		return false
	}
	matches := 0
	for _, key := range keys {
		if string(key) == eventType {
			matches++
		}
	}
	return matches == 1
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
