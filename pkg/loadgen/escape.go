package loadgen

import "slices"

const upperHex = "0123456789ABCDEF"

// appendJSONString writes s as a JSON string.
func appendJSONString(out []byte, s string) []byte {
	out = append(out, '"')
	out = appendJSONText(out, s)
	return append(out, '"')
}

// appendJSONText writes the inside of a JSON string holding s. s is valid
// UTF-8, so only quotes, backslashes and control characters need escapes.
func appendJSONText(out []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c < 0x20:
			out = append(out, `\u00`...)
			out = append(out, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			out = append(out, c)
		}
	}
	return out
}

// queryUnreserved marks the bytes that a form value carries as they are:
// ASCII letters, digits and "-_.~". Every other byte is percent-encoded,
// except the space, which becomes "+".
var queryUnreserved = func() (table [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		table[c] = true
		table[c-'a'+'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		table[c] = true
	}
	for _, c := range "-_.~" {
		table[c] = true
	}
	return table
}()

// appendQueryEscaped writes s encoded as url.QueryEscape encodes it,
// without building a string. It grows out once for the longest result,
// three bytes for each byte of s, and then writes by index.
func appendQueryEscaped[T string | []byte](out []byte, s T) []byte {
	n := len(out)
	out = slices.Grow(out, 3*len(s))[:n+3*len(s)]
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case queryUnreserved[c]:
			out[n] = c
			n++
		case c == ' ':
			out[n] = '+'
			n++
		default:
			out[n], out[n+1], out[n+2] = '%', upperHex[c>>4], upperHex[c&0xf]
			n += 3
		}
	}
	return out[:n]
}
