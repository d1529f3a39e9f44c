package alert

import (
	"strings"
	"time"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// UnclassifiedReason is the reason of a failure that carries no
// classification and is not a bounce with a CMC bounce code.
const UnclassifiedReason = "unclassified"

// hardBounceCodes are the CMC bounce codes counted as hard when a bounce
// carries no classification: host unknown, user unknown and bad address.
var hardBounceCodes = map[int]bool{1: true, 2: true, 9: true}

// tally turns events into window counts. It is not safe for concurrent
// use: the Alerter guards it with its mutex.
type tally struct {
	compositions *dimension
	domains      *dimension
	failures     *failureMemory

	// lastEvent is the stored time of the newest event counted.
	lastEvent time.Time
}

func newTally(rules *Rules, maxDomains, maxFailures int) *tally {
	return &tally{
		compositions: newDimension(rules.compositionWindow(), 0),
		domains:      newDimension(rules.domainWindow(), maxDomains),
		failures:     newFailureMemory(rules.LongestWindow(), maxFailures),
	}
}

// observation is one event's contribution to the counts, for the metrics.
type observation struct {
	composition string
	domain      string
	sent        bool
	deferred    bool
	failure     bool // a failure counted for the first time
	hard        bool
	reason      string
}

// add counts one event stored at stored. Events of other types (queued
// deliveries, blocks, alerts) only move lastEvent. It returns what was
// counted and false for an event that counts for nothing.
func (t *tally) add(ev *mailevent.Event, stored time.Time) (observation, bool) {
	if stored.After(t.lastEvent) {
		t.lastEvent = stored
	}
	switch ev.Type {
	case mailevent.TypeDeliverySucceeded, mailevent.TypeDeliveryFailed,
		mailevent.TypeDeliveryDeferred, mailevent.TypeBounce:
	default:
		return observation{}, false
	}
	data, err := mailevent.DecodeData(ev)
	if err != nil {
		return observation{}, false
	}
	var msg *mailevent.Message
	bounceCode := 0
	switch d := data.(type) {
	case *mailevent.Delivery:
		msg = &d.Message
	case *mailevent.Bounce:
		msg = &d.Message
		if d.BounceCode != nil {
			bounceCode = *d.BounceCode
		}
	default:
		return observation{}, false
	}

	obs := observation{
		composition: compositionOf(ev, msg),
		domain:      t.domains.key(recipientDomain(ev, msg)),
	}
	comp := t.compositions.at(obs.composition, stored)
	var dom *counts
	if obs.domain != "" {
		dom = t.domains.at(obs.domain, stored)
	}

	switch ev.Type {
	case mailevent.TypeDeliveryDeferred:
		obs.deferred = true
		if comp != nil {
			comp.Deferred++
		}
		return obs, true
	case mailevent.TypeDeliverySucceeded:
		obs.sent = true
		if comp != nil {
			comp.Sent++
		}
		if dom != nil {
			dom.Sent++
		}
		return obs, true
	}

	// A failed delivery or a bounce: count the failure, and its send, once
	// per message id and recipient.
	obs.hard, obs.reason = verdict(ev.Type == mailevent.TypeBounce, msg, bounceCode)
	record := failureRecord{
		bucket:      stored.Truncate(bucketWidth).Unix(),
		stored:      stored,
		composition: obs.composition,
		domain:      obs.domain,
		hard:        obs.hard,
		reason:      obs.reason,
	}
	key := failureKey(msg, ev.Subject)
	if first, seen := t.failures.remember(key, record); seen {
		t.reclassify(first, record)
		return obs, true
	}
	// The first report of a failure also counts its send, because a bounce
	// means a send was attempted even when its failed delivery never
	// arrives. So a bounce alone keeps the rate at 100% or below.
	//
	// NOTE: a bounce after a succeeded delivery of the same message and
	// recipient counts a second send, because succeeded deliveries are not
	// remembered.
	obs.sent = true
	obs.failure = true
	if comp != nil {
		comp.Sent++
		comp.addFailure(obs.hard, obs.reason, obs.domain, 1)
	}
	if dom != nil {
		dom.Sent++
		dom.addFailure(obs.hard, obs.reason, "", 1)
	}
	return obs, true
}

// reclassify moves a failure counted soft, or without a reason, to the
// verdict of its second report when that one is better informed. So a
// failed delivery without classification, followed by CMC's bounce with a
// hard bounce code, becomes one hard failure.
func (t *tally) reclassify(first *failureRecord, second failureRecord) {
	upgrade := second.hard && !first.hard
	betterReason := first.reason == UnclassifiedReason && second.reason != UnclassifiedReason
	if !upgrade && !betterReason {
		return
	}
	hard := first.hard || second.hard
	reason := first.reason
	if betterReason {
		reason = second.reason
	}
	if comp := t.compositions.find(first.composition, first.bucket); comp != nil {
		comp.addFailure(first.hard, first.reason, first.domain, -1)
		comp.addFailure(hard, reason, first.domain, 1)
	}
	if first.domain != "" {
		if dom := t.domains.find(first.domain, first.bucket); dom != nil {
			dom.addFailure(first.hard, first.reason, "", -1)
			dom.addFailure(hard, reason, "", 1)
		}
	}
	first.hard, first.reason = hard, reason
}

// prune drops the counts and failures older than every window.
func (t *tally) prune(now time.Time) {
	t.compositions.prune(now)
	t.domains.prune(now)
	t.failures.prune(now)
}

// verdict returns whether a failure is hard and its reason: the
// classification when the event carries one, else for a bounce its CMC
// bounce code and name, else soft and UnclassifiedReason.
func verdict(isBounce bool, msg *mailevent.Message, bounceCode int) (bool, string) {
	if c := msg.Classification; c != nil {
		reason := c.Reason
		if reason == "" {
			reason = UnclassifiedReason
		}
		return c.Hard, reason
	}
	if isBounce && bounceCode != 0 {
		return hardBounceCodes[bounceCode], mailevent.BounceName(msg.Status)
	}
	return false, UnclassifiedReason
}

// compositionOf returns the event's server composition: the data member,
// else the one named by the source.
func compositionOf(ev *mailevent.Event, msg *mailevent.Message) string {
	if msg.ServerComposition != "" {
		return msg.ServerComposition
	}
	composition, _ := mailevent.ServerComposition(ev.Source)
	return composition
}

// recipientDomain returns the lowercased domain of the recipient address:
// the CloudEvent subject, else the data's to. It returns "" when neither
// has an @.
func recipientDomain(ev *mailevent.Event, msg *mailevent.Message) string {
	address := ev.Subject
	if address == "" {
		address = msg.To
	}
	at := strings.LastIndexByte(address, '@')
	if at < 0 || at == len(address)-1 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(strings.TrimRight(address[at+1:], ">")))
}

// failureKey identifies one failure: the message id and the recipient.
// It returns "" when the message id is missing, so that the failure is
// counted without pairing.
func failureKey(msg *mailevent.Message, recipient string) string {
	if msg.MessageID == "" {
		return ""
	}
	if recipient == "" {
		recipient = msg.To
	}
	return msg.MessageID + "\x00" + strings.ToLower(strings.TrimSpace(recipient))
}
