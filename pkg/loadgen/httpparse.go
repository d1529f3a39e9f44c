package loadgen

import (
	"bytes"
	"encoding/json"
)

// parseStatusLine reads "HTTP/1.<minor> <3-digit code>[ <reason>]".
func parseStatusLine(line []byte) (minor, status int, ok bool) {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || !isDigit(line[7]) || line[8] != ' ' {
		return 0, 0, false
	}
	if len(line) > 12 && line[12] != ' ' {
		return 0, 0, false
	}
	for _, c := range line[9:12] {
		if !isDigit(c) {
			return 0, 0, false
		}
		status = status*10 + int(c-'0')
	}
	return int(line[7] - '0'), status, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseDecimal reads a non-negative decimal integer of at most 18 digits,
// which cannot overflow an int64.
func parseDecimal(text []byte) (int64, bool) {
	if len(text) == 0 || len(text) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range text {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseHex reads a chunk size: at most 15 hexadecimal digits, which cannot
// overflow an int64.
func parseHex(text []byte) (int64, bool) {
	if len(text) == 0 || len(text) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range text {
		var digit byte
		switch {
		case isDigit(c):
			digit = c - '0'
		case c >= 'a' && c <= 'f':
			digit = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			digit = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(digit)
	}
	return n, true
}

// asciiEqualFold reports whether b equals the ASCII text s, ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		if lowerASCII(b[i]) != lowerASCII(s[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasToken reports whether the comma-separated header value contains token,
// ignoring case.
func hasToken(value []byte, token string) bool {
	for len(value) > 0 {
		item := value
		if i := bytes.IndexByte(value, ','); i >= 0 {
			item, value = value[:i], value[i+1:]
		} else {
			value = nil
		}
		if asciiEqualFold(bytes.Trim(item, " \t"), token) {
			return true
		}
	}
	return false
}

// truncate shortens text quoted in an error message.
func truncate(text []byte) []byte {
	if len(text) > 64 {
		return text[:64]
	}
	return text
}

// webhookResult is the body of the bridge's 200 response.
type webhookResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   int `json:"rejected"`
}

// parseWebhookResult reads a 200 body. A flat object whose members are
// all non-negative integers, as the bridge writes it, is read by a small
// scan. Anything else goes to encoding/json, so that both read the same
// bodies the same way.
func parseWebhookResult(body []byte) (webhookResult, error) {
	if result, ok := scanWebhookResult(body); ok {
		return result, nil
	}
	var result webhookResult
	err := json.Unmarshal(body, &result)
	return result, err
}

// scanWebhookResult reads {"name":<digits>,...} with optional white space.
// It gives up, returning false, on escapes in names, on values of other
// kinds, and on a name that matches a field only when case is ignored,
// which encoding/json would still fill.
func scanWebhookResult(body []byte) (webhookResult, bool) {
	var result webhookResult
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return result, false
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return result, skipSpace(body, i+1) == len(body)
	}

	for {
		// Name.
		if i >= len(body) || body[i] != '"' {
			return result, false
		}
		end := i + 1
		for end < len(body) && body[end] != '"' {
			if body[end] == '\\' || body[end] < 0x20 {
				return result, false
			}
			end++
		}
		if end >= len(body) {
			return result, false
		}
		name := body[i+1 : end]
		i = skipSpace(body, end+1)
		if i >= len(body) || body[i] != ':' {
			return result, false
		}

		// Value: at most 9 digits, so that it fits an int everywhere.
		i = skipSpace(body, i+1)
		start := i
		for i < len(body) && isDigit(body[i]) {
			i++
		}
		digits := body[start:i]
		if len(digits) == 0 || len(digits) > 9 || (len(digits) > 1 && digits[0] == '0') {
			return result, false
		}
		value, _ := parseDecimal(digits)

		switch {
		case string(name) == "accepted":
			result.Accepted = int(value)
		case string(name) == "duplicates":
			result.Duplicates = int(value)
		case string(name) == "rejected":
			result.Rejected = int(value)
		case asciiEqualFold(name, "accepted"), asciiEqualFold(name, "duplicates"), asciiEqualFold(name, "rejected"):
			return result, false
		case !isASCII(name):
			// encoding/json folds Unicode case too (ſ matches s).
			return result, false
		}

		// A comma and the next member, or the end of the object.
		i = skipSpace(body, i)
		if i >= len(body) {
			return result, false
		}
		switch body[i] {
		case ',':
			i = skipSpace(body, i+1)
		case '}':
			return result, skipSpace(body, i+1) == len(body)
		default:
			return result, false
		}
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// isASCII reports whether b has only ASCII bytes.
func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}
