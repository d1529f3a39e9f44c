package mailevent

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// appendJSONStringReference is the straightforward form of
// appendJSONString that decodes every non-ASCII rune, kept to check the
// faster one against.
func appendJSONStringReference(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

var jsonStringCases = []string{
	"", "plain", "メールマガジンのテスト", "quote \" backslash \\ tab \t nl \n cr \r",
	"\x00\x1f\x7f", "line\u2028separator\u2029", "\xe2\x80", "\xe2\x80\xa8", "\xff\xfe invalid",
	"mixed 件名 \xe3\x81 broken", strings.Repeat("長い", 100), "\xe2\x82\xac euro",
}

func TestAppendJSONStringMatchesReference(t *testing.T) {
	t.Parallel()
	for _, s := range jsonStringCases {
		got := string(appendJSONString(nil, s))
		want := string(appendJSONStringReference(nil, s))
		if got != want {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("appendJSONString(%q) = %s, not valid JSON", s, got)
		}
	}
}

func TestPlainPrefixStopsAtSpecialBytes(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		for pos := range 20 {
			s := []byte(strings.Repeat("plain text", 2))
			s[pos] = byte(c)
			want := len(s)
			if !plainASCII[c] {
				want = pos
			}
			if got := plainPrefix(string(s)); got != want {
				t.Fatalf("byte %#x at %d: plainPrefix = %d, want %d", c, pos, got, want)
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := string(appendJSONString(nil, s))
		want := string(appendJSONStringReference(nil, s))
		if got != want {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}
