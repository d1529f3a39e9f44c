package cmc

import "encoding/binary"

// A strict JSON scanner for the fast paths of Decode and ParseEntry. It
// finds value boundaries without decoding, and it reports failure for
// anything it does not accept, valid or not: the callers then fall back
// to encoding/json, whose result and error messages stay the reference.
// It accepts only RFC 8259 JSON, so it never takes text that
// encoding/json would reject. Callers check UTF-8 validity first.

// maxScanDepth bounds the scanner's recursion where no smaller limit
// applies. Each scan function takes the room left for nested objects and
// arrays, and a value that needs more fails the scan.
const maxScanDepth = 256

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r'
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// plainStringByte marks the bytes that a JSON string may contain without
// a closer look: everything but '"', '\\' and control characters.
var plainStringByte = func() (table [256]bool) {
	for c := 0x20; c < 256; c++ {
		table[c] = c != '"' && c != '\\'
	}
	return table
}()

// scanString reads the string that starts at data[i] == '"'. It returns
// the index after the closing quote and whether the string has escapes.
func scanString(data []byte, i int) (end int, escaped bool, ok bool) {
	i++
	for {
		i = skipPlainWords(data, i)
		for i < len(data) && plainStringByte[data[i]] {
			i++
		}
		if i >= len(data) {
			return 0, false, false
		}
		switch data[i] {
		case '"':
			return i + 1, escaped, true
		case '\\':
			escaped = true
			if i+1 >= len(data) {
				return 0, false, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(data) {
					return 0, false, false
				}
				for _, h := range data[i+2 : i+6] {
					if !isHexDigit(h) {
						return 0, false, false
					}
				}
				i += 6
			default:
				return 0, false, false
			}
		default:
			// A control character.
			return 0, false, false
		}
	}
}

// skipPlainWords skips data from i, eight bytes at a time, while none of
// the eight is '"', '\\' or a control character. It tests the eight at once
// with carry tricks. A byte b gives a high bit in (x - 0x01..) &^ x where b
// is zero, and in (x - 0x20..) &^ x where b is below 0x20. A test may also
// flag a byte after a flagged one, which only ends the skip early.
func skipPlainWords(data []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for i+8 <= len(data) {
		x := binary.LittleEndian.Uint64(data[i:])
		quote := x ^ (ones * '"')
		backslash := x ^ (ones * '\\')
		special := (quote - ones) &^ quote
		special |= (backslash - ones) &^ backslash
		special |= (x - ones*0x20) &^ x
		if special&highs != 0 {
			return i
		}
		i += 8
	}
	return i
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber reads the number that starts at data[i].
func scanNumber(data []byte, i int) (int, bool) {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return 0, false
	}
	if i < len(data) && data[i] == '.' {
		i++
		start := i
		for i < len(data) && isDigit(data[i]) {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		start := i
		for i < len(data) && isDigit(data[i]) {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	return i, true
}

// scanValue reads the value that starts at data[i], which is not white
// space, and returns the index after it.
func scanValue(data []byte, i, room int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	switch c := data[i]; {
	case c == '"':
		end, _, ok := scanString(data, i)
		return end, ok
	case c == '{' && room > 0:
		return scanObject(data, i, room-1, nil, nil)
	case c == '[' && room > 0:
		return scanArray(data, i, room-1, nil)
	case c == '-' || isDigit(c):
		return scanNumber(data, i)
	case c == 't':
		return scanLiteral(data, i, "true")
	case c == 'f':
		return scanLiteral(data, i, "false")
	case c == 'n':
		return scanLiteral(data, i, "null")
	}
	return 0, false
}

func scanLiteral(data []byte, i int, literal string) (int, bool) {
	if len(data)-i < len(literal) || string(data[i:i+len(literal)]) != literal {
		return 0, false
	}
	return i + len(literal), true
}

// memberFunc is called for each member of an object with the key's span
// (without quotes), whether the key has escapes, and the value's span. It
// returns false to stop the scan as failed.
type memberFunc func(keyStart, keyEnd int, keyEscaped bool, valueStart, valueEnd int) bool

// valueFunc is a hook that may read a member's value from data[start],
// with room levels of nesting left, so that a caller splits a list while
// reading it. It returns handled false to leave the value to scanObject.
type valueFunc func(keyStart, keyEnd, start, room int) (end int, handled, ok bool)

// scanObject reads the object that starts at data[i] == '{'. It calls
// member, when not nil, for each member, and offers each member's value to
// value, when not nil, before reading it itself.
func scanObject(data []byte, i, room int, member memberFunc, value valueFunc) (int, bool) {
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, true
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return 0, false
		}
		keyEnd, keyEscaped, ok := scanString(data, i)
		if !ok {
			return 0, false
		}
		keyStart := i + 1
		i = skipSpace(data, keyEnd)
		if i >= len(data) || data[i] != ':' {
			return 0, false
		}
		valueStart := skipSpace(data, i+1)
		var valueEnd int
		handled := false
		if value != nil {
			valueEnd, handled, ok = value(keyStart, keyEnd-1, valueStart, room)
		}
		if !handled {
			valueEnd, ok = scanValue(data, valueStart, room)
		}
		if !ok {
			return 0, false
		}
		if member != nil && !member(keyStart, keyEnd-1, keyEscaped, valueStart, valueEnd) {
			return 0, false
		}
		i = skipSpace(data, valueEnd)
		if i >= len(data) {
			return 0, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// scanArray reads the array that starts at data[i] == '[', calling
// element, when not nil, with each element's span.
func scanArray(data []byte, i, room int, element func(start, end int)) (int, bool) {
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1, true
	}
	for {
		start := i
		end, ok := scanValue(data, start, room)
		if !ok {
			return 0, false
		}
		if element != nil {
			element(start, end)
		}
		i = skipSpace(data, end)
		if i >= len(data) {
			return 0, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case ']':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// memberSpan is the position of one object member: the key without its
// quotes, and the value.
type memberSpan struct {
	keyStart, keyEnd     int
	valueStart, valueEnd int
	keyEscaped           bool
}

// scanMembers reads the object that starts at data[i] == '{' like
// scanObject, appending each member's span to dst. Unlike a callback, a
// dst backed by the caller's array stays on the caller's stack.
func scanMembers(data []byte, i, room int, dst []memberSpan) ([]memberSpan, int, bool) {
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return dst, i + 1, true
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return dst, 0, false
		}
		keyEnd, keyEscaped, ok := scanString(data, i)
		if !ok {
			return dst, 0, false
		}
		m := memberSpan{keyStart: i + 1, keyEnd: keyEnd - 1, keyEscaped: keyEscaped}
		i = skipSpace(data, keyEnd)
		if i >= len(data) || data[i] != ':' {
			return dst, 0, false
		}
		m.valueStart = skipSpace(data, i+1)
		m.valueEnd, ok = scanValue(data, m.valueStart, room)
		if !ok {
			return dst, 0, false
		}
		dst = append(dst, m)
		i = skipSpace(data, m.valueEnd)
		if i >= len(data) {
			return dst, 0, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return dst, i + 1, true
		default:
			return dst, 0, false
		}
	}
}
