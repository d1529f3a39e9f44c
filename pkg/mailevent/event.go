package mailevent

import (
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2/event"
)

// SpecVersion is the CloudEvents version of every event.
const SpecVersion = "1.0"

// Event is one CloudEvent as mailbridge writes and reads it. Data is JSON.
type Event struct {
	ID              string
	Source          string
	Type            string
	Subject         string
	Time            time.Time
	DataContentType string
	DataSchema      string
	Data            []byte

	// Extensions are extension attributes such as traceparent, by their
	// lowercase names.
	Extensions map[string]string
}

// CloudEvent returns the event as an sdk-go event, for code that works with
// the CloudEvents SDK.
func (e *Event) CloudEvent() (cloudevents.Event, error) {
	ce := cloudevents.New(SpecVersion)
	ce.SetID(e.ID)
	ce.SetSource(e.Source)
	ce.SetType(e.Type)
	if e.Subject != "" {
		ce.SetSubject(e.Subject)
	}
	if !e.Time.IsZero() {
		ce.SetTime(e.Time)
	}
	if e.DataSchema != "" {
		ce.SetDataSchema(e.DataSchema)
	}
	for name, value := range e.Extensions {
		ce.SetExtension(name, value)
	}
	if e.Data != nil {
		if err := ce.SetData(e.DataContentType, e.Data); err != nil {
			return ce, fmt.Errorf("set data: %w", err)
		}
	}
	return ce, nil
}

// Validate checks the event against the CloudEvents 1.0 specification
// with the CloudEvents SDK's rules.
func (e *Event) Validate() error {
	ce, err := e.CloudEvent()
	if err != nil {
		return err
	}
	if err := ce.Validate(); err != nil {
		return fmt.Errorf("invalid CloudEvent %s: %w", e.ID, err)
	}
	return nil
}

// FromCloudEvent copies an sdk-go event into an Event.
func FromCloudEvent(ce cloudevents.Event) Event {
	ev := Event{
		ID:              ce.ID(),
		Source:          ce.Source(),
		Type:            ce.Type(),
		Subject:         ce.Subject(),
		Time:            ce.Time(),
		DataContentType: ce.DataContentType(),
		DataSchema:      ce.DataSchema(),
		Data:            ce.Data(),
	}
	for name, value := range ce.Extensions() {
		if ev.Extensions == nil {
			ev.Extensions = make(map[string]string)
		}
		ev.Extensions[name] = fmt.Sprint(value)
	}
	return ev
}
