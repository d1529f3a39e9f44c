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
	i := 0
	for i < len(s) && plainASCII[s[i]] {
		i++
	}
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

// objectWriter appends the members of one JSON object.
type objectWriter struct {
	buf   []byte
	count int
}

func (w *objectWriter) key(name string) {
	if w.count == 0 {
		w.buf = append(w.buf, '{')
	} else {
		w.buf = append(w.buf, ',')
	}
	w.count++
	w.buf = appendJSONString(w.buf, name)
	w.buf = append(w.buf, ':')
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
