package suppression

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// decodeCheck reads a check body: {"addresses": [...]} or [...].
// parseStringArray reads these two shapes several times faster than
// encoding/json does. Any other shape, such as an object with more
// members, goes through encoding/json.
func decodeCheck(body []byte) ([]string, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		if addresses, ok := parseStringArray(body); ok {
			return addresses, nil
		}
		var addresses []string
		err := json.Unmarshal(body, &addresses)
		return addresses, err
	}
	if rest, ok := bytes.CutPrefix(body, []byte("{")); ok {
		rest = bytes.TrimSpace(rest)
		if rest, ok = bytes.CutPrefix(rest, []byte(`"addresses"`)); ok {
			rest = bytes.TrimSpace(rest)
			if rest, ok = bytes.CutPrefix(rest, []byte(":")); ok {
				if array, ok := bytes.CutSuffix(rest, []byte("}")); ok {
					if addresses, ok := parseStringArray(bytes.TrimSpace(array)); ok {
						return addresses, nil
					}
				}
			}
		}
	}
	var req CheckRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	if req.Addresses == nil {
		return nil, errors.New("member addresses is missing")
	}
	return req.Addresses, nil
}

// parseStringArray reads a JSON array of strings. The strings share one
// copy of data, so parsing allocates twice rather than once per string.
// It returns false for anything else, and for strings with escapes,
// bytes that JSON does not allow unescaped or invalid UTF-8, which the
// caller then reads with encoding/json.
func parseStringArray(data []byte) ([]string, bool) {
	if len(data) < 2 || data[0] != '[' || data[len(data)-1] != ']' {
		return nil, false
	}
	text := string(data)
	addresses := make([]string, 0, bytes.Count(data, []byte(","))+1)
	i := skipSpace(text, 1)
	if text[i] == ']' {
		return addresses, i == len(text)-1
	}
	for {
		if text[i] != '"' {
			return nil, false
		}
		end, ascii := i+1, true
		for end < len(text) && text[end] != '"' {
			c := text[end]
			if c == '\\' || c < 0x20 {
				return nil, false
			}
			ascii = ascii && c < utf8.RuneSelf
			end++
		}
		// encoding/json replaces invalid UTF-8, so leave that to it.
		if end == len(text) || (!ascii && !utf8.ValidString(text[i+1:end])) {
			return nil, false
		}
		addresses = append(addresses, text[i+1:end])
		i = skipSpace(text, end+1)
		switch text[i] {
		case ',':
			i = skipSpace(text, i+1)
		case ']':
			return addresses, i == len(text)-1
		default:
			return nil, false
		}
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space. It never passes the last byte, the closing ']'.
func skipSpace(text string, i int) int {
	for i < len(text)-1 {
		switch text[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}
