package suppression

import (
	"slices"
	"time"
)

// Sources of a suppression.
const (
	SourceBounce = "bounce" // bounce, failed or deferred delivery events
	SourceManual = "manual" // added through the API
	SourceImport = "import" // imported from CSV
)

// Record is the value stored under an address's key. A record exists for
// every address with a counted failure, suppressed or not, so that soft
// failures can add up; only records with Suppressed set are on the list.
type Record struct {
	Address    Address `json:"address"`
	Suppressed bool    `json:"suppressed"`
	// Reason is the bounce reason of the suppression, such as userunknown,
	// or the reason given to a manual add or an import.
	Reason string `json:"reason,omitempty"`
	// Hard is set when the suppression came from a hard verdict, a CMC
	// block or unsubscribe code, a manual add or an import.
	Hard         bool      `json:"hard"`
	Source       string    `json:"source,omitempty"`
	Note         string    `json:"note,omitempty"`
	FirstSeen    time.Time `json:"first_seen"`
	LastSeen     time.Time `json:"last_seen"`
	SuppressedAt time.Time `json:"suppressed_at,omitzero"`
	// ClearedAt is when the address was last removed from the list. Events
	// from before it are ignored, so that a replay of the stream does not
	// put back an address that an operator took off.
	ClearedAt time.Time `json:"cleared_at,omitzero"`

	// Failures counts the failed messages ever counted for the address,
	// and Deferrals the deferred ones; a failure reported twice counts once.
	Failures  int `json:"failures"`
	Deferrals int `json:"deferrals"`
	// SoftCount is the number of soft failures within the policy's window
	// when the record was last written.
	SoftCount int `json:"soft_count"`

	// LastEventID and LastEventSubject are the CloudEvent id and NATS
	// subject of the last event that changed the record, or empty after a
	// change through the API.
	LastEventID      string `json:"last_event_id,omitempty"`
	LastEventSubject string `json:"last_event_subject,omitempty"`
	// LastChange is the kind of the last change: ChangeAdded, ChangeRemoved
	// or ChangeUpdated.
	LastChange string `json:"last_change,omitempty"`

	// Recent are the failures within the window, newest last, one per
	// message id and kind.
	Recent []Failure `json:"recent,omitempty"`
	// Applied are the ids of the last CloudEvents applied to the record,
	// newest last, at most maxApplied.
	Applied []string `json:"applied,omitempty"`
}

// Failure is one failed or deferred message of an address.
type Failure struct {
	MessageID string    `json:"message_id,omitempty"`
	Time      time.Time `json:"time"`
	Deferral  bool      `json:"deferral,omitempty"`
	Reason    string    `json:"reason"`
	Hard      bool      `json:"hard,omitempty"`
	// Precision ranks how well the verdict is founded, so that of two
	// reports of one message the better verdict is kept.
	Precision int    `json:"precision"`
	EventID   string `json:"event_id"`
}

// maxApplied bounds Record.Applied. An event sent again after maxApplied
// later events for the same address would be applied a second time, which
// matters only for soft counts because a suppressed address stays
// suppressed.
const maxApplied = 64

// maxRecent bounds Record.Recent, newest kept; it is far above any sane
// soft threshold.
const maxRecent = 64

// hasApplied reports whether the event id has changed the record already.
func (r *Record) hasApplied(eventID string) bool {
	return eventID != "" && slices.Contains(r.Applied, eventID)
}

// markApplied adds an event id to Applied, dropping the oldest beyond
// maxApplied.
func (r *Record) markApplied(eventID string) {
	if eventID == "" {
		return
	}
	r.Applied = append(r.Applied, eventID)
	if over := len(r.Applied) - maxApplied; over > 0 {
		r.Applied = slices.Delete(r.Applied, 0, over)
	}
}

// Suppression is the public view of a record: what the API returns and
// what a change event carries.
type Suppression struct {
	Address      Address   `json:"address"`
	Suppressed   bool      `json:"suppressed"`
	Reason       string    `json:"reason,omitempty"`
	Hard         bool      `json:"hard"`
	Source       string    `json:"source,omitempty"`
	Note         string    `json:"note,omitempty"`
	FirstSeen    time.Time `json:"first_seen"`
	LastSeen     time.Time `json:"last_seen"`
	SuppressedAt time.Time `json:"suppressed_at,omitzero"`
	Failures     int       `json:"failures"`
	Deferrals    int       `json:"deferrals"`
	SoftCount    int       `json:"soft_count"`
	// LastEventID and LastEventSubject name the CloudEvent that last
	// changed the record.
	LastEventID      string    `json:"last_event_id,omitempty"`
	LastEventSubject string    `json:"last_event_subject,omitempty"`
	Recent           []Failure `json:"recent,omitempty"`
}

// View returns the record's public view.
func (r *Record) View() Suppression {
	return Suppression{
		Address: r.Address, Suppressed: r.Suppressed, Reason: r.Reason, Hard: r.Hard,
		Source: r.Source, Note: r.Note, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen,
		SuppressedAt: r.SuppressedAt, Failures: r.Failures, Deferrals: r.Deferrals,
		SoftCount: r.SoftCount, LastEventID: r.LastEventID, LastEventSubject: r.LastEventSubject,
		Recent: r.Recent,
	}
}
