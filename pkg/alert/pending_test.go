package alert

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
)

// storedState returns the state of rule and key from the KV bucket.
func (b *bundle) storedState(rule, key string) State {
	t := b.t
	t.Helper()
	ctx := natstest.Context(t, 10*time.Second)
	kv, err := b.srv.JS.KeyValue(ctx, "alerts")
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(ctx, stateKey(rule, key))
	if err != nil {
		t.Fatalf("get state of %s %s: %v", rule, key, err)
	}
	var st State
	if err := json.Unmarshal(entry.Value(), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// waitSettled waits until the stored state of rule and key has no
// pending transition.
func (b *bundle) waitSettled(rule, key string) State {
	t := b.t
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		st := b.storedState(rule, key)
		if st.Pending == nil {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("state of %s %s still has its transition pending after 10s: %+v", rule, key, st.Pending)
		}
		<-ticker.C
	}
}

func TestSentTransitionClearedFromState(t *testing.T) {
	t.Parallel()
	b := setup(t, DefaultRules())
	a, _ := b.start()

	b.waitAcked(b.publish(hardBounceBatch(10)...))
	evaluate(t, a)
	b.slack.slackMessage(t)

	st := b.waitSettled(RuleHardBounceRate, "pro")
	if st.Level != LevelCritical || st.Sequence != 1 {
		t.Errorf("state after the alert = %s #%d, want critical #1", st.Level, st.Sequence)
	}
}

func TestPendingTransitionSentAfterCrash(t *testing.T) {
	t.Parallel()
	b := setup(t, DefaultRules())
	_, stopFirst := b.start()
	stopFirst()

	// What a process killed right after storing a fired alert leaves: the
	// state with its transition pending, and no alert on the stream.
	b.publish(hardBounceBatch(10)...)
	now := b.clock.Now()
	data := Data{
		Rule: RuleHardBounceRate, Key: "pro", KeyKind: KeyServerComposition,
		State: "firing", Transition: TransitionFired,
		Level: LevelCritical, PreviousLevel: LevelOK,
		Value: 0.12, Warning: 0.05, Critical: 0.10,
		Window: "24h", WindowSeconds: 86400, MinVolume: 200,
		Counts: &Counts{Sent: 250, Hard: 30},
		Since:  now, Sequence: 1,
	}
	data.Summary = Summary(&data)
	crashed := State{
		Rule: RuleHardBounceRate, Key: "pro", Level: LevelCritical, Peak: LevelCritical,
		Since: now, Notified: now, Sequence: 1,
		Pending: &PendingAlert{Time: now.UTC(), Data: data},
	}
	value, err := json.Marshal(crashed)
	if err != nil {
		t.Fatal(err)
	}
	ctx := natstest.Context(t, 10*time.Second)
	kv, err := b.srv.JS.KeyValue(ctx, "alerts")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, stateKey(RuleHardBounceRate, "pro"), value); err != nil {
		t.Fatal(err)
	}

	second, stopSecond := b.start()
	msg := b.slack.slackMessage(t)
	if !strings.Contains(msg.Text, "CRITICAL: Hard bounce rate on server composition pro") {
		t.Errorf("slack text after the restart = %q, want the pending alert", msg.Text)
	}
	// The rate is still critical, within the cooldown: nothing new.
	evaluate(t, second)
	alerts := b.alerts()
	if len(alerts) != 1 {
		t.Fatalf("alerts on the stream after the restart = %d, want the pending one", len(alerts))
	}
	if alerts[0].Transition != TransitionFired || alerts[0].Sequence != 1 {
		t.Errorf("alert = %s #%d, want fired #1", alerts[0].Transition, alerts[0].Sequence)
	}
	st := b.waitSettled(RuleHardBounceRate, "pro")
	if st.Level != LevelCritical || st.Sequence != 1 {
		t.Errorf("state after the restart = %s #%d, want critical #1", st.Level, st.Sequence)
	}

	// Sent and cleared: the next start sends nothing again.
	stopSecond()
	third, _ := b.start()
	evaluate(t, third)
	if n := len(b.alerts()); n != 1 {
		t.Errorf("alerts after a second restart = %d, want still 1", n)
	}
}
