package mailevent

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the default first token of every subject.
const DefaultPrefix = "mail"

// Subjects names the NATS subjects under one prefix.
type Subjects struct {
	Prefix string
}

// ValidatePrefix checks that prefix is one or more NATS subject tokens
// without wildcards, such as "mail" or "acme.mail".
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return fmt.Errorf("subject prefix is empty")
	}
	for _, token := range strings.Split(prefix, ".") {
		if token == "" || strings.ContainsAny(token, " \t\r\n*>") {
			return fmt.Errorf("subject prefix %q is invalid: use dot-separated tokens without spaces or the wildcards * and >", prefix)
		}
	}
	return nil
}

// All returns the filter of every subject under the prefix.
func (s Subjects) All() string { return s.Prefix + ".>" }

// Delivery returns the subject of a delivery with the given status.
func (s Subjects) Delivery(status string) string {
	token := UnknownToken
	if _, known := deliveryType(status); known {
		token = status
	}
	if s.Prefix == DefaultPrefix {
		if subject, ok := defaultDeliveries[token]; ok {
			return subject
		}
	}
	return s.Prefix + ".deliveries." + token
}

// Deliveries returns the filter of every delivery subject.
func (s Subjects) Deliveries() string { return s.Prefix + ".deliveries.*" }

// Bounce returns the subject of a bounce with the given CMC bounce code.
func (s Subjects) Bounce(code string) string {
	name := BounceName(code)
	if s.Prefix == DefaultPrefix {
		if subject, ok := defaultBounces[name]; ok {
			return subject
		}
	}
	return s.Prefix + ".bounces." + name
}

// defaultDeliveries and defaultBounces are the delivery and bounce
// subjects under DefaultPrefix by token, made once so that events under
// the usual prefix need no new subject string.
var defaultDeliveries, defaultBounces = defaultSubjects()

func defaultSubjects() (deliveries, bounces map[string]string) {
	deliveries = map[string]string{}
	for _, token := range []string{StatusQueued, StatusSucceeded, StatusFailed, StatusDeferred, UnknownToken} {
		deliveries[token] = DefaultPrefix + ".deliveries." + token
	}
	bounces = map[string]string{UnknownToken: DefaultPrefix + ".bounces." + UnknownToken}
	for _, c := range BounceCodes {
		bounces[c.Name] = DefaultPrefix + ".bounces." + c.Name
	}
	return deliveries, bounces
}

// Bounces returns the filter of every bounce subject.
func (s Subjects) Bounces() string { return s.Prefix + ".bounces.*" }

// Block returns the subject of a block record with the given status. The
// status is free text, so it becomes a token only when it is short and
// made of lowercase letters, digits, '_' and '-'.
func (s Subjects) Block(status string) string {
	return s.Prefix + ".blocks." + Token(status)
}

// Blocks returns the filter of every block subject.
func (s Subjects) Blocks() string { return s.Prefix + ".blocks.*" }

// Rejected returns the subject where input that could not be mapped is
// kept as it arrived.
func (s Subjects) Rejected() string { return s.Prefix + ".rejected" }

// Token turns free text into a safe subject token: the text lowercased
// when it is 1 to 32 characters of letters, digits, '_' and '-', else
// UnknownToken. A token never contains a dot, space or wildcard.
func Token(text string) string {
	text = strings.ToLower(strings.TrimSpace(text))
	if text == "" || len(text) > 32 {
		return UnknownToken
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return UnknownToken
		}
	}
	return text
}
