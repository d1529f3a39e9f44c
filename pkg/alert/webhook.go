package alert

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// WebhookNotifier posts each alert CloudEvent to an HTTP endpoint in the
// CloudEvents HTTP binding, binary content mode: the attributes in ce-
// headers and the data as the body.
type WebhookNotifier struct {
	// URL is the endpoint. Required.
	URL string
	// Client sends the requests. Defaults to http.DefaultClient.
	Client *http.Client
	// Retry sets the tries; see Retry for the defaults.
	Retry Retry
}

// Name returns "webhook".
func (WebhookNotifier) Name() string { return "webhook" }

// Notify posts the alert's CloudEvent. Receivers should drop a repeated
// ce-id: a retry after a lost response sends the same event again.
func (n WebhookNotifier) Notify(ctx context.Context, alert *Alert) error {
	ev := &alert.Event
	return post(ctx, n.Client, n.Retry, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(ev.Data))
		if err != nil {
			return nil, err
		}
		setCloudEventHeaders(req.Header, ev)
		return req, nil
	})
}

// setCloudEventHeaders writes the binary-mode headers of ev.
func setCloudEventHeaders(h http.Header, ev *mailevent.Event) {
	set := func(name, value string) {
		if value != "" {
			h.Set(name, headerEncode(value))
		}
	}
	set("ce-specversion", mailevent.SpecVersion)
	set("ce-id", ev.ID)
	set("ce-source", ev.Source)
	set("ce-type", ev.Type)
	set("ce-subject", ev.Subject)
	if !ev.Time.IsZero() {
		set("ce-time", ev.Time.UTC().Format(time.RFC3339Nano))
	}
	set("ce-dataschema", ev.DataSchema)
	for name, value := range ev.Extensions {
		set("ce-"+name, value)
	}
	h.Set("Content-Type", ev.DataContentType)
}

// headerEncode percent-encodes what the CloudEvents HTTP binding does not
// allow in a header value as it is: space, '"', '%' and every byte outside
// printable ASCII.
func headerEncode(value string) string {
	var b strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '%' {
			b.WriteByte('%')
			b.WriteByte("0123456789ABCDEF"[c>>4])
			b.WriteByte("0123456789ABCDEF"[c&0xf])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
