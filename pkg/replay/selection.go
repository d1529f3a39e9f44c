package replay

import (
	"fmt"
	"strings"
	"time"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Selection chooses the events to replay. The zero Selection chooses
// every CloudEvent in the stream.
type Selection struct {
	// Subjects are subject filters, wildcards allowed. Empty means every
	// subject of the stream.
	Subjects []string

	// Since keeps events whose CloudEvent time is at or after it. Reading
	// starts at Since minus ClockSkew in stream time, because an event is
	// stored after it happened.
	Since time.Time

	// Until keeps events whose CloudEvent time is before it. Reading does
	// not stop at Until in stream time, because a backfill stores old
	// events late.
	Until time.Time

	// FromSeq and ToSeq bound the stream sequences read, both included.
	// Zero means no bound. FromSeq takes precedence over Since as the
	// place where reading starts; Since still filters by event time.
	FromSeq uint64
	ToSeq   uint64

	// Recipients keeps events about these addresses (the CloudEvent
	// subject), compared case-insensitively. An entry that starts with
	// '@', such as "@example.jp", keeps every address of that domain.
	Recipients []string

	// Types keeps events of these types. An entry is a full type, such as
	// jp.smtps.cmc.bounce, or one without the jp.smtps.cmc. prefix, such as
	// "bounce" or "delivery.failed"; "delivery" keeps every delivery type.
	Types []string

	// IDs keeps events with these CloudEvent ids.
	IDs []string

	// ClockSkew is how far before Since reading starts in stream time,
	// to allow for CMC's clock running ahead of the bridge's. Defaults to
	// 5 minutes.
	ClockSkew time.Duration
}

// Validate checks the bounds and filters. Run calls it too.
func (s *Selection) Validate() error {
	if !s.Since.IsZero() && !s.Until.IsZero() && !s.Until.After(s.Since) {
		return fmt.Errorf("%w: --until %s is not after --since %s", ErrInvalidConfig,
			s.Until.Format(time.RFC3339), s.Since.Format(time.RFC3339))
	}
	if s.ToSeq > 0 && s.FromSeq > s.ToSeq {
		return fmt.Errorf("%w: --from-seq %d is after --to-seq %d", ErrInvalidConfig, s.FromSeq, s.ToSeq)
	}
	for _, t := range s.Types {
		if !knownType(t) {
			return fmt.Errorf("%w: type %q matches no event type: use bounce, block, delivery or delivery.<status> (queued, succeeded, failed, deferred, unknown)", ErrInvalidConfig, t)
		}
	}
	for _, subject := range s.Subjects {
		if subject == "" || strings.ContainsAny(subject, " \t\r\n") {
			return fmt.Errorf("%w: subject filter %q is empty or contains white space", ErrInvalidConfig, subject)
		}
	}
	return nil
}

// knownType reports whether a Types entry selects at least one of the
// CloudEvent types of CMC records, so that a typo such as "bounces" is
// an error rather than a replay of nothing.
func knownType(t string) bool {
	t = strings.TrimSpace(t)
	if !strings.HasPrefix(t, mailevent.TypePrefix) {
		t = mailevent.TypePrefix + t
	}
	for _, known := range mailevent.Types() {
		if known == t || strings.HasPrefix(known, t+".") {
			return true
		}
	}
	return false
}

// streamRange returns the part of the stream that can hold the selection.
func (s *Selection) streamRange(stream string) Range {
	r := Range{Stream: stream, Filters: s.Subjects, FromSeq: s.FromSeq, ToSeq: s.ToSeq}
	if s.FromSeq == 0 && !s.Since.IsZero() {
		skew := s.ClockSkew
		if skew <= 0 {
			skew = 5 * time.Minute
		}
		r.StartTime = s.Since.Add(-skew)
	}
	return r
}

// matcher is a Selection prepared for testing many events.
type matcher struct {
	since, until time.Time
	recipients   map[string]bool
	domains      []string
	types        []string
	ids          map[string]bool
}

func newMatcher(s *Selection) *matcher {
	m := &matcher{since: s.Since, until: s.Until}
	for _, r := range s.Recipients {
		r = strings.ToLower(strings.TrimSpace(r))
		if strings.HasPrefix(r, "@") {
			m.domains = append(m.domains, r)
			continue
		}
		if m.recipients == nil {
			m.recipients = make(map[string]bool)
		}
		m.recipients[r] = true
	}
	for _, t := range s.Types {
		t = strings.TrimSpace(t)
		if !strings.HasPrefix(t, mailevent.TypePrefix) {
			t = mailevent.TypePrefix + t
		}
		m.types = append(m.types, t)
	}
	for _, id := range s.IDs {
		if m.ids == nil {
			m.ids = make(map[string]bool)
		}
		m.ids[id] = true
	}
	return m
}

// selectsAll reports whether every CloudEvent is selected, so that match
// need not run.
func (m *matcher) selectsAll() bool {
	return m.since.IsZero() && m.until.IsZero() && m.ids == nil && len(m.types) == 0 &&
		m.recipients == nil && len(m.domains) == 0
}

// match reports whether ev is selected. An event without a time is not
// selected when a time bound is set.
func (m *matcher) match(ev *mailevent.Event) bool {
	if !m.since.IsZero() && (ev.Time.IsZero() || ev.Time.Before(m.since)) {
		return false
	}
	if !m.until.IsZero() && (ev.Time.IsZero() || !ev.Time.Before(m.until)) {
		return false
	}
	if m.ids != nil && !m.ids[ev.ID] {
		return false
	}
	if len(m.types) > 0 && !m.matchType(ev.Type) {
		return false
	}
	if m.recipients != nil || len(m.domains) > 0 {
		return m.matchRecipient(ev.Subject)
	}
	return true
}

func (m *matcher) matchType(eventType string) bool {
	for _, t := range m.types {
		if eventType == t || (strings.HasPrefix(eventType, t) && eventType[len(t)] == '.') {
			return true
		}
	}
	return false
}

func (m *matcher) matchRecipient(address string) bool {
	address = strings.ToLower(address)
	if m.recipients[address] {
		return true
	}
	for _, domain := range m.domains {
		if strings.HasSuffix(address, domain) {
			return true
		}
	}
	return false
}
