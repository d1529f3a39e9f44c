package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/alert"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// The alerter's clock is real in these tests, so the settings make the
// outcome independent of when it evaluates:
//
//   - Every window is 1h, so every event of a run that lasts seconds is
//     inside every window at every evaluation.
//   - The spike is hard failures only, so its rate is 100% from the first
//     event. The first evaluation with at least the minimum volume of 10
//     sends finds critical at once; no evaluation can find warning first
//     and escalate later.
//   - The recovery starts only once both alerts are stored as critical,
//     and ends at 15%, under the 20% warning level. An evaluation in
//     between may find warning, which a critical alert takes without a
//     message, so the only message is the resolve.
//   - The cooldown of 1h sends no reminder during the run.
//
// The evaluation interval of 1s, the shortest allowed, only makes the
// transitions come sooner.
var alertRuleEnv = []string{
	"MAILBRIDGE_ALERT_HARD_BOUNCE_WARNING=20%",
	"MAILBRIDGE_ALERT_HARD_BOUNCE_CRITICAL=50%",
	"MAILBRIDGE_ALERT_HARD_BOUNCE_WINDOW=1h",
	"MAILBRIDGE_ALERT_HARD_BOUNCE_MIN_SENT=10",
	"MAILBRIDGE_ALERT_DOMAIN_FAILURE_WARNING=20%",
	"MAILBRIDGE_ALERT_DOMAIN_FAILURE_CRITICAL=50%",
	"MAILBRIDGE_ALERT_DOMAIN_FAILURE_WINDOW=1h",
	"MAILBRIDGE_ALERT_DOMAIN_FAILURE_MIN_SENT=10",
	"MAILBRIDGE_ALERT_COOLDOWN=1h",
	"MAILBRIDGE_ALERT_EVALUATE_INTERVAL=1s",
	"MAILBRIDGE_ALERT_NOTIFY_TIMEOUT=5s",
}

// The keys that the burst makes fire: the server composition of every
// event, and the recipient domain of every event.
const (
	burstComposition = "pro"
	burstDomain      = "example.jp"
)

// publishInterval paces the burst so that it outlasts the alerter's
// first evaluation, which comes 1s after the first event. The spike
// takes 1.2s and the recovery 3.4s, so the transitions and the kills
// timed on them come while events are still being published.
const publishInterval = 20 * time.Millisecond

