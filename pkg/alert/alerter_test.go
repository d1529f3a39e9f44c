package alert

import (
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

func TestHardBounceRateFiresOnceAndResolves(t *testing.T) {
	t.Parallel()
	b := setup(t, DefaultRules())
	a, _ := b.start()

	// 30 hard failures in 250 sends: 12%, over the 10% critical level.
	b.waitAcked(b.publish(hardBounceBatch(10)...))
	evaluate(t, a)

	msg := b.slack.slackMessage(t)
	if !strings.Contains(msg.Text, "CRITICAL: Hard bounce rate on server composition pro") {
		t.Errorf("slack text = %q", msg.Text)
	}
	if len(msg.Attachments) != 1 {
		t.Fatalf("slack attachments = %d, want 1", len(msg.Attachments))
	}
	if want := "12.0%: 30 hard failures of 250 sends in the last 24h"; !strings.Contains(msg.Attachments[0].Text, want) {
		t.Errorf("slack attachment text = %q, want it to contain %q", msg.Attachments[0].Text, want)
	}
	if msg.Attachments[0].Color != colorCritical {
		t.Errorf("slack colour = %q, want %q", msg.Attachments[0].Color, colorCritical)
	}

	alerts := b.alerts()
	if len(alerts) != 1 {
		t.Fatalf("alerts on the stream = %d, want 1", len(alerts))
	}
	first := alerts[0]
	if first.Rule != RuleHardBounceRate || first.Key != "pro" || first.Level != LevelCritical || first.Transition != TransitionFired {
		t.Errorf("alert = %s %s %s %s, want hard_bounce_rate pro critical fired", first.Rule, first.Key, first.Level, first.Transition)
	}
	if first.Counts == nil || first.Counts.Sent != 250 || first.Counts.Hard != 30 {
		t.Errorf("alert counts = %+v, want 250 sent and 30 hard", first.Counts)
	}
	if first.Value < 0.1199 || first.Value > 0.1201 {
		t.Errorf("alert value = %v, want 0.12", first.Value)
	}
	if len(first.TopReasons) == 0 || first.TopReasons[0] != (Count{Name: "userunknown", Count: 30}) {
		t.Errorf("top reasons = %+v, want userunknown 30 first", first.TopReasons)
	}

	// More of the same within the cooldown sends nothing.
	b.clock.Advance(time.Hour)
	b.waitAcked(b.publish(hardBounceBatch(10)...))
	evaluate(t, a)
	if n := len(b.alerts()); n != 1 {
		t.Fatalf("alerts after more of the same within the cooldown = %d, want 1", n)
	}

	// A run of successes brings the rate to 60 in 1300, 4.6%: resolved.
	b.waitAcked(b.publish(repeat(800, spec{eventType: mailevent.TypeDeliverySucceeded, recipient: "user@example.jp"})...))
	evaluate(t, a)
	alerts = b.alerts()
	if len(alerts) != 2 {
		t.Fatalf("alerts after the successes = %d, want 2", len(alerts))
	}
	resolved := alerts[1]
	if resolved.State != "resolved" || resolved.Transition != TransitionResolved {
		t.Errorf("second alert = %s %s, want resolved", resolved.State, resolved.Transition)
	}
	if resolved.Counts == nil || resolved.Counts.Sent != 1300 || resolved.Counts.Hard != 60 {
		t.Errorf("resolved counts = %+v, want 1300 sent and 60 hard", resolved.Counts)
	}
	msg = b.slack.slackMessage(t)
	if !strings.HasPrefix(msg.Attachments[0].Title, "RESOLVED: Hard bounce rate") {
		t.Errorf("second slack title = %q, want a resolve", msg.Attachments[0].Title)
	}
}

func TestHardBounceRateRepeatsAfterCooldown(t *testing.T) {
	t.Parallel()
	rules := DefaultRules()
	rules.Cooldown = 2 * time.Hour
	b := setup(t, rules)
	a, _ := b.start()

	b.waitAcked(b.publish(hardBounceBatch(10)...))
	evaluate(t, a)
	b.clock.Advance(time.Hour)
	evaluate(t, a)
	b.clock.Advance(time.Hour)
	evaluate(t, a)

	alerts := b.alerts()
	if len(alerts) != 2 {
		t.Fatalf("alerts = %d, want the first and one reminder", len(alerts))
	}
	if alerts[1].Transition != TransitionRepeated || alerts[1].Sequence != 2 {
		t.Errorf("second alert = %s sequence %d, want repeated sequence 2", alerts[1].Transition, alerts[1].Sequence)
	}
}

func TestBelowMinimumVolumeNothingFires(t *testing.T) {
	t.Parallel()
	b := setup(t, DefaultRules())
	a, _ := b.start()

	// 50% hard failures, but 199 sends are below the minimum of 200; the
	// domain stays below its minimum of 50 as every failure goes to a
	// domain of its own.
	var specs []spec
	for i := range 100 {
		specs = append(specs, spec{eventType: mailevent.TypeDeliveryFailed, recipient: "gone@" + strings.Repeat("x", i%40+1) + ".example", class: hardClass("userunknown")})
	}
	specs = append(specs, repeat(99, spec{eventType: mailevent.TypeDeliverySucceeded, recipient: "user@example.jp"})...)
	b.waitAcked(b.publish(specs...))
	evaluate(t, a)

	if alerts := b.alerts(); len(alerts) != 0 {
		t.Fatalf("alerts below the minimum volume = %+v, want none", alerts)
	}

	// One more send reaches the minimum, and the rule fires: the test
	// above could have failed.
	b.waitAcked(b.publish(spec{eventType: mailevent.TypeDeliverySucceeded, recipient: "user@example.jp"}))
	evaluate(t, a)
	alerts := b.alerts()
	if len(alerts) != 1 || alerts[0].Rule != RuleHardBounceRate {
		t.Fatalf("alerts at the minimum volume = %+v, want one hard_bounce_rate", alerts)
	}
}

func TestDomainFailureRateFiresForThatDomainOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, DefaultRules())
	a, _ := b.start()

	// blocked.example: 36 of 60 sends fail with 5.7.1 (60%); the other
	// domains only succeed. The failures are soft, so the hard bounce rate
	// stays at zero.
	var specs []spec
	for i := range 60 {
		if i%5 < 3 {
			specs = append(specs, spec{eventType: mailevent.TypeDeliveryFailed, recipient: "user@blocked.example", class: softClass("blocked")})
		} else {
			specs = append(specs, spec{eventType: mailevent.TypeDeliverySucceeded, recipient: "user@blocked.example"})
		}
	}
	specs = append(specs, repeat(200, spec{eventType: mailevent.TypeDeliverySucceeded, recipient: "user@fine.example"})...)
	specs = append(specs, repeat(100, spec{eventType: mailevent.TypeDeliverySucceeded, recipient: "user@also-fine.example"})...)
	b.waitAcked(b.publish(specs...))
	evaluate(t, a)

	alerts := b.alerts()
	if len(alerts) != 1 {
		t.Fatalf("alerts = %+v, want exactly one", alerts)
	}
	got := alerts[0]
	if got.Rule != RuleDomainFailureRate || got.Key != "blocked.example" || got.KeyKind != KeyRecipientDomain {
		t.Errorf("alert = %s for %s (%s), want domain_failure_rate for blocked.example", got.Rule, got.Key, got.KeyKind)
	}
	if got.Level != LevelCritical {
		t.Errorf("level = %s, want critical at 60%%", got.Level)
	}
	if got.Counts == nil || got.Counts.Sent != 60 || got.Counts.Soft != 36 {
		t.Errorf("counts = %+v, want 60 sent and 36 soft", got.Counts)
	}
	msg := b.slack.slackMessage(t)
	if !strings.Contains(msg.Text, "blocked.example") {
		t.Errorf("slack text = %q, want the domain", msg.Text)
	}
}

