package bounce

// ParseCodes returns the SMTP reply code (RFC 5321, "550") and the enhanced
// status code (RFC 3463, "5.1.1") found in a diagnostic text, or "" for a
// code that is absent.
//
// Relayed and multi-line replies contain several codes. The first reply
// code directly followed by an enhanced status code of the same class wins
// ("550-5.1.1", "550 5.2.2", "550-'5.2.2"), because that pair is the
// server's own reply. Otherwise each is the first one found. A reply code needs a first digit of 2 to 5 and a second of 0 to 5.
// An enhanced status code needs class 2, 4 or 5, a subject of 0 to 7 and a
// detail of one to three digits. Digits that are part of a longer number, an
// IP address, a dotted version, a date or a port ("host:443") are skipped.
// The returned strings are substrings of text.
func ParseCodes(text string) (replyCode, enhanced string) {
	firstReply, firstEnhanced := -1, -1
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c < '2' || c > '5' {
			continue
		}
		if n := enhancedAt(text, i); n > 0 {
			if firstEnhanced < 0 {
				firstEnhanced = i
			}
			i += n - 1
			continue
		}
		if !replyCodeAt(text, i) {
			continue
		}
		if firstReply < 0 {
			firstReply = i
		}
		if n := pairedEnhanced(text, i+3, c); n > 0 {
			start := i + 3 + n
			return text[i : i+3], text[start : start+enhancedAt(text, start)]
		}
		i += 2
	}

	if firstReply >= 0 {
		replyCode = text[firstReply : firstReply+3]
	}
	if firstEnhanced >= 0 {
		enhanced = text[firstEnhanced : firstEnhanced+enhancedAt(text, firstEnhanced)]
	}
	return replyCode, enhanced
}

// pairedEnhanced returns the offset from pos of an enhanced status code of
// the given class that follows a reply code ending at pos, or 0 when there
// is none. At most three separators (' ', '-', '#', ':' or a quote) may
// come between them.
func pairedEnhanced(text string, pos int, class byte) int {
	for skip := 0; skip <= 3 && pos+skip < len(text); skip++ {
		c := text[pos+skip]
		if c == class && enhancedAt(text, pos+skip) > 0 {
			if skip == 0 {
				return 0
			}
			return skip
		}
		if c != ' ' && c != '-' && c != '#' && c != ':' && c != '\'' && c != '"' {
			return 0
		}
	}
	return 0
}

// replyCodeAt reports whether text[i] starts a three-digit SMTP reply code
// that is not part of a longer token.
func replyCodeAt(text string, i int) bool {
	if i+3 > len(text) || !isDigit(text[i+1]) || !isDigit(text[i+2]) {
		return false
	}
	if text[i] < '2' || text[i] > '5' || text[i+1] > '5' {
		return false
	}
	if i > 0 {
		switch prev := text[i-1]; {
		case isAlnum(prev):
			return false
		case prev == '.' || prev == '-' || prev == '_' || prev == '#' || prev == '/' ||
			prev == '=' || prev == '+' || prev == '@' || prev == '%' || prev == '&' ||
			prev == '?' || prev == '\\' || prev == '$':
			return false
		case prev == ':' && i > 1 && (isDigit(text[i-2]) || text[i-2] == ']' || isAlpha(text[i-2])):
			// A port after a host name or an address, like "host:443".
			return false
		}
	}
	return endsToken(text, i+3)
}

// enhancedAt returns the length of an enhanced status code that starts at
// text[i] and is not part of a longer token, or 0 when there is none.
func enhancedAt(text string, i int) int {
	if c := text[i]; c != '2' && c != '4' && c != '5' {
		return 0
	}
	if i > 0 && (isAlnum(text[i-1]) || text[i-1] == '.') {
		return 0
	}
	j := i + 1
	if j+1 >= len(text) || text[j] != '.' || text[j+1] < '0' || text[j+1] > '7' {
		return 0
	}
	j += 2
	if j >= len(text) || text[j] != '.' {
		return 0
	}
	j++
	digits := 0
	for j < len(text) && isDigit(text[j]) {
		j++
		digits++
	}
	if digits == 0 || digits > 3 || !endsToken(text, j) {
		return 0
	}
	return j - i
}

// endsToken reports whether a number ending at text[end] is not continued by
// letters, digits or a dot followed by a digit.
func endsToken(text string, end int) bool {
	if end >= len(text) {
		return true
	}
	c := text[end]
	if isAlnum(c) || c == '_' {
		return false
	}
	if c == '.' && end+1 < len(text) && isDigit(text[end+1]) {
		return false
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
