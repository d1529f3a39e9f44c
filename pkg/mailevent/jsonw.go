package mailevent

import (
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// plainASCII marks the bytes that a JSON string contains unescaped:
// printable ASCII other than the quote and the backslash.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, as encoding/json does; input reaching here was checked to be
// valid UTF-8 already.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	// Every key and most values are plain printable ASCII, copied whole.
	i := plainPrefix(s)
	if i == len(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	// Valid UTF-8 needs a rune decoded only where U+2028 or U+2029 may
	// start, at a 0xE2 byte; other bytes of multi-byte runes are copied.
	valid := utf8.ValidString(s[i:])
	start := 0
	for i < len(s) {
		c := s[i]
		if valid && c >= utf8.RuneSelf && c != 0xE2 {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript readers.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Words whose eight bytes are all the same value.
const (
	eachByte01    = 0x0101010101010101
	eachByte20    = 0x2020202020202020
	eachByte80    = 0x8080808080808080
	eachQuote     = 0x2222222222222222
	eachBackslash = 0x5c5c5c5c5c5c5c5c
)

// plainPrefix returns the length of the longest prefix of s whose bytes
// are all plainASCII. It tests eight bytes at a time: a word is plain
// when no byte is below 0x20, at or above 0x80, a quote or a backslash.
// A word that may contain such a byte is scanned again byte by byte.
func plainPrefix(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		quote, backslash := x^eachQuote, x^eachBackslash
		special := (x-eachByte20)&^x | // a byte below 0x20
			x | // a byte at or above 0x80
			(quote-eachByte01)&^quote |
			(backslash-eachByte01)&^backslash
		if special&eachByte80 != 0 {
			break
		}
	}
	for i < len(s) && plainASCII[s[i]] {
		i++
	}
	return i
}

// objectWriter appends the members of one JSON object.
type objectWriter struct {
	buf   []byte
	count int
}

// next opens the object before its first member, and separates the
// members after it.
func (w *objectWriter) next() {
	if w.count == 0 {
		w.buf = append(w.buf, '{')
	} else {
		w.buf = append(w.buf, ',')
	}
	w.count++
}

func (w *objectWriter) key(name string) {
	w.next()
	w.buf = appendJSONString(w.buf, name)
	w.buf = append(w.buf, ':')
}

// plainKey writes a member name without escaping it. Callers pass only
// names written in this package's code, of plain printable ASCII.
func (w *objectWriter) plainKey(name string) {
	w.next()
	w.buf = append(w.buf, '"')
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, '"', ':')
}

// field writes a string member whose name needs no escaping (see
// plainKey).
func (w *objectWriter) field(name, value string) {
	w.plainKey(name)
	w.buf = appendJSONString(w.buf, value)
}

func (w *objectWriter) str(name, value string) {
	w.key(name)
	w.buf = appendJSONString(w.buf, value)
}

func (w *objectWriter) raw(name string, value []byte) {
	w.key(name)
	w.buf = append(w.buf, value...)
}

func (w *objectWriter) boolean(name string, value bool) {
	w.key(name)
	w.buf = strconv.AppendBool(w.buf, value)
}

func (w *objectWriter) close() []byte {
	if w.count == 0 {
		w.buf = append(w.buf, '{')
	}
	return append(w.buf, '}')
}
