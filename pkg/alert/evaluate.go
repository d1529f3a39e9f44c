package alert

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// topN is how many reasons and domains an alert lists.
const topN = 3

// evaluation is one rule and key's result at one moment.
type evaluation struct {
	rule     string
	key      string
	keyKind  string
	level    Level
	value    float64
	warning  float64
	critical float64
	window   time.Duration
	volume   int64
	cooldown time.Duration
	counts   *counts   // nil for silence
	lastSeen time.Time // for silence
}

// rateRule ties a RateRule to its dimension and to the numbers it reads.
type rateRule struct {
	name    string
	rule    *RateRule
	dim     *dimension
	keyKind string
	// ratio returns the numerator and the denominator (the volume).
	ratio func(c *counts) (int64, int64)
}

func (a *Alerter) rateRules() []rateRule {
	return []rateRule{
		{RuleHardBounceRate, &a.rules.HardBounceRate, a.tally.compositions, KeyServerComposition,
			func(c *counts) (int64, int64) { return c.Hard, c.Sent }},
		{RuleDomainFailureRate, &a.rules.DomainFailureRate, a.tally.domains, KeyRecipientDomain,
			func(c *counts) (int64, int64) { return c.Failures(), c.Sent }},
		{RuleDeferralRate, &a.rules.DeferralRate, a.tally.compositions, KeyServerComposition,
			func(c *counts) (int64, int64) { return c.Deferred, c.Attempts() }},
	}
}

// evaluate computes every active rule for every key that has counts or a
// firing alert. The caller holds a.mu.
func (a *Alerter) evaluate(now time.Time) []evaluation {
	a.tally.prune(now)
	var out []evaluation
	for _, rr := range a.rateRules() {
		if !rr.rule.active() {
			continue
		}
		keys := rr.dim.keys()
		for _, st := range a.states {
			if st.Rule == rr.name && st.firing() && rr.dim.series[st.Key] == nil {
				keys = append(keys, st.Key)
			}
		}
		for _, key := range keys {
			c := rr.dim.sum(key, now, rr.rule.Window)
			num, volume := rr.ratio(&c)
			value := 0.0
			if volume > 0 {
				value = float64(num) / float64(volume)
			}
			level := LevelOK
			if volume >= rr.rule.MinVolume {
				level = rateLevel(value, float64(rr.rule.Warning), float64(rr.rule.Critical))
			}
			out = append(out, evaluation{
				rule: rr.name, key: key, keyKind: rr.keyKind, level: level,
				value: value, warning: float64(rr.rule.Warning), critical: float64(rr.rule.Critical),
				window: rr.rule.Window, volume: rr.rule.MinVolume,
				cooldown: a.rules.cooldown(rr.rule.Cooldown), counts: &c,
			})
		}
	}
	if a.rules.Silence.active() {
		out = append(out, a.evaluateSilence(now))
	}
	return out
}

func rateLevel(value, warning, critical float64) Level {
	switch {
	case critical > 0 && value >= critical:
		return LevelCritical
	case warning > 0 && value >= warning:
		return LevelWarning
	}
	return LevelOK
}

// evaluateSilence measures the time since the last event, or since the
// Alerter started when the stream had none. A silence alert stays firing
// until an event arrives after it fired, so a restart does not resolve
// it.
func (a *Alerter) evaluateSilence(now time.Time) evaluation {
	rule := &a.rules.Silence
	lastSeen := a.tally.lastEvent
	if lastSeen.Before(a.started) {
		lastSeen = a.started
	}
	silent := max(now.Sub(lastSeen), 0)
	level := LevelOK
	switch {
	case rule.Critical > 0 && silent >= rule.Critical:
		level = LevelCritical
	case rule.Warning > 0 && silent >= rule.Warning:
		level = LevelWarning
	}
	st := a.states[stateKey(RuleSilence, SilenceKey)]
	if st.firing() && !a.tally.lastEvent.After(st.Since) && level.rank() < st.Level.rank() {
		level = st.Level
	}
	return evaluation{
		rule: RuleSilence, key: SilenceKey, keyKind: KeyStream, level: level,
		value: silent.Seconds(), warning: rule.Warning.Seconds(), critical: rule.Critical.Seconds(),
		cooldown: a.rules.cooldown(rule.Cooldown), lastSeen: a.tally.lastEvent,
	}
}