func TestAlerterKilledMidBurstMatchesCleanPass(t *testing.T) {
	t.Parallel()
	bin := mailbridgeBinary(t)
	killsPerPhase, scale := 1, 1
	if longTests() {
		killsPerPhase, scale = 5, 4
	}
	spike, recovery := alertBurst(scale)

	// The two passes own their servers, so they run at the same time.
	crashed, clean := newAlertPass(t, bin), newAlertPass(t, bin)
	t.Run("passes", func(t *testing.T) {
		t.Run("killed", func(t *testing.T) {
			t.Parallel()
			crashed.run(t, spike, recovery, killsPerPhase)
		})
		t.Run("clean", func(t *testing.T) {
			t.Parallel()
			clean.run(t, spike, recovery, 0)
		})
	})
	if t.Failed() {
		return
	}

	// The alert states: same level, peak and notification count per rule
	// and key, and nothing left to send. since and notified are times of
	// the run, so only whether since is set is compared.
	crashedStates, cleanStates := crashed.states(), clean.states()
	for _, name := range []string{stateName(alert.RuleHardBounceRate, burstComposition), stateName(alert.RuleDomainFailureRate, burstDomain)} {
		want, ok := cleanStates[name]
		if !ok {
			t.Errorf("the clean pass stored no state for %s: %v", name, cleanStates)
			continue
		}
		if want.Level != alert.LevelOK || want.Sequence != 2 || want.Pending {
			t.Errorf("clean pass state of %s = %+v, want level ok after 2 notifications, none pending", name, want)
		}
	}
	if len(crashedStates) != len(cleanStates) {
		t.Errorf("states after %d kills = %d, clean pass = %d", 2*killsPerPhase, len(crashedStates), len(cleanStates))
	}
	for name, want := range cleanStates {
		if got := crashedStates[name]; got != want {
			t.Errorf("state of %s after the kills = %+v, clean pass = %+v", name, got, want)
		}
	}

	// The alert CloudEvents on the stream: each transition once.
	crashedAlerts, cleanAlerts := crashed.streamAlerts(), clean.streamAlerts()
	for _, key := range []string{alert.RuleHardBounceRate + "/" + burstComposition, alert.RuleDomainFailureRate + "/" + burstDomain} {
		fired, resolved := 0, 0
		for _, a := range cleanAlerts {
			if a.Rule+"/"+a.Key != key {
				continue
			}
			switch a.Transition {
			case alert.TransitionFired:
				fired++
			case alert.TransitionResolved:
				resolved++
			}
		}
		if fired != 1 || resolved != 1 {
			t.Errorf("clean pass alerts of %s: fired %d times and resolved %d times, want once each", key, fired, resolved)
		}
	}
	if len(cleanAlerts) != 4 {
		t.Errorf("clean pass published %d alerts, want 4: %v", len(cleanAlerts), cleanAlerts)
	}
	checkNoDuplicateIDs(t, "after the kills", crashedAlerts)
	checkNoDuplicateIDs(t, "in the clean pass", cleanAlerts)
	if got, want := transitionSet(crashedAlerts), transitionSet(cleanAlerts); !equalSets(got, want) {
		t.Errorf("alerts on the stream after the kills:\n%v\nclean pass:\n%v", got, want)
	}

	// The notifications. The clean pass sends each transition once.
	// After the kills each transition comes at least once, and more than
	// once only with the same id: a transition stored but not known to be
	// sent when the process died is sent again on the next start.
	cleanReceived := clean.receiver.alerts()
	if got, want := transitionSet(cleanReceived), transitionSet(cleanAlerts); !equalSets(got, want) || len(cleanReceived) != len(cleanAlerts) {
		t.Errorf("clean pass notifications:\n%v\nwant each alert on its stream once:\n%v", cleanReceived, cleanAlerts)
	}
	crashedReceived := crashed.receiver.alerts()
	onStream := make(map[string]bool)
	for _, a := range crashedAlerts {
		onStream[a.ID] = true
	}
	idOf := make(map[string]string)
	for _, a := range crashedReceived {
		if !onStream[a.ID] {
			t.Errorf("notification %v after the kills is not on the stream", a)
		}
		transition := a.transition()
		if id, ok := idOf[transition]; ok && id != a.ID {
			t.Errorf("transition %s notified with ids %s and %s", transition, id, a.ID)
		}
		idOf[transition] = a.ID
	}
	for _, a := range crashedAlerts {
		if _, ok := idOf[a.transition()]; !ok {
			t.Errorf("transition %s on the stream was never notified after the kills", a.transition())
		}
	}
	t.Logf("alerter killed %d times (%d while events were still being published): %d states, %d alerts on the stream, %d notifications (clean pass: %d)",
		crashed.kills, crashed.midBurstKills, len(crashedStates), len(crashedAlerts), len(crashedReceived), len(cleanReceived))
}

// alertPass is one run of the burst against its own NATS server and
// webhook receiver, with "mailbridge alerter" child processes.
type alertPass struct {
	t        *testing.T
	binary   string
	nats     *natstest.Server
	receiver *alertReceiver

	kills, midBurstKills int
}

func newAlertPass(t *testing.T, binary string) *alertPass {
	t.Helper()
	nats := natstest.Start(t)
	EnsureStream(t, nats.JS, 1, 0)
	return &alertPass{t: t, binary: binary, nats: nats, receiver: newAlertReceiver(t)}
}

