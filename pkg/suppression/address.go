package suppression

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Address is a normalized email address: trimmed, with the domain in
// lowercase and without a trailing dot, and the local part as written.
// Two addresses that differ only in the case of the local part are the
// same entry on the list, because most mailbox providers ignore that case.
// A suppression that misses an address costs more than one that also
// matches a rare case-sensitive mailbox.
type Address string

// Limits of RFC 5321 section 4.5.3.1 on the parts of an address.
const (
	maxLocalLength   = 64
	maxDomainLength  = 253
	maxAddressLength = 254
)

// ParseAddress normalizes s and checks that it is local@domain, or a
// display name followed by local@domain in angle brackets. It returns
// an error wrapping ErrInvalidAddress that names what is wrong. The error
// leaves out the local part, because consumers log it.
func ParseAddress(s string) (Address, error) {
	s = strings.TrimSpace(s)
	// A name-addr such as "Taro <taro@example.jp>" gives the address in
	// its angle brackets.
	if strings.HasSuffix(s, ">") {
		if open := strings.LastIndexByte(s, '<'); open >= 0 {
			s = strings.TrimSpace(s[open+1 : len(s)-1])
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", fmt.Errorf("%w: the address has no @", ErrInvalidAddress)
	}
	local, domain := s[:at], strings.TrimSuffix(strings.ToLower(s[at+1:]), ".")
	switch {
	case local == "":
		return "", fmt.Errorf("%w: the local part is empty", ErrInvalidAddress)
	case strings.Contains(local, "@") && !(len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"'):
		return "", fmt.Errorf("%w: the local part contains @ outside quotes", ErrInvalidAddress)
	case domain == "":
		return "", fmt.Errorf("%w: the domain is empty", ErrInvalidAddress)
	case len(local) > maxLocalLength:
		return "", fmt.Errorf("%w: the local part is longer than %d bytes", ErrInvalidAddress, maxLocalLength)
	case len(domain) > maxDomainLength:
		return "", fmt.Errorf("%w: the domain is longer than %d bytes", ErrInvalidAddress, maxDomainLength)
	case len(local)+1+len(domain) > maxAddressLength:
		return "", fmt.Errorf("%w: the address is longer than %d bytes", ErrInvalidAddress, maxAddressLength)
	case strings.HasPrefix(domain, ".") || strings.Contains(domain, ".."):
		return "", fmt.Errorf("%w: the domain %q has an empty label", ErrInvalidAddress, domain)
	case strings.ContainsAny(domain, "@[]\\\""):
		return "", fmt.Errorf("%w: the domain %q contains @, [, ], \\ or \"", ErrInvalidAddress, domain)
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return "", fmt.Errorf("%w: the address contains white space or a control character", ErrInvalidAddress)
		}
	}
	return Address(local + "@" + domain), nil
}

// String returns the address as text.
func (a Address) String() string { return string(a) }

// Domain returns the part after the last @.
func (a Address) Domain() string {
	return string(a[strings.LastIndexByte(string(a), '@')+1:])
}

// local returns the part before the last @.
func (a Address) local() string {
	return string(a[:strings.LastIndexByte(string(a), '@')])
}

// Folded returns the address in lowercase: the form that entries are
// matched by.
func (a Address) Folded() string { return strings.ToLower(string(a)) }

// Key returns the record's key in the bucket: the domain and the
// lowercased local part, each in unpadded URL-safe base64, joined by a dot.
// KV keys allow only letters, digits and -/_=. so every address needs an
// encoding, and keeping the domain as the first token lets a watch or key
// listing select one domain with the filter DomainKeyFilter returns.
func (a Address) Key() string {
	return domainToken(a.Domain()) + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.ToLower(a.local())))
}

// DomainKeyFilter returns the key filter that matches every record of a
// domain, such as for a watch or a key listing on the bucket.
func DomainKeyFilter(domain string) string {
	return domainToken(strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")) + ".*"
}

func domainToken(domain string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(domain))
}

// foldedFromKey returns the lowercase address that a bucket key encodes.
func foldedFromKey(key string) (string, error) {
	domainPart, localPart, ok := strings.Cut(key, ".")
	if !ok {
		return "", fmt.Errorf("key %q is not domain.local", key)
	}
	domain, err := base64.RawURLEncoding.DecodeString(domainPart)
	if err != nil {
		return "", fmt.Errorf("key %q: domain: %w", key, err)
	}
	local, err := base64.RawURLEncoding.DecodeString(localPart)
	if err != nil {
		return "", fmt.Errorf("key %q: local part: %w", key, err)
	}
	return string(local) + "@" + string(domain), nil
}

// foldLookup returns the form of s that the index is keyed by, without
// allocating for an address that is already trimmed and in lowercase. It
// returns false for text that ParseAddress would reject for its shape.
func foldLookup(s string) (string, bool) {
	s = strings.TrimSpace(s)
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > maxAddressLength+1 {
		return "", false
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return strings.ToLower(s), true
}

// foldInto appends the form of s that the index is keyed by to buf, as
// foldLookup returns it, without allocating when s is ASCII.
func foldInto(buf []byte, s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > maxAddressLength+1 {
		return buf, false
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return append(buf[:0], strings.ToLower(s)...), true
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf, true
}
