package cmc

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// maxFastFields is the largest number of fields parseEntryFast reads; a
// record with more goes to the slow path. CMC sends 9 to 12.
const maxFastFields = 32

// parseEntryFast reads a record like ParseEntry does, for records without
// escaped keys or values of the wrong type. It returns ok false for
// anything else, and ParseEntry then reads the record the slow way.
//
// The record is copied into one string, and every field is a substring of
// it, so that a record costs one allocation instead of one per field.
// Unknown fields in Extra are slices of raw.
func parseEntryFast(raw json.RawMessage) (Entry, bool) {
	if !fastPaths || !utf8.Valid(raw) {
		return Entry{}, false
	}
	start := skipSpace(raw, 0)
	if start >= len(raw) || raw[start] != '{' {
		return Entry{}, false
	}

	var spans [maxFastFields]memberSpan
	members, end, ok := scanMembers(raw, start, maxScanDepth, spans[:0])
	if !ok || len(members) > maxFastFields || skipSpace(raw, end) != len(raw) {
		return Entry{}, false
	}
	text := string(raw)
	key := func(m memberSpan) string { return text[m.keyStart:m.keyEnd] }

	// Repeated keys are rare, and encoding/json's last-wins rule is simpler
	// to keep by leaving them to the slow path. Known names are checked
	// with a bit each, unknown ones against the unknown ones before them.
	var fields [maxFastFields]int8
	var seen uint16
	for i, m := range members {
		if m.keyEscaped {
			return Entry{}, false
		}
		name := key(m)
		f := fieldIndex(name)
		fields[i] = int8(f)
		if f >= 0 {
			if seen&(1<<f) != 0 {
				return Entry{}, false
			}
			seen |= 1 << f
			continue
		}
		for j, earlier := range members[:i] {
			if fields[j] < 0 && key(earlier) == name {
				return Entry{}, false
			}
		}
	}

	entry := Entry{Version: 2}
	for i, m := range members {
		f := int(fields[i])
		if v2, isV1 := version2Field(f); isV1 {
			if seen&(1<<v2) != 0 {
				f = -1
			} else {
				entry.Version = 1
			}
		}
		if f < 0 {
			if entry.Extra == nil {
				entry.Extra = make(map[string]json.RawMessage)
			}
			entry.Extra[key(m)] = json.RawMessage(raw[m.valueStart:m.valueEnd:m.valueEnd])
			continue
		}
		value, ok := fastFieldText(text[m.valueStart:m.valueEnd])
		if !ok {
			return Entry{}, false
		}
		*entry.fieldAt(f) = value
	}
	return entry, true
}

// fastFieldText reads a known field's value as fieldText does, for a
// string without escapes, a number or null.
func fastFieldText(value string) (string, bool) {
	switch c := value[0]; {
	case c == '"':
		inner := value[1 : len(value)-1]
		if strings.IndexByte(inner, '\\') >= 0 {
			return "", false
		}
		return inner, true
	case c == '-' || isDigit(c):
		return value, true
	case c == 'n':
		return "", true
	}
	return "", false
}

// parseCreatedFast reads created in CMC's documented layout,
// "2006-01-02 15:04:05", in loc. It returns ok false for any other text,
// which ParseCreated then tries against every layout it accepts. The
// check of byte 10 skips the RFC 3339 attempt, which needs a 'T' there.
//
// For every text it accepts, it returns what
// time.ParseInLocation(createdLayouts[0], created, loc) returns. It
// rejects some texts that ParseInLocation accepts, such as a one-digit
// hour, which ParseCreated then reads the slow way. The fast path tests
// compare ParseCreated with and without this path.
func parseCreatedFast(created string, loc *time.Location) (time.Time, bool) {
	if !fastPaths || len(created) != len(createdLayouts[0]) || created[10] != ' ' ||
		created[4] != '-' || created[7] != '-' || created[13] != ':' || created[16] != ':' {
		return time.Time{}, false
	}
	valid := true
	number := func(start, end int) int {
		n, ok := parseDigits(created[start:end])
		valid = valid && ok
		return n
	}
	year, month, day := number(0, 4), number(5, 7), number(8, 10)
	hour, minute, second := number(11, 13), number(14, 16), number(17, 19)
	if !valid || month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) ||
		hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, second, 0, loc), true
}

// parseDigits reads s as a decimal number. It returns false when s
// contains anything but ASCII digits.
func parseDigits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn returns the number of days in month m of year y.
func daysIn(m time.Month, y int) int {
	if m == time.February && y%4 == 0 && (y%100 != 0 || y%400 == 0) {
		return 29
	}
	return monthDays[m-1]
}

var monthDays = [12]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