// Evaluate checks every rule now and publishes and notifies each
// transition. Run calls it after events arrive and every
// EvaluateInterval. It returns the errors of storing states and
// publishing alerts, joined; a notifier's failure is logged and counted
// by the notifier's queue instead.
func (a *Alerter) Evaluate(ctx context.Context) error {
	a.evalMu.Lock()
	defer a.evalMu.Unlock()

	now := a.cfg.Clock.Now()
	a.mu.Lock()
	evaluations := a.evaluate(now)
	a.mu.Unlock()

	var errs []error
	for i := range evaluations {
		if err := a.apply(ctx, &evaluations[i], now); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// apply moves one rule and key's state and sends its transition.
func (a *Alerter) apply(ctx context.Context, ev *evaluation, now time.Time) error {
	name := stateKey(ev.rule, ev.key)
	prev, known := a.states[name]
	if !known {
		prev = State{Rule: ev.rule, Key: ev.key, Level: LevelOK, Peak: LevelOK}
	}
	next, tr := decide(prev, ev.level, now, ev.cooldown)
	a.metrics.setState(ev.rule, ev.key, next.Level)
	if tr == "" {
		if next.Level == prev.Level {
			return nil
		}
		// A silent change of level, such as critical falling to warning,
		// is stored so that a restart starts from it.
		stored, err := a.store.put(ctx, next)
		if err != nil {
			return a.stateConflict(ctx, name, err)
		}
		a.states[name] = stored
		return nil
	}

	// The transition is stored with the state before it is sent, so that
	// a crash in between leaves it for the next start to send.
	next.Pending = &PendingAlert{Time: now.UTC(), Data: a.alertData(ev, prev, next, tr, now)}
	stored, err := a.store.put(ctx, next)
	if err != nil {
		return a.stateConflict(ctx, name, err)
	}
	a.states[name] = stored
	a.metrics.transitions.WithLabelValues(ev.rule, string(tr), string(next.Level)).Inc()
	return a.send(ctx, name, stored)
}

// send publishes the pending transition of a stored state and queues it
// for every notifier. Once every notifier is done with it, settle clears
// it from the state. The caller holds a.evalMu.
func (a *Alerter) send(ctx context.Context, name string, st State) error {
	alert, err := newAlert(a.cfg.Subjects, st.Pending.Data, st.Pending.Time)
	if err != nil {
		return err
	}
	var publishErr error
	if _, err := a.js.PublishMsg(ctx, mailevent.Encode(&alert.Event, alert.Subject, a.cfg.Mode)); err != nil {
		publishErr = fmt.Errorf("publish alert %s: %w", alert.Subject, err)
	}
	published, sequence := publishErr == nil, st.Sequence
	alert.remaining.Store(int32(len(a.queues)))
	alert.settled = func() {
		// settle takes a.evalMu, which the caller of send may hold when a
		// full queue drops the alert.
		a.settling.Add(1)
		go func() {
			defer a.settling.Done()
			a.settle(name, sequence, published)
		}()
	}
	for _, q := range a.queues {
		q.enqueue(alert)
	}
	return publishErr
}

// settle clears a state's pending transition once it is published and
// every notifier is done with it, unless a later transition replaced it.
// A transition whose publish failed stays pending, so the next start
// publishes it, and notifies it, again.
func (a *Alerter) settle(name string, sequence uint64, published bool) {
	if !published {
		return
	}
	a.evalMu.Lock()
	defer a.evalMu.Unlock()
	st, ok := a.states[name]
	if !ok || st.Pending == nil || st.Sequence != sequence {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st.Pending = nil
	stored, err := a.store.put(ctx, st)
	if err != nil {
		if err := a.stateConflict(ctx, name, err); err != nil {
			// The transition went out, so the only cost is that the next
			// start sends it again, with the same id.
			a.cfg.Logger.Warn("clear sent alert from its state failed", slog.String("alert_rule", st.Rule),
				slog.Uint64("sequence", sequence), slog.Any("error", err))
		}
		return
	}
	a.states[name] = stored
}

// sendPending sends the transitions that a previous process stored and
// may not have sent, because it stopped or was killed before the last
// notifier was done with them. A transition that did go out goes out again
// with the same CloudEvent id, which JetStream drops within the stream's
// duplicate window and receivers should drop as well.
func (a *Alerter) sendPending(ctx context.Context) error {
	a.evalMu.Lock()
	defer a.evalMu.Unlock()
	var errs []error
	sent := 0
	for name, st := range a.states {
		if st.Pending == nil {
			continue
		}
		sent++
		if err := a.send(ctx, name, st); err != nil {
			errs = append(errs, err)
		}
	}
	if sent > 0 {
		a.cfg.Logger.Info("pending alerts of the previous run sent again", slog.Int("alerts", sent))
	}
	return errors.Join(errs...)
}

// stateConflict reloads a state that another process changed, so that
// the next evaluation starts from it, and returns err unless it is that
// conflict.
func (a *Alerter) stateConflict(ctx context.Context, name string, err error) error {
	if !errors.Is(err, errStateChanged) {
		return err
	}
	a.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "alert state changed by another process; reloading it",
		slog.String("alert_rule", ruleOfKey(name)))
	st, getErr := a.store.get(ctx, name)
	if getErr != nil {
		return getErr
	}
	a.states[name] = st
	return nil
}

// alertData describes a transition for the CloudEvent and the notifiers.
func (a *Alerter) alertData(ev *evaluation, prev, next State, tr Transition, now time.Time) Data {
	data := Data{
		Rule: ev.rule, Key: ev.key, KeyKind: ev.keyKind,
		State: "firing", Transition: tr,
		Level: next.Level, PreviousLevel: prev.Level,
		Value: ev.value, Warning: ev.warning, Critical: ev.critical,
		MinVolume: ev.volume, Since: next.Since, Sequence: next.Sequence,
	}
	if tr == TransitionResolved {
		data.State = "resolved"
		data.Since = prev.Since
	}
	if ev.window > 0 {
		data.Window = formatDuration(ev.window)
		data.WindowSeconds = int64(ev.window / time.Second)
	}
	if ev.counts != nil {
		data.Counts = &Counts{Sent: ev.counts.Sent, Hard: ev.counts.Hard, Soft: ev.counts.Soft, Deferred: ev.counts.Deferred}
		data.TopReasons = topCounts(ev.counts.Reasons, topN)
		data.TopDomains = topCounts(ev.counts.Domains, topN)
	}
	if ev.rule == RuleSilence && !ev.lastSeen.IsZero() {
		last := ev.lastSeen.UTC()
		data.LastEventAt = &last
	}
	data.Summary = Summary(&data)
	return data
}