// startAlerter runs "mailbridge alerter" and waits until its durable
// consumer has started.
func (p *alertPass) startAlerter() *Process {
	p.t.Helper()
	env := append([]string{
		"MAILBRIDGE_NATS_URL=" + p.nats.URL(),
		"MAILBRIDGE_ALERT_WEBHOOK_URL=" + p.receiver.URL,
	}, alertRuleEnv...)
	return StartCommand(p.t, p.binary, "alerter", "consumer started", "durable", env...)
}

// run publishes the spike, waits until both alerts are critical,
// publishes the recovery and waits until both are resolved. It kills the
// alerter killsPerPhase times during each phase and starts it again. The
// first kill comes as soon as a state of the phase's level is stored, so
// it lands between storing a transition and sending it. Later kills come
// once the restarted alerter has taken a new event. At the end it stops
// the alerter with SIGTERM, which sends the queued notifications before
// the process exits.
func (p *alertPass) run(t *testing.T, spike, recovery []burstEvent, killsPerPhase int) {
	t.Helper()
	// The alerter processes and the checks during the run belong to the
	// subtest t. The pass goes back to its own test afterwards, whose
	// servers outlive the subtest.
	defer func(owner *testing.T) { p.t = owner }(p.t)
	p.t = t
	alerter := p.startAlerter()
	phases := []struct {
		events []burstEvent
		level  alert.Level
	}{
		{spike, alert.LevelCritical},
		{recovery, alert.LevelOK},
	}
	for _, phase := range phases {
		published := p.publishPaced(phase.events)
		if killsPerPhase > 0 {
			p.waitStored(phase.level)
			select {
			case <-published:
			default:
				p.midBurstKills++
			}
			alerter.Kill()
			p.kills++
			alerter = p.startAlerter()
		}
		for range killsPerPhase - 1 {
			// Wait for the restarted alerter to take a new event, unless
			// the phase was all published and taken before that.
			from := p.delivered()
			waitFor(t, 30*time.Second, "the alerter to take a new event", func() bool {
				select {
				case <-published:
					return true
				default:
				}
				return p.delivered() > from
			})
			select {
			case <-published:
			default:
				p.midBurstKills++
			}
			alerter.Kill()
			p.kills++
			alerter = p.startAlerter()
		}
		select {
		case <-published:
		case <-time.After(60 * time.Second):
			t.Fatal("the burst was not published within 60s")
		}
		waitFor(t, 30*time.Second, fmt.Sprintf("both alerts to be %s", phase.level), func() bool {
			states := p.states()
			for _, name := range []string{stateName(alert.RuleHardBounceRate, burstComposition), stateName(alert.RuleDomainFailureRate, burstDomain)} {
				if states[name].Level != phase.level {
					return false
				}
			}
			return true
		})
	}

	if err := alerter.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("stop the alerter: %v", err)
	}
	select {
	case <-alerter.Exited():
	case <-time.After(30 * time.Second):
		t.Fatal("the alerter did not stop within 30s of SIGTERM")
	}
}

