package suppression

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Kinds of change, the last token of a change event's subject and type.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeUpdated = "updated"
)

// TypePrefix is the start of the CloudEvent type of every change event,
// followed by the kind of change: io.mailbridge.suppression.added.
const TypePrefix = "io.mailbridge.suppression."

// EventSource is the CloudEvent source of change events.
const EventSource = "/mailbridge/suppressions"

// SchemaChange is the dataschema of change events.
const SchemaChange = mailevent.SchemaBase + "data/suppression.json"

// ChangeSubject returns the NATS subject of a change event, such as
// mail.suppressions.added.
func ChangeSubject(prefix, kind string) string {
	return prefix + ".suppressions." + kind
}

// ChangeSubjects returns the filter of every change event subject.
func ChangeSubjects(prefix string) string { return prefix + ".suppressions.*" }

// ChangeData is the data of a change event: the record after the change
// and what caused it.
type ChangeData struct {
	Suppression
	// Cause is the CloudEvent id that caused the change, or "api:" and the
	// record's revision for a change through the API or an import.
	Cause string `json:"cause"`
}

// publisher publishes change events.
type publisher struct {
	js     jetstream.JetStream
	prefix string
	mode   mailevent.Mode
}

// changeID derives a change event's id, also its JetStream message id,
// from its cause, so that a change published again after a redelivery of
// its cause is dropped as a duplicate within the duplicate window.
func changeID(kind string, address Address, cause string) string {
	h := sha256.New()
	for _, part := range []string{"suppression-change-v1", kind, address.Key(), cause} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// publish publishes one change and waits for its pub ack.
func (p *publisher) publish(ctx context.Context, kind string, rec *Record, cause string, at time.Time) error {
	data, err := json.Marshal(ChangeData{Suppression: rec.View(), Cause: cause})
	if err != nil {
		return fmt.Errorf("encode change event: %w", err)
	}
	ev := mailevent.Event{
		ID:              changeID(kind, rec.Address, cause),
		Source:          EventSource,
		Type:            TypePrefix + kind,
		Subject:         rec.Address.String(),
		Time:            at.UTC(),
		DataContentType: "application/json",
		DataSchema:      SchemaChange,
		Data:            data,
	}
	msg := mailevent.Encode(&ev, ChangeSubject(p.prefix, kind), p.mode)
	if _, err := p.js.PublishMsg(ctx, msg); err != nil {
		return fmt.Errorf("publish suppression %s event: %w", kind, err)
	}
	return nil
}
