package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

func TestParseRulesFileReplacesDefaults(t *testing.T) {
	t.Parallel()
	rules, err := ParseRules(strings.NewReader(`
cooldown: 2h
hard_bounce_rate:
  warning: 3%
  critical: 0.08
domain_failure_rate:
  enabled: false
silence:
  warning: 45m
`))
	if err != nil {
		t.Fatal(err)
	}
	if rules.Cooldown != 2*time.Hour {
		t.Errorf("cooldown = %s, want 2h", rules.Cooldown)
	}
	if rules.HardBounceRate.Warning != 0.03 || rules.HardBounceRate.Critical != 0.08 {
		t.Errorf("hard bounce levels = %s and %s, want 3%% and 8%%", rules.HardBounceRate.Warning, rules.HardBounceRate.Critical)
	}
	if rules.HardBounceRate.Window != 24*time.Hour || rules.HardBounceRate.MinVolume != 200 {
		t.Errorf("hard bounce window and minimum = %s and %d, want the defaults 24h and 200", rules.HardBounceRate.Window, rules.HardBounceRate.MinVolume)
	}
	if rules.DomainFailureRate.active() {
		t.Error("domain_failure_rate is active, want off by enabled: false")
	}
	if rules.DeferralRate.active() {
		t.Error("deferral_rate is active, want off because the file does not name it")
	}
	if !rules.Silence.active() || rules.Silence.Warning != 45*time.Minute {
		t.Errorf("silence = %+v, want on at 45m", rules.Silence)
	}
}

func TestParseRulesErrorsNameField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, field string
	}{
		{"critical below warning", "hard_bounce_rate: {warning: 10%, critical: 5%}", "rules.hard_bounce_rate.critical"},
		{"rate over 100%", "deferral_rate: {warning: 120%}", "rules.deferral_rate.warning"},
		{"window too short", "domain_failure_rate: {window: 10s}", "rules.domain_failure_rate.window"},
		{"zero minimum", "hard_bounce_rate: {min_volume: 0}", "rules.hard_bounce_rate.min_volume"},
		{"negative silence", "silence: {warning: -5m}", "rules.silence.warning"},
		{"unknown field", "hard_bounce_rate: {warn: 5%}", "rules.hard_bounce_rate"},
		{"not a rate", "hard_bounce_rate: {warning: lots}", "rules.hard_bounce_rate"},
		{"unknown rule", "bounce_rate: {warning: 5%}", "bounce_rate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRules(strings.NewReader(c.yaml))
			if !errors.Is(err, ErrInvalidRules) {
				t.Fatalf("error = %v, want ErrInvalidRules", err)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("error = %q, want it to name %s", err, c.field)
			}
		})
	}
}

func TestParseRulesUnknownFieldLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, want string
	}{
		{"top level", "cooldown: 2h\nhard_bounce_rat:\n  warning: 5%\n", `line 2: unknown field "hard_bounce_rat"`},
		{"in a rule", "cooldown: 2h\nhard_bounce_rate:\n  warning: 5%\n  critcal: 10%\n", `rules.hard_bounce_rate: line 4: unknown field "critcal"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRules(strings.NewReader(c.yaml))
			if !errors.Is(err, ErrInvalidRules) {
				t.Fatalf("error = %v, want ErrInvalidRules", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %q, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "struct") {
				t.Errorf("error = %q, want no Go type names", err)
			}
		})
	}
}

func TestRatioUnmarshalText(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]Ratio{"5%": 0.05, "12.5%": 0.125, "0.2": 0.2, " 50 % ": 0.5} {
		var r Ratio
		if err := r.UnmarshalText([]byte(text)); err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		if diff := float64(r - want); diff > 1e-12 || diff < -1e-12 {
			t.Errorf("%q = %v, want %v", text, float64(r), float64(want))
		}
	}
	var r Ratio
	if err := r.UnmarshalText([]byte("five")); err == nil {
		t.Error("five: no error")
	}
	if err := r.UnmarshalText([]byte("100%")); err != nil || r != 1 {
		t.Errorf("100%% = %v, %v; want 1 and no error", r, err)
	}
}

func TestRatioBareNumberAboveOne(t *testing.T) {
	t.Parallel()
	for text, hint := range map[string]string{"5": "write 5% for 5 percent", "1": "write 1% for 1 percent", "1.0": "write 1% for 1 percent", "1e2": "write 100% for 100 percent"} {
		var r Ratio
		err := r.UnmarshalText([]byte(text))
		if err == nil {
			t.Errorf("%s without %% = %v, want an error", text, r)
			continue
		}
		if !strings.Contains(err.Error(), hint) {
			t.Errorf("%s: error = %q, want it to say %q", text, err, hint)
		}
	}
}

func TestParseRulesEmptyAndZeroDurations(t *testing.T) {
	t.Parallel()
	for _, text := range []string{
		"cooldown: ~\n",
		"cooldown:\n",
		"hard_bounce_rate:\n  window:\n",
		"silence:\n  critical: null\n",
		"hard_bounce_rate:\n  cooldown: 0\n",
		"silence:\n  critical: 0\n",
	} {
		if _, err := ParseRules(strings.NewReader(text)); err != nil {
			t.Errorf("%q: %v, want it accepted", text, err)
		}
	}
}

func TestParseRulesBadDurationLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml, want string
	}{
		{"window in days", "hard_bounce_rate:\n  warning: 5%\n  window: 1d\n", `line 3: rules.hard_bounce_rate.window: "1d" is not a duration`},
		{"top-level cooldown", "cooldown: 2 hours\n", `line 1: cooldown: "2 hours" is not a duration`},
		{"silence level", "silence:\n  warning: 30\n", `line 2: rules.silence.warning: "30" is not a duration`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRules(strings.NewReader(c.yaml))
			if !errors.Is(err, ErrInvalidRules) {
				t.Fatalf("error = %v, want ErrInvalidRules", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %q, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestDecideTransitions(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cooldown := 4 * time.Hour
	ok := State{Level: LevelOK, Peak: LevelOK}
	warning := State{Level: LevelWarning, Peak: LevelWarning, Since: t0, Notified: t0, Sequence: 1}
	critical := State{Level: LevelCritical, Peak: LevelCritical, Since: t0, Notified: t0, Sequence: 1}
	fellBack := State{Level: LevelWarning, Peak: LevelCritical, Since: t0, Notified: t0, Sequence: 1}

	cases := []struct {
		name  string
		prev  State
		level Level
		at    time.Duration
		want  Transition
		next  Level
	}{
		{"ok stays ok", ok, LevelOK, 0, "", LevelOK},
		{"ok fires warning", ok, LevelWarning, 0, TransitionFired, LevelWarning},
		{"ok fires critical", ok, LevelCritical, 0, TransitionFired, LevelCritical},
		{"warning escalates", warning, LevelCritical, time.Minute, TransitionEscalated, LevelCritical},
		{"warning within cooldown", warning, LevelWarning, time.Hour, "", LevelWarning},
		{"warning after cooldown", warning, LevelWarning, cooldown, TransitionRepeated, LevelWarning},
		{"critical falls to warning", critical, LevelWarning, time.Minute, "", LevelWarning},
		{"critical again within cooldown", fellBack, LevelCritical, time.Hour, "", LevelCritical},
		{"critical resolves", critical, LevelOK, time.Minute, TransitionResolved, LevelOK},
	}
	for _, c := range cases {
		next, tr := decide(c.prev, c.level, t0.Add(c.at), cooldown)
		if tr != c.want {
			t.Errorf("%s: transition = %q, want %q", c.name, tr, c.want)
		}
		if next.Level != c.next {
			t.Errorf("%s: level = %s, want %s", c.name, next.Level, c.next)
		}
		if tr != "" && next.Sequence != c.prev.Sequence+1 {
			t.Errorf("%s: sequence = %d, want %d", c.name, next.Sequence, c.prev.Sequence+1)
		}
	}
}

// vendorEvent builds the event of a vendor example payload as the
// ingress does.
func vendorEvent(t *testing.T, name string) mailevent.Event {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("..", "..", "testdata", "cmc", name))
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cmc.Decode("application/json", body, cmc.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	builder := mailevent.Builder{Subjects: mailevent.Subjects{Prefix: "mail"}}
	ev, _, err := builder.Build(batch.EventType, batch.ServerComposition, batch.Entries[0])
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestFailedDeliveryAndBounceCountOnce(t *testing.T) {
	t.Parallel()
	rules := DefaultRules()
	failed := vendorEvent(t, "deliveries-failed.json")
	bounce := vendorEvent(t, "bounces-user-unknown.json")
	stored := time.Now()

	for _, order := range [][]mailevent.Event{{failed, bounce}, {bounce, failed}} {
		tl := newTally(&rules, 100, 100)
		for i := range order {
			tl.add(&order[i], stored.Add(time.Duration(i)*time.Second))
		}
		c := tl.compositions.sum("pro", stored.Add(time.Minute), time.Hour)
		if c.Hard != 1 || c.Soft != 0 {
			t.Errorf("%s first: hard %d soft %d, want one hard failure", order[0].Type, c.Hard, c.Soft)
		}
		if c.Sent != 1 {
			t.Errorf("%s first: sent = %d, want 1 (the first report)", order[0].Type, c.Sent)
		}
		if c.Reasons["user_unknown"] != 1 {
			t.Errorf("%s first: reasons = %v, want user_unknown 1", order[0].Type, c.Reasons)
		}
		d := tl.domains.sum("example.jp", stored.Add(time.Minute), time.Hour)
		if d.Failures() != 1 || d.Sent != 1 {
			t.Errorf("%s first: domain example.jp = %d failures of %d sent, want 1 of 1", order[0].Type, d.Failures(), d.Sent)
		}
	}
}

func TestHostUnknownBounceIsHard(t *testing.T) {
	t.Parallel()
	rules := DefaultRules()
	tl := newTally(&rules, 100, 100)
	ev := vendorEvent(t, "bounces-host-unknown.json")
	now := time.Now()
	tl.add(&ev, now)
	c := tl.compositions.sum("pro", now, time.Hour)
	if c.Hard != 1 {
		t.Errorf("host unknown bounce: hard %d, want 1", c.Hard)
	}
	if c.Sent != 1 {
		t.Errorf("host unknown bounce: sent %d, want 1 because the bounce stands for its send", c.Sent)
	}
}

func TestBouncesAloneRateAtMostFull(t *testing.T) {
	t.Parallel()
	rules := DefaultRules()
	tl := newTally(&rules, 100, 100)
	hostUnknown := vendorEvent(t, "bounces-host-unknown.json")
	userUnknown := vendorEvent(t, "bounces-user-unknown.json")
	failed := vendorEvent(t, "deliveries-failed.json")
	stored := time.Now()

	// Two bounces without failed deliveries, the second one reported twice,
	// then the failed delivery that matches the second bounce.
	for i, ev := range []mailevent.Event{hostUnknown, userUnknown, userUnknown, failed} {
		tl.add(&ev, stored.Add(time.Duration(i)*time.Second))
	}

	c := tl.compositions.sum("pro", stored.Add(time.Minute), time.Hour)
	if c.Hard != 2 {
		t.Errorf("hard = %d, want 2", c.Hard)
	}
	if c.Sent != 2 {
		t.Errorf("sent = %d, want 2: one per bounced message", c.Sent)
	}
	if c.Hard > c.Sent {
		t.Errorf("%d hard failures of %d sends, want a rate of 100%% or less", c.Hard, c.Sent)
	}
}

func TestWindowDropsOldBuckets(t *testing.T) {
	t.Parallel()
	d := newDimension(time.Hour, 0)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	d.at("pro", now.Add(-90*time.Minute)).Sent = 5
	d.at("pro", now.Add(-30*time.Minute)).Sent = 7
	if got := d.sum("pro", now, time.Hour).Sent; got != 7 {
		t.Errorf("sum over 1h = %d, want 7", got)
	}
	if got := d.sum("pro", now, 2*time.Hour).Sent; got != 12 {
		t.Errorf("sum over 2h = %d, want 12", got)
	}
	d.prune(now)
	if got := len(d.series["pro"].buckets); got != 1 {
		t.Errorf("buckets after prune = %d, want 1", got)
	}
}

func TestDomainsBeyondLimitCountAsOther(t *testing.T) {
	t.Parallel()
	d := newDimension(time.Hour, 2)
	now := time.Now()
	for _, domain := range []string{"a.example", "b.example", "c.example", "a.example"} {
		d.at(d.key(domain), now).Sent++
	}
	if got := d.sum(OtherKey, now, time.Hour).Sent; got != 1 {
		t.Errorf("%s = %d, want 1", OtherKey, got)
	}
	if got := d.sum("a.example", now, time.Hour).Sent; got != 2 {
		t.Errorf("a.example = %d, want 2", got)
	}
}

func TestWebhookNotifierRetriesWithCloudEventHeaders(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 503, 500)
	n := WebhookNotifier{URL: r.URL, Retry: Retry{Attempts: 3, Backoff: time.Millisecond}}
	a, err := newAlert(mailevent.Subjects{Prefix: "mail"}, Data{Rule: RuleHardBounceRate, Key: "pro", State: "firing", Transition: TransitionFired, Sequence: 1}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), a); err != nil {
		t.Fatalf("notify: %v", err)
	}
	req := r.next(t, time.Second)
	for header, want := range map[string]string{
		"ce-specversion": "1.0", "ce-id": a.Event.ID, "ce-type": TypeFiring,
		"ce-source": Source, "ce-subject": "pro", "ce-dataschema": SchemaAlert,
		"Content-Type": "application/json",
	} {
		if got := req.header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	if !strings.Contains(string(req.body), `"rule":"hard_bounce_rate"`) {
		t.Errorf("body = %s, want the alert data", req.body)
	}
}

func TestWebhookNotifierGivesUpOnClientError(t *testing.T) {
	t.Parallel()
	r := newReceiver(t, 400, 400, 400)
	n := WebhookNotifier{URL: r.URL, Retry: Retry{Attempts: 3, Backoff: time.Millisecond}}
	a, err := newAlert(mailevent.Subjects{Prefix: "mail"}, Data{Rule: RuleSilence, Key: SilenceKey, State: "firing"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	err = n.Notify(context.Background(), a)
	if !errors.Is(err, ErrNotifier) || !strings.Contains(err.Error(), "HTTP 400") {
		t.Fatalf("error = %v, want ErrNotifier with HTTP 400", err)
	}
	r.mu.Lock()
	left := len(r.status)
	r.mu.Unlock()
	if left != 2 {
		t.Errorf("requests made = %d, want 1: a 400 is not retried", 3-left)
	}
}

// blockingNotifier blocks every notification until release is closed.
type blockingNotifier struct {
	release chan struct{}
	calls   atomic.Int32
}

func (*blockingNotifier) Name() string { return "blocking" }

func (n *blockingNotifier) Notify(ctx context.Context, _ *Alert) error {
	n.calls.Add(1)
	select {
	case <-n.release:
		return errors.New("receiver down")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestStuckNotifierDoesNotBlockConsumer(t *testing.T) {
	t.Parallel()
	b := setup(t, DefaultRules())
	stuck := &blockingNotifier{release: make(chan struct{})}
	a, stop := b.start(stuck)

	// The first alert blocks the stuck notifier. Slack, the log and the
	// consumer go on.
	b.waitAcked(b.publish(hardBounceBatch(10)...))
	evaluate(t, a)
	b.slack.slackMessage(t)

	// More events are still consumed while the notifier is stuck.
	b.waitAcked(b.publish(repeat(800, spec{eventType: mailevent.TypeDeliverySucceeded, recipient: "user@example.jp"})...))
	evaluate(t, a)
	b.slack.slackMessage(t)

	close(stuck.release)
	stop()
	if got := stuck.calls.Load(); got != 2 {
		t.Errorf("stuck notifier calls = %d, want 2 (fired and resolved)", got)
	}
	if got := counterValue(t, a.metrics.notifications.WithLabelValues("blocking", "failed")); got != 2 {
		t.Errorf("failed notifications counted = %v, want 2", got)
	}
}

// counterValue reads a counter's value.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestLogNotifierLevelKeys(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	notifier := LogNotifier{Logger: slog.New(slog.NewJSONHandler(&out, nil))}
	alert := &Alert{Data: Data{Rule: RuleHardBounceRate, Key: "pro", Level: LevelCritical, State: "firing"}}
	if err := notifier.Notify(context.Background(), alert); err != nil {
		t.Fatalf("notify: %v", err)
	}

	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", out.String(), err)
	}
	if line["level"] != "WARN" {
		t.Errorf("level = %v, want the log level WARN", line["level"])
	}
	if line["alert_level"] != string(LevelCritical) {
		t.Errorf("alert_level = %v, want %s", line["alert_level"], LevelCritical)
	}
	if n := strings.Count(out.String(), `"level":`); n != 1 {
		t.Errorf("log line has %d level keys, want 1: %s", n, out.String())
	}
}

func TestSummaryResolvedBelowMinimum(t *testing.T) {
	t.Parallel()
	data := Data{Rule: RuleDomainFailureRate, State: "resolved", Value: 1, Window: "1h", Warning: 0.05, MinVolume: 200,
		Counts: &Counts{Hard: 10, Sent: 10}}
	if got := Summary(&data); !strings.HasPrefix(got, "Too few sends left to judge the rate: 100.0%: 10 failures of 10 sends") {
		t.Errorf("summary = %q, want one that says too few sends are left", got)
	}

	data.Value, data.MinVolume, data.Counts = 0.01, 0, &Counts{Hard: 2, Sent: 200}
	if got := Summary(&data); !strings.HasPrefix(got, "Back to 1.0%: 2 failures of 200 sends") {
		t.Errorf("summary = %q, want it to start with Back to", got)
	}
}
