package cmc

import (
	"encoding/json"
	"time"
	"unicode/utf8"
)

// maxFastFields is the largest number of fields parseEntryFast reads; a
// record with more goes to the slow path. CMC sends 9 to 12.
const maxFastFields = 32

// parseEntryFast reads a record like ParseEntry does, for records without
// repeated keys, escaped keys or values of the wrong type. It returns ok
// false for anything else, and ParseEntry then reads the record the slow
// way. Unknown fields in Extra are slices of raw.
func parseEntryFast(raw json.RawMessage) (Entry, bool) {
	if !fastPaths || !utf8.Valid(raw) {
		return Entry{}, false
	}
	start := skipSpace(raw, 0)
	if start >= len(raw) || raw[start] != '{' {
		return Entry{}, false
	}

	type member struct{ key, value []byte }
	var members [maxFastFields]member
	n := 0
	end, ok := scanObject(raw, start, 1, func(keyStart, keyEnd int, keyEscaped bool, valueStart, valueEnd int) bool {
		if keyEscaped || n == len(members) {
			return false
		}
		key := raw[keyStart:keyEnd]
		for _, m := range members[:n] {
			if string(m.key) == string(key) {
				return false
			}
		}
		members[n] = member{key: key, value: raw[valueStart:valueEnd:valueEnd]}
		n++
		return true
	})
	if !ok || skipSpace(raw, end) != len(raw) {
		return Entry{}, false
	}

	has := func(name string) bool {
		for _, m := range members[:n] {
			if string(m.key) == name {
				return true
			}
		}
		return false
	}

	entry := Entry{Version: 2}
	for _, m := range members[:n] {
		name := string(m.key)
		place, known := entryFields[name]
		if v2, isV1 := version1Names[name]; isV1 {
			if has(v2) {
				known = false
			} else {
				entry.Version = 1
			}
		}
		if !known {
			if entry.Extra == nil {
				entry.Extra = make(map[string]json.RawMessage)
			}
			entry.Extra[name] = json.RawMessage(m.value)
			continue
		}
		text, ok := fastFieldText(m.value)
		if !ok {
			return Entry{}, false
		}
		*place(&entry) = text
	}
	return entry, true
}

// fastFieldText reads a known field's value as fieldText does, for a
// string without escapes, a number or null.
func fastFieldText(value []byte) (string, bool) {
	switch c := value[0]; {
	case c == '"':
		return plainString(value)
	case c == '-' || isDigit(c):
		return string(value), true
	case c == 'n':
		return "", true
	}
	return "", false
}

// parseCreatedFast reads created in CMC's documented layout,
// "2006-01-02 15:04:05", in loc. It returns ok false for any other text,
// which ParseCreated then tries against every layout it accepts. The
// check of byte 10 skips the RFC 3339 attempt, which needs a 'T' there.
func parseCreatedFast(created string, loc *time.Location) (time.Time, bool) {
	if !fastPaths || len(created) != len(createdLayouts[0]) || created[10] != ' ' {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(createdLayouts[0], created, loc)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
