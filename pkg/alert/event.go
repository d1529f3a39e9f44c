package alert

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// The CloudEvent types of alerts. A rule and key that fires, escalates or
// is repeated sends TypeFiring; one that falls back sends TypeResolved.
const (
	TypeFiring   = "io.mailbridge.alert.firing"
	TypeResolved = "io.mailbridge.alert.resolved"
)

// Source is the CloudEvent source of every alert.
const Source = "/mailbridge/alerter"

// SchemaAlert is the dataschema URI of the alert data.
const SchemaAlert = mailevent.SchemaBase + "data/alert.json"

// The kinds of alert keys.
const (
	KeyServerComposition = "server_composition"
	KeyRecipientDomain   = "recipient_domain"
	KeyStream            = "stream"
)

// SilenceKey is the key of the silence rule, which watches the whole
// stream.
const SilenceKey = "all"

// Data is the data of an alert CloudEvent.
type Data struct {
	Rule string `json:"rule"`
	// Key is the server composition, the recipient domain, or "all" for
	// silence. KeyKind names which of the three it is.
	Key     string `json:"key"`
	KeyKind string `json:"key_kind"`
	// State is "firing" or "resolved".
	State      string     `json:"state"`
	Transition Transition `json:"transition"`
	// Level is the level now; PreviousLevel the one before this
	// transition.
	Level         Level `json:"level"`
	PreviousLevel Level `json:"previous_level"`
	// Value is the rate (0 to 1), or for silence the seconds since the
	// last event. Warning and Critical are the levels in the same unit;
	// zero means the level is not used.
	Value    float64 `json:"value"`
	Warning  float64 `json:"warning"`
	Critical float64 `json:"critical"`
	// Window is the rule's window in Go duration syntax, and in seconds.
	Window        string `json:"window,omitempty"`
	WindowSeconds int64  `json:"window_seconds,omitempty"`
	MinVolume     int64  `json:"min_volume,omitempty"`
	// Counts are the window's numbers for the key.
	Counts *Counts `json:"counts,omitempty"`
	// TopReasons and TopDomains are the most frequent failure reasons and
	// recipient domains of the window, most frequent first.
	TopReasons []Count `json:"top_reasons,omitempty"`
	TopDomains []Count `json:"top_domains,omitempty"`
	// LastEventAt is the time of the last event, for silence.
	LastEventAt *time.Time `json:"last_event_at,omitempty"`
	// Since is when the alert fired.
	Since time.Time `json:"since"`
	// Sequence numbers the notifications of this rule and key.
	Sequence uint64 `json:"sequence"`
	// Summary is the alert in one sentence.
	Summary string `json:"summary"`
}

// Counts are the numbers of one window.
type Counts struct {
	Sent     int64 `json:"sent"`
	Hard     int64 `json:"hard"`
	Soft     int64 `json:"soft"`
	Deferred int64 `json:"deferred"`
}

// Count is one name with its number.
type Count struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// Alert is one transition: its CloudEvent and NATS subject, and its data.
type Alert struct {
	Event   mailevent.Event
	Subject string
	Data    Data

	// remaining counts the notifiers not yet done with the alert; the
	// last one calls settled.
	remaining atomic.Int32
	settled   func()
}

// release marks one notifier as done with the alert, whether it sent,
// failed or dropped it.
func (a *Alert) release() {
	if a.remaining.Add(-1) == 0 && a.settled != nil {
		a.settled()
	}
}

// topCounts returns the n largest entries of m, largest first, ties by
// name.
func topCounts(m map[string]int64, n int) []Count {
	list := make([]Count, 0, len(m))
	for name, count := range m {
		if count > 0 {
			list = append(list, Count{Name: name, Count: count})
		}
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Count != list[j].Count {
			return list[i].Count > list[j].Count
		}
		return list[i].Name < list[j].Name
	})
	if len(list) > n {
		list = list[:n]
	}
	return list
}

// alertID derives the CloudEvent id of a transition from the rule, key,
// sequence and transition, so that publishing it again after a crash or
// a redelivery is dropped by JetStream's duplicate window and by
// receivers that deduplicate on id.
func alertID(rule, key string, sequence uint64, tr Transition) string {
	h := sha256.New()
	var lenBuf [binary.MaxVarintLen64]byte
	for _, part := range []string{"mailbridge-alert-v1", rule, key, strconv.FormatUint(sequence, 10), string(tr)} {
		n := binary.PutUvarint(lenBuf[:], uint64(len(part)))
		h.Write(lenBuf[:n])
		h.Write([]byte(part))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// newAlert builds the CloudEvent of a transition.
func newAlert(subjects mailevent.Subjects, data Data, now time.Time) (*Alert, error) {
	body, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode alert data: %w", err)
	}
	eventType := TypeFiring
	if data.State == "resolved" {
		eventType = TypeResolved
	}
	ev := mailevent.Event{
		ID:              alertID(data.Rule, data.Key, data.Sequence, data.Transition),
		Source:          Source,
		Type:            eventType,
		Subject:         data.Key,
		Time:            now.UTC(),
		DataContentType: "application/json",
		DataSchema:      SchemaAlert,
		Data:            body,
	}
	return &Alert{Event: ev, Subject: alertSubject(subjects, data.Rule), Data: data}, nil
}

// alertSubject returns the NATS subject of a rule's alerts.
func alertSubject(subjects mailevent.Subjects, rule string) string {
	return subjects.Prefix + ".alerts." + rule
}

// AlertSubjects returns the filter of every alert subject under prefix.
func AlertSubjects(subjects mailevent.Subjects) string {
	return subjects.Prefix + ".alerts.*"
}