// publishPaced publishes events one per publishInterval on a goroutine,
// each with its pub ack, and closes the returned channel after the last.
func (p *alertPass) publishPaced(events []burstEvent) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		ticker := time.NewTicker(publishInterval)
		defer ticker.Stop()
		for _, e := range events {
			if _, err := p.nats.JS.PublishMsg(ctx, mailevent.Encode(&e.event, e.subject, mailevent.ModeBinary)); err != nil {
				p.t.Errorf("publish event %s: %v", e.event.ID, err)
				return
			}
			select {
			case <-ticker.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	return done
}

// waitStored waits, through a watch on the KV bucket, until one of the
// burst's alert states is stored at level, and returns at once so that
// the kill that follows lands between storing the state and sending it.
func (p *alertPass) waitStored(level alert.Level) {
	t := p.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var kv jetstream.KeyValue
	waitFor(t, 30*time.Second, "the alerts bucket", func() bool {
		var err error
		kv, err = p.nats.JS.KeyValue(ctx, "alerts")
		return err == nil
	})
	watcher, err := kv.WatchAll(ctx, jetstream.UpdatesOnly())
	if err != nil {
		t.Fatalf("watch alert states: %v", err)
	}
	defer func() { _ = watcher.Stop() }()
	for {
		select {
		case entry := <-watcher.Updates():
			if entry == nil {
				continue
			}
			var st alert.State
			if json.Unmarshal(entry.Value(), &st) == nil && st.Level == level {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no alert state stored at level %s within 30s", level)
		}
	}
}

// delivered returns the stream sequence last delivered to the alerter's
// durable, or 0 before it exists.
func (p *alertPass) delivered() uint64 {
	info := consumerInfo(p.t, p.nats.JS, "alerter")
	if info == nil {
		return 0
	}
	return info.Delivered.Stream
}

// alertState holds the fields of a stored alert state that do not depend
// on when the alerter evaluated.
type alertState struct {
	Rule     string
	Key      string
	Level    alert.Level
	Peak     alert.Level
	Sequence uint64
	Firing   bool // since is set
	Pending  bool // a transition is stored and not yet sent
}

// states returns the alert states of the KV bucket by rule and key.
func (p *alertPass) states() map[string]alertState {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := p.nats.JS.KeyValue(ctx, "alerts")
	if err != nil {
		return nil
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		p.t.Fatalf("list alert states: %v", err)
	}
	out := make(map[string]alertState)
	for key := range keys.Keys() {
		entry, err := kv.Get(ctx, key)
		if err != nil {
			p.t.Fatalf("get alert state %s: %v", key, err)
		}
		var st alert.State
		if err := json.Unmarshal(entry.Value(), &st); err != nil {
			p.t.Fatalf("alert state %s is not a state: %v", key, err)
		}
		out[stateName(st.Rule, st.Key)] = alertState{
			Rule: st.Rule, Key: st.Key, Level: st.Level, Peak: st.Peak,
			Sequence: st.Sequence, Firing: !st.Since.IsZero(), Pending: st.Pending != nil,
		}
	}
	return out
}

func stateName(rule, key string) string { return rule + "/" + key }

// sentAlert is one alert CloudEvent, from the stream or the receiver.
type sentAlert struct {
	ID         string
	Rule       string
	Key        string
	Transition alert.Transition
	Level      alert.Level
	Sequence   uint64
}

// transition names the alert without its id.
func (a sentAlert) transition() string {
	return fmt.Sprintf("%s/%s #%d %s %s", a.Rule, a.Key, a.Sequence, a.Transition, a.Level)
}

func (a sentAlert) String() string { return a.transition() + " " + a.ID }

func decodeAlert(id string, data []byte) (sentAlert, error) {
	var d alert.Data
	if err := json.Unmarshal(data, &d); err != nil {
		return sentAlert{}, err
	}
	return sentAlert{ID: id, Rule: d.Rule, Key: d.Key, Transition: d.Transition, Level: d.Level, Sequence: d.Sequence}, nil
}

// streamAlerts returns every alert CloudEvent on the stream, in stream
// order.
func (p *alertPass) streamAlerts() []sentAlert {
	t := p.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := p.nats.JS.Stream(ctx, StreamName)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{alert.AlertSubjects(mailevent.Subjects{Prefix: "mail"})},
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []sentAlert
	for {
		batch, err := reader.FetchNoWait(100)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			ev, err := mailevent.Decode(m.Headers(), m.Data())
			if err != nil {
				t.Fatalf("alert on %s is not a CloudEvent: %v", m.Subject(), err)
			}
			a, err := decodeAlert(ev.ID, ev.Data)
			if err != nil {
				t.Fatalf("alert %s has data that is not alert data: %v", ev.ID, err)
			}
			out = append(out, a)
		}
		if n == 0 {
			return out
		}
	}
}

func checkNoDuplicateIDs(t *testing.T, pass string, alerts []sentAlert) {
	t.Helper()
	seen := make(map[string]bool)
	for _, a := range alerts {
		if seen[a.ID] {
			t.Errorf("alert id %s is on the stream twice %s: %v", a.ID, pass, alerts)
		}
		seen[a.ID] = true
	}
}

// transitionSet returns the distinct alerts, sorted.
func transitionSet(alerts []sentAlert) []string {
	seen := make(map[string]bool)
	var out []string
	for _, a := range alerts {
		if s := a.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// alertReceiver is the MAILBRIDGE_ALERT_WEBHOOK_URL endpoint: it records
// every alert CloudEvent it receives and responds with 200.
type alertReceiver struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	received []sentAlert
}

func newAlertReceiver(t *testing.T) *alertReceiver {
	r := &alertReceiver{t: t}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		a, err := decodeAlert(req.Header.Get("ce-id"), body)
		if err != nil {
			t.Errorf("webhook body is not alert data: %v\n%s", err, body)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.received = append(r.received, a)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

// alerts returns the alerts received so far, in order of arrival.
func (r *alertReceiver) alerts() []sentAlert {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sentAlert(nil), r.received...)
}

// burstEvent is one event of the burst with its NATS subject.
type burstEvent struct {
	event   mailevent.Event
	subject string
}

// alertBurst returns the events of the test, the same for every pass.
// The spike is 30*scale failed deliveries to burstDomain classified hard,
// each followed by CMC's bounce for the same message, which counts as
// the same failure. The recovery is 170*scale succeeded deliveries to the
// same domain, which bring both rates to 15%.
func alertBurst(scale int) (spike, recovery []burstEvent) {
	subjects := mailevent.Subjects{Prefix: "mail"}
	class := &mailevent.Classification{Reason: "userunknown", Hard: true, SMTPCode: "550", EnhancedStatus: "5.1.1"}
	n := 0
	event := func(eventType, subject, schema, recipient string, data any) burstEvent {
		n++
		body, err := json.Marshal(data)
		if err != nil {
			panic(err)
		}
		return burstEvent{subject: subject, event: mailevent.Event{
			ID:              fmt.Sprintf("alert-burst-%d", n),
			Source:          mailevent.Source(burstComposition),
			Type:            eventType,
			Subject:         recipient,
			Time:            time.Date(2026, 1, 25, 5, 6, 6, 0, time.UTC),
			DataContentType: "application/json",
			DataSchema:      schema,
			Data:            body,
		}}
	}
	message := func(i int, status string, class *mailevent.Classification) mailevent.Message {
		return mailevent.Message{
			Created: "2026-01-25 14:06:06", From: "info@example.com",
			To: fmt.Sprintf("user%d@%s", i, burstDomain), MessageID: fmt.Sprintf("<m%d@example.com>", i),
			Status: status, ServerComposition: burstComposition, Classification: class,
		}
	}

	for i := range 30 * scale {
		failed := message(i, mailevent.StatusFailed, class)
		spike = append(spike, event(mailevent.TypeDeliveryFailed, subjects.Delivery(mailevent.StatusFailed),
			mailevent.SchemaDelivery, failed.To, mailevent.Delivery{Message: failed}))
		code := 2
		bounced := message(i, "2", class)
		spike = append(spike, event(mailevent.TypeBounce, subjects.Bounce("2"), mailevent.SchemaBounce, bounced.To,
			mailevent.Bounce{Message: bounced, BounceCode: &code, BounceName: mailevent.BounceName("2")}))
	}
	for i := range 170 * scale {
		succeeded := message(100000+i, mailevent.StatusSucceeded, nil)
		recovery = append(recovery, event(mailevent.TypeDeliverySucceeded, subjects.Delivery(mailevent.StatusSucceeded),
			mailevent.SchemaDelivery, succeeded.To, mailevent.Delivery{Message: succeeded}))
	}
	return spike, recovery
}
