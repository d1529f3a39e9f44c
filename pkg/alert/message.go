package alert

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ruleTitles are the rules' names as people read them.
var ruleTitles = map[string]string{
	RuleHardBounceRate:    "Hard bounce rate",
	RuleDomainFailureRate: "Failure rate at one recipient domain",
	RuleDeferralRate:      "Deferral rate",
	RuleSilence:           "No webhook received",
}

// Title returns the alert's headline, such as
// "CRITICAL: Hard bounce rate on server composition pro".
func Title(d *Data) string {
	state := strings.ToUpper(string(d.Level))
	if d.State == "resolved" {
		state = "RESOLVED"
	}
	title := ruleTitles[d.Rule]
	if title == "" {
		title = d.Rule
	}
	switch d.KeyKind {
	case KeyServerComposition:
		return fmt.Sprintf("%s: %s on server composition %s", state, title, displayKey(d.Key))
	case KeyRecipientDomain:
		return fmt.Sprintf("%s: %s %s", state, title, displayKey(d.Key))
	}
	return state + ": " + title
}

func displayKey(key string) string {
	if key == "" {
		return "(none)"
	}
	return key
}

// Summary returns the alert's numbers in one sentence.
func Summary(d *Data) string {
	if d.Rule == RuleSilence {
		silent := time.Duration(d.Value * float64(time.Second)).Round(time.Second)
		if d.State == "resolved" {
			if d.LastEventAt != nil {
				return "Events arrive again: the last one was stored at " + d.LastEventAt.Format(time.RFC3339) + "."
			}
			return "Events arrive again."
		}
		last := "since the alerter started"
		if d.LastEventAt != nil {
			last = "since " + d.LastEventAt.Format(time.RFC3339)
		}
		return fmt.Sprintf("No event for %s (%s): check the webhook setting in CMC and the ingress (warning after %s%s).",
			formatDuration(silent), last, formatDuration(time.Duration(d.Warning*float64(time.Second))), criticalDuration(d))
	}

	var num, volume int64
	var what, of string
	if c := d.Counts; c != nil {
		switch d.Rule {
		case RuleHardBounceRate:
			num, volume, what, of = c.Hard, c.Sent, "hard failures", "sends"
		case RuleDomainFailureRate:
			num, volume, what, of = c.Hard+c.Soft, c.Sent, "failures", "sends"
		case RuleDeferralRate:
			num, volume, what, of = c.Deferred, c.Sent+c.Deferred, "deferrals", "delivery attempts"
		}
	}
	sentence := fmt.Sprintf("%s: %d %s of %d %s in the last %s (%s).", percent(d.Value), num, what, volume, of, d.Window, levels(d))
	switch {
	case d.State != "resolved":
	case d.MinVolume > 0 && volume < d.MinVolume:
		// The rate may still be high: the alert ends because too few sends
		// are left to judge it.
		sentence = "Too few " + of + " left to judge the rate: " + sentence
	default:
		sentence = "Back to " + sentence
	}
	return sentence
}

func criticalDuration(d *Data) string {
	if d.Critical <= 0 {
		return ""
	}
	return ", critical after " + formatDuration(time.Duration(d.Critical*float64(time.Second)))
}

// levels returns "warning at 5%, critical at 10%, minimum 200".
func levels(d *Data) string {
	var parts []string
	if d.Warning > 0 {
		parts = append(parts, "warning at "+percent(d.Warning))
	}
	if d.Critical > 0 {
		parts = append(parts, "critical at "+percent(d.Critical))
	}
	if d.MinVolume > 0 {
		parts = append(parts, "minimum "+strconv.FormatInt(d.MinVolume, 10))
	}
	return strings.Join(parts, ", ")
}

// percent writes a rate with one decimal, such as "12.0%".
func percent(rate float64) string {
	return strconv.FormatFloat(rate*100, 'f', 1, 64) + "%"
}

// formatCounts writes "userunknown 20, hostunknown 10", or "none".
func formatCounts(list []Count) string {
	if len(list) == 0 {
		return "none"
	}
	parts := make([]string, len(list))
	for i, c := range list {
		parts[i] = c.Name + " " + strconv.FormatInt(c.Count, 10)
	}
	return strings.Join(parts, ", ")
}

// formatDuration writes a duration without zero minutes and seconds:
// "24h", "1h30m", "30m".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
