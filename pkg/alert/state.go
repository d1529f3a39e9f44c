package alert

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/stream"
)

// Level is the severity of an alert.
type Level string

// The levels, from none to the highest.
const (
	LevelOK       Level = "ok"
	LevelWarning  Level = "warning"
	LevelCritical Level = "critical"
)

func (l Level) rank() int {
	switch l {
	case LevelWarning:
		return 1
	case LevelCritical:
		return 2
	}
	return 0
}

// Transition names what changed in an alert's state.
type Transition string

// The transitions that are published and notified.
const (
	// TransitionFired is a rule and key crossing a level from ok.
	TransitionFired Transition = "fired"
	// TransitionEscalated is a warning becoming critical.
	TransitionEscalated Transition = "escalated"
	// TransitionRepeated is a reminder of an alert still firing, sent
	// once per cooldown.
	TransitionRepeated Transition = "repeated"
	// TransitionResolved is a firing alert falling back below every level.
	TransitionResolved Transition = "resolved"
)

// State is the stored state of one rule and key.
type State struct {
	Rule  string `json:"rule"`
	Key   string `json:"key"`
	Level Level  `json:"level"`
	// Peak is the highest level notified since the alert fired.
	Peak Level `json:"peak"`
	// Since is when the alert fired; zero while ok.
	Since time.Time `json:"since"`
	// Notified is the time of the last notification.
	Notified time.Time `json:"notified"`
	// Sequence counts the notifications of this rule and key; it makes
	// each transition's CloudEvent id.
	Sequence uint64 `json:"sequence"`
	// Pending is the last transition until it is published and every
	// notifier has had it; nil after that. It is stored together with the
	// state it leads to, so a process killed in between sends it again
	// on its next start.
	Pending *PendingAlert `json:"pending,omitempty"`

	revision uint64 // KV revision the state was read at; 0 when new
}

// firing reports whether the alert is at warning or critical.
func (s *State) firing() bool { return s.Level.rank() > 0 }

// PendingAlert is a transition stored before it is sent: its CloudEvent
// time and data, from which the same CloudEvent, id included, is built
// again.
type PendingAlert struct {
	Time time.Time `json:"time"`
	Data Data      `json:"data"`
}

// decide returns the next state for the level evaluated now and the
// transition to notify, or "" when nothing is to be sent.
//
// A warning that becomes critical is sent at once. A critical alert whose
// rate drops to the warning level stays firing without a message, so a
// rate that wavers around the critical level is reminded of once per
// cooldown instead of on every crossing. A resolve is always sent.
func decide(prev State, level Level, now time.Time, cooldown time.Duration) (State, Transition) {
	next := prev
	switch {
	case !prev.firing() && level.rank() == 0:
		return prev, ""

	case !prev.firing():
		next.Level, next.Peak, next.Since = level, level, now
		return notified(next, now), TransitionFired

	case level.rank() == 0:
		next.Level, next.Peak, next.Since = LevelOK, LevelOK, time.Time{}
		return notified(next, now), TransitionResolved

	case level.rank() > prev.Peak.rank():
		next.Level, next.Peak = level, level
		return notified(next, now), TransitionEscalated

	case now.Sub(prev.Notified) >= cooldown:
		next.Level = level
		return notified(next, now), TransitionRepeated
	}
	next.Level = level
	return next, ""
}

func notified(s State, now time.Time) State {
	s.Notified = now
	s.Sequence++
	return s
}

// stateStore keeps the states in a KV bucket, one entry per rule and key.
type stateStore struct {
	kv jetstream.KeyValue
}

// openStateStore creates the bucket when it does not exist.
func openStateStore(ctx context.Context, js jetstream.JetStream, bucket string, replicas int) (*stateStore, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      bucket,
		Description: "mailbridge alert states by rule and key",
		History:     1,
		Replicas:    max(replicas, 1),
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open KV bucket %s: %w", bucket, stream.JetStreamHint(err))
	}
	return &stateStore{kv: kv}, nil
}

// stateKey returns the KV key of a rule and key. Keys are free text (a
// server composition may hold any character), so they are base64url
// encoded.
func stateKey(rule, key string) string {
	return rule + "." + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// loadAll returns every stored state by KV key.
func (s *stateStore) loadAll(ctx context.Context) (map[string]State, error) {
	states := make(map[string]State)
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list alert states: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	for name := range lister.Keys() {
		st, err := s.get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		states[name] = st
	}
	return states, nil
}

func (s *stateStore) get(ctx context.Context, name string) (State, error) {
	entry, err := s.kv.Get(ctx, name)
	if err != nil {
		return State{}, fmt.Errorf("get alert state %s: %w", name, err)
	}
	var st State
	if err := json.Unmarshal(entry.Value(), &st); err != nil {
		return State{}, fmt.Errorf("decode alert state %s: %w", name, err)
	}
	st.revision = entry.Revision()
	return st, nil
}

// errStateChanged is returned by put when another process wrote the state
// since it was read.
var errStateChanged = errors.New("alert state changed by another process")

// put stores st if the stored revision is still the one it was read at,
// and returns it with the new revision.
func (s *stateStore) put(ctx context.Context, st State) (State, error) {
	value, err := json.Marshal(st)
	if err != nil {
		return st, err
	}
	name := stateKey(st.Rule, st.Key)
	var revision uint64
	if st.revision == 0 {
		revision, err = s.kv.Create(ctx, name, value)
	} else {
		revision, err = s.kv.Update(ctx, name, value, st.revision)
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		return st, fmt.Errorf("put alert state %s: %w", name, errStateChanged)
	}
	if err != nil {
		return st, fmt.Errorf("put alert state %s: %w", name, err)
	}
	st.revision = revision
	return st, nil
}

// ruleOfKey returns the rule of a KV key that stateKey made.
func ruleOfKey(name string) string {
	rule, _, _ := strings.Cut(name, ".")
	return rule
}
