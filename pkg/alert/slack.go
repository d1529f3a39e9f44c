package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// The attachment colours of the Slack message by level.
const (
	colorCritical = "#d0021b"
	colorWarning  = "#f5a623"
	colorResolved = "#2eb67d"
)

// SlackNotifier posts alerts to a Slack incoming webhook, or to any
// service that accepts Slack's message format (Mattermost, Rocket.Chat
// and others take the same text and attachments).
type SlackNotifier struct {
	// URL is the incoming webhook URL. Required.
	URL string
	// Client sends the requests. Defaults to http.DefaultClient.
	Client *http.Client
	// Retry sets the tries; see Retry for the defaults.
	Retry Retry
}

// Name returns "slack".
func (SlackNotifier) Name() string { return "slack" }

// Notify posts the alert's message.
func (n SlackNotifier) Notify(ctx context.Context, alert *Alert) error {
	body, err := json.Marshal(SlackMessage(&alert.Data, alert.Event.Time))
	if err != nil {
		return err
	}
	return post(ctx, n.Client, n.Retry, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	})
}

// SlackPayload is the body of an incoming webhook request: a plain text
// line for notifications and clients without attachments, and one
// attachment with the colour of the level, the numbers and the top
// reasons and domains.
type SlackPayload struct {
	Text        string            `json:"text"`
	Attachments []SlackAttachment `json:"attachments"`
}

// SlackAttachment is a Slack message attachment.
type SlackAttachment struct {
	Fallback string       `json:"fallback"`
	Color    string       `json:"color"`
	Title    string       `json:"title"`
	Text     string       `json:"text"`
	Fields   []SlackField `json:"fields,omitempty"`
	Footer   string       `json:"footer"`
	// TS is the Unix time of the transition; Slack shows it in the
	// reader's time zone.
	TS int64 `json:"ts"`
}

// SlackField is one field of an attachment.
type SlackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// SlackMessage builds the message of an alert sent at the given time.
func SlackMessage(d *Data, at time.Time) SlackPayload {
	color := colorWarning
	icon := ":warning:"
	switch {
	case d.State == "resolved":
		color, icon = colorResolved, ":white_check_mark:"
	case d.Level == LevelCritical:
		color, icon = colorCritical, ":rotating_light:"
	}
	title := Title(d)

	var fields []SlackField
	if d.Window != "" {
		fields = append(fields, SlackField{Title: "Window", Value: d.Window, Short: true})
	}
	if levels := levels(d); d.Rule != RuleSilence && levels != "" {
		fields = append(fields, SlackField{Title: "Levels", Value: levels, Short: true})
	}
	if d.Counts != nil && d.Rule != RuleDeferralRate {
		fields = append(fields, SlackField{Title: "Top reasons", Value: formatCounts(d.TopReasons), Short: true})
	}
	if d.KeyKind == KeyServerComposition && d.Counts != nil && d.Rule != RuleDeferralRate {
		fields = append(fields, SlackField{Title: "Top domains", Value: formatCounts(d.TopDomains), Short: true})
	}

	footer := "mailbridge alerter · " + d.Rule + " · " + string(d.Transition)
	return SlackPayload{
		Text: icon + " " + title,
		Attachments: []SlackAttachment{{
			Fallback: title + ": " + d.Summary,
			Color:    color,
			Title:    title,
			Text:     d.Summary,
			Fields:   fields,
			Footer:   footer,
			TS:       at.Unix(),
		}},
	}
}
