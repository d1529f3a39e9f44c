package mailevent

import (
	"net/http"
	"time"
)

// SetHTTPBinary writes the event's attributes into h as the CloudEvents
// HTTP protocol binding asks for binary mode: one percent-encoded ce-
// header per attribute and Content-Type for datacontenttype. The data is
// the request body, which the caller sets.
func SetHTTPBinary(h http.Header, ev *Event) {
	set := func(name, value string) {
		if value != "" {
			h[http.CanonicalHeaderKey(headerPrefix+name)] = []string{percentEncode(value)}
		}
	}
	set("specversion", SpecVersion)
	set("id", ev.ID)
	set("source", ev.Source)
	set("type", ev.Type)
	set("subject", ev.Subject)
	if !ev.Time.IsZero() {
		set("time", ev.Time.Format(time.RFC3339Nano))
	}
	set("dataschema", ev.DataSchema)
	for name, value := range ev.Extensions {
		set(name, value)
	}
	if ev.DataContentType != "" {
		h.Set("Content-Type", ev.DataContentType)
	}
}