func TestSilenceFiresAfterConfiguredTime(t *testing.T) {
	t.Parallel()
	rules := DefaultRules()
	rules.Silence = SilenceRule{Enabled: true, Warning: 30 * time.Minute}
	b := setup(t, rules)
	a, _ := b.start()

	b.waitAcked(b.publish(spec{eventType: mailevent.TypeDeliveryQueued, recipient: "user@example.jp"}))
	b.clock.Advance(29 * time.Minute)
	evaluate(t, a)
	if alerts := b.alerts(); len(alerts) != 0 {
		t.Fatalf("alerts after 29m of silence = %+v, want none", alerts)
	}

	b.clock.Advance(2 * time.Minute)
	evaluate(t, a)
	alerts := b.alerts()
	if len(alerts) != 1 || alerts[0].Rule != RuleSilence || alerts[0].Level != LevelWarning {
		t.Fatalf("alerts after 31m of silence = %+v, want one silence warning", alerts)
	}
	msg := b.slack.slackMessage(t)
	if !strings.Contains(msg.Attachments[0].Text, "No event for 31m") {
		t.Errorf("slack text = %q", msg.Attachments[0].Text)
	}

	// An event ends the silence.
	b.clock.Advance(time.Second)
	b.waitAcked(b.publish(spec{eventType: mailevent.TypeDeliveryQueued, recipient: "user@example.jp"}))
	evaluate(t, a)
	alerts = b.alerts()
	if len(alerts) != 2 || alerts[1].State != "resolved" {
		t.Fatalf("alerts after an event = %+v, want the silence resolved", alerts)
	}
}

func TestRestartMidSpikeNoDuplicateThenResolved(t *testing.T) {
	t.Parallel()
	b := setup(t, DefaultRules())
	first, stopFirst := b.start()

	b.waitAcked(b.publish(hardBounceBatch(10)...))
	evaluate(t, first)
	b.slack.slackMessage(t)
	stopFirst()

	// Events stored while no alerter runs are counted by the rebuild, and
	// the durable acks them without counting them again.
	b.publish(repeat(100, spec{eventType: mailevent.TypeDeliverySucceeded, recipient: "user@example.jp"})...)

	second, _ := b.start()
	if names := b.consumerNames(); len(names) != 1 {
		t.Errorf("consumers after the rebuild = %v, want only the durable", names)
	}
	evaluate(t, second)
	if n := len(b.alerts()); n != 1 {
		t.Fatalf("alerts after the restart = %d, want still 1", n)
	}

	// 30 hard failures are 5% or more up to 600 sends. 251 more sends make
	// 601, or 4.99%, which resolves the alert.
	b.waitAcked(b.publish(repeat(251, spec{eventType: mailevent.TypeDeliverySucceeded, recipient: "user@example.jp"})...))
	evaluate(t, second)
	alerts := b.alerts()
	if len(alerts) != 2 {
		t.Fatalf("alerts after the successes = %d, want 2", len(alerts))
	}
	if alerts[1].State != "resolved" {
		t.Errorf("second alert state = %s, want resolved", alerts[1].State)
	}
	if alerts[1].Counts == nil || alerts[1].Counts.Sent != 601 || alerts[1].Counts.Hard != 30 {
		t.Errorf("counts after the restart = %+v, want each event once: 601 sent and 30 hard", alerts[1].Counts)
	}
	msg := b.slack.slackMessage(t)
	if !strings.HasPrefix(msg.Attachments[0].Title, "RESOLVED") {
		t.Errorf("slack title after the restart = %q, want the resolve and no repeat of the alert", msg.Attachments[0].Title)
	}
}
