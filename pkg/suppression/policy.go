package suppression

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Policy decides which failures suppress an address.
//
// A hard verdict (the address or its domain does not exist) suppresses at
// once, and so do CMC bounce codes 10 (already blocked by CMC) and 11
// (unsubscribed). Soft verdicts suppress when SoftThreshold different
// messages failed within SoftWindow. A succeeded delivery clears the soft
// failures before it, unless the address is already suppressed. Verdicts
// whose reason is in SenderReasons blame the sender and never count.
type Policy struct {
	// SoftThreshold is how many soft failures within SoftWindow suppress
	// an address. Defaults to 3.
	SoftThreshold int

	// SoftWindow is how far back soft failures count, measured from the
	// time of the event being applied. Defaults to 7 days.
	SoftWindow time.Duration

	// DeferralThreshold is how many deferred messages within SoftWindow
	// suppress an address, counted apart from failures. Defaults to 0,
	// which never counts deferrals: CMC keeps retrying a deferred message
	// and reports a failure or an expired bounce when it gives up, and
	// that report is what counts.
	DeferralThreshold int

	// SenderReasons are the bounce reasons that blame the sender, not the
	// recipient. Defaults to DefaultSenderReasons.
	SenderReasons []string
}

// DefaultSenderReasons are the sisimai bounce reasons that blame the
// sender: its IP, domain, reputation, authentication, rate, TLS or
// message. Sending to the address again may succeed once the sender has
// fixed the problem, so none of them suppresses the recipient.
var DefaultSenderReasons = []string{
	"authfailure", "badreputation", "blocked", "contenterror",
	"failedstarttls", "mesgtoobig", "norelaying", "notcompliantrfc",
	"policyviolation", "rejected", "requireptr", "securityerror",
	"spamdetected", "speeding", "toomanyconn", "virusdetected",
}

// Reasons of CMC bounce codes 10 and 11, which suppress at once whatever
// the classification says.
const (
	ReasonSuppressed   = "suppressed"   // code 10: CMC blocks the address after earlier errors
	ReasonUnsubscribed = "unsubscribed" // code 11: the recipient unsubscribed
	// ReasonUndefined is the reason of a failure without a usable verdict.
	ReasonUndefined = "undefined"
	// ReasonManual is the reason of a manual add that gives none.
	ReasonManual = "manual"
)

// codeVerdicts are the verdicts of CMC bounce codes, used when an event
// carries no usable classification.
var codeVerdicts = map[int]verdict{
	1:  {reason: "hostunknown", hard: true, precision: precisionCode},
	2:  {reason: "userunknown", hard: true, precision: precisionCode},
	3:  {reason: "expired", precision: precisionCode},
	4:  {reason: "filtered", precision: precisionCode},
	5:  {reason: "mailboxfull", precision: precisionCode},
	6:  {reason: "systemerror", precision: precisionCode},
	7:  {reason: "systemerror", precision: precisionCode},
	8:  {reason: "mesgtoobig", precision: precisionCode},
	9:  {reason: "syntaxerror", hard: true, precision: precisionCode},
	10: {reason: ReasonSuppressed, hard: true, precision: precisionFinal},
	11: {reason: ReasonUnsubscribed, hard: true, precision: precisionFinal},
	99: {reason: ReasonUndefined, precision: precisionNone},
}

// Verdict precision, lowest first. Of two reports of one message, the one
// with the higher precision keeps its verdict.
const (
	precisionNone           = 0 // no classification and no known code
	precisionCode           = 1 // the CMC bounce code alone
	precisionClassification = 2 // a classification on a failed delivery
	precisionBounce         = 3 // a classification on a bounce, which also saw the code
	precisionFinal          = 4 // CMC codes 10 and 11
)

// withDefaults returns the policy with its defaults filled in.
func (p Policy) withDefaults() Policy {
	if p.SoftThreshold <= 0 {
		p.SoftThreshold = 3
	}
	if p.SoftWindow <= 0 {
		p.SoftWindow = 7 * 24 * time.Hour
	}
	if p.DeferralThreshold < 0 {
		p.DeferralThreshold = 0
	}
	if p.SenderReasons == nil {
		p.SenderReasons = DefaultSenderReasons
	}
	return p
}

// verdict is the policy's reading of one failure.
type verdict struct {
	reason    string
	hard      bool
	precision int
}

// observationKind is what an event tells about its recipient.
type observationKind int

const (
	observeNothing observationKind = iota
	observeFailure
	observeDeferral
	observeSuccess
)

// observation is an event reduced to what the policy needs.
type observation struct {
	kind      observationKind
	eventID   string
	subject   string
	time      time.Time
	address   Address
	messageID string
	verdict   verdict
}

// observe reads an event. It returns observeNothing for event types that
// do not concern the list, and an error for data that cannot be read,
// which redelivery will not fix.
func observe(ev *mailevent.Event, subject string, stored time.Time) (observation, error) {
	obs := observation{eventID: ev.ID, subject: subject, time: ev.Time}
	if obs.time.IsZero() {
		obs.time = stored
	}
	switch ev.Type {
	case mailevent.TypeBounce:
		obs.kind = observeFailure
	case mailevent.TypeDeliveryFailed:
		obs.kind = observeFailure
	case mailevent.TypeDeliveryDeferred:
		obs.kind = observeDeferral
	case mailevent.TypeDeliverySucceeded:
		obs.kind = observeSuccess
	default:
		return observation{}, nil
	}

	data, err := mailevent.DecodeData(ev)
	if err != nil {
		return observation{}, fmt.Errorf("decode data of event %s: %w", ev.ID, err)
	}
	var message *mailevent.Message
	switch d := data.(type) {
	case *mailevent.Bounce:
		message = &d.Message
		obs.verdict = bounceVerdict(d)
	case *mailevent.Delivery:
		message = &d.Message
		obs.verdict = deliveryVerdict(d.Classification)
	}

	recipient := message.To
	if strings.TrimSpace(recipient) == "" {
		recipient = ev.Subject
	}
	obs.address, err = ParseAddress(recipient)
	if err != nil {
		return observation{}, fmt.Errorf("recipient of event %s: %w", ev.ID, err)
	}
	obs.messageID = strings.TrimSpace(message.MessageID)
	return obs, nil
}

// usable reports whether a classification names a reason to act on.
func usable(c *mailevent.Classification) bool {
	return c != nil && c.Reason != "" && c.Reason != ReasonUndefined && c.Reason != "onhold"
}

// bounceVerdict reads a bounce: codes 10 and 11 first, then the
// classification, then the code's own meaning.
func bounceVerdict(b *mailevent.Bounce) verdict {
	code := -1
	if b.BounceCode != nil {
		code = *b.BounceCode
	} else if n, err := strconv.Atoi(strings.TrimSpace(b.Status)); err == nil {
		code = n
	}
	byCode, known := codeVerdicts[code]
	if known && byCode.precision == precisionFinal {
		return byCode
	}
	if usable(b.Classification) {
		return verdict{reason: b.Classification.Reason, hard: b.Classification.Hard, precision: precisionBounce}
	}
	if known {
		return byCode
	}
	return verdict{reason: ReasonUndefined, precision: precisionNone}
}

// deliveryVerdict reads a failed or deferred delivery. Without a usable
// classification it is a soft failure of reason undefined.
func deliveryVerdict(c *mailevent.Classification) verdict {
	if usable(c) {
		return verdict{reason: c.Reason, hard: c.Hard, precision: precisionClassification}
	}
	return verdict{reason: ReasonUndefined, precision: precisionNone}
}

// senderSide reports whether the verdict blames the sender.
func (p *Policy) senderSide(v verdict) bool {
	return v.precision != precisionFinal && slices.Contains(p.SenderReasons, v.reason)
}

// notFailure reports whether the verdict is no failure of the address at
// all: an automatic vacation reply.
func notFailure(v verdict) bool {
	return v.reason == "vacation"
}

// apply changes rec by one observation and returns the kind of change, or
// "" when the record stays as it is. rec is the zero Record for an address
// without one.
func (p *Policy) apply(rec *Record, obs *observation) string {
	if rec.hasApplied(obs.eventID) {
		return ""
	}
	if !rec.ClearedAt.IsZero() && !obs.time.After(rec.ClearedAt) {
		return ""
	}

	var changed bool
	switch obs.kind {
	case observeSuccess:
		changed = p.applySuccess(rec, obs)
	case observeFailure, observeDeferral:
		changed = p.applyFailure(rec, obs)
	}
	if !changed {
		return ""
	}

	wasSuppressed := rec.Suppressed
	p.evaluate(rec, obs)
	if rec.Address == "" {
		rec.Address = obs.address
	}
	rec.LastEventID, rec.LastEventSubject = obs.eventID, obs.subject
	rec.markApplied(obs.eventID)
	rec.LastChange = ChangeUpdated
	if rec.Suppressed && !wasSuppressed {
		rec.LastChange = ChangeAdded
	}
	return rec.LastChange
}

// applySuccess drops the failures from before a succeeded delivery. A
// suppressed address stays as it is: the list is changed only by an
// operator once an address is on it.
func (p *Policy) applySuccess(rec *Record, obs *observation) bool {
	if rec.Suppressed || len(rec.Recent) == 0 {
		return false
	}
	kept := rec.Recent[:0]
	for _, f := range rec.Recent {
		if !f.Time.Before(obs.time) {
			kept = append(kept, f)
		}
	}
	if len(kept) == len(rec.Recent) {
		return false
	}
	rec.Recent = kept
	return true
}

// applyFailure records one failed or deferred message. A second report of
// a message already recorded (CMC's failed delivery and its bounce) does
// not count again but may replace the verdict by a more precise one.
func (p *Policy) applyFailure(rec *Record, obs *observation) bool {
	v := obs.verdict
	if notFailure(v) {
		return false
	}
	deferral := obs.kind == observeDeferral
	if deferral && p.DeferralThreshold == 0 {
		return false
	}

	if i := rec.findRecent(obs.messageID, deferral); i >= 0 {
		known := &rec.Recent[i]
		if v.precision > known.Precision {
			if p.senderSide(v) {
				// The better verdict blames the sender, so the message
				// no longer counts against the address.
				rec.Recent = slices.Delete(rec.Recent, i, i+1)
				if deferral {
					rec.Deferrals--
				} else {
					rec.Failures--
				}
			} else {
				known.Reason, known.Hard, known.Precision = v.reason, v.hard, v.precision
			}
		}
		rec.LastSeen = laterOf(rec.LastSeen, obs.time)
		return true
	}

	if p.senderSide(v) {
		// NOTE: a sender-side verdict is not recorded, so when its message
		// is reported again without a classification (a failed delivery
		// processed after its bounce), that report counts as a soft
		// failure. Once every event carries a classification, both
		// reports agree and neither counts.
		return false
	}
	rec.Recent = append(rec.Recent, Failure{
		MessageID: obs.messageID, Time: obs.time, Deferral: deferral,
		Reason: v.reason, Hard: v.hard, Precision: v.precision, EventID: obs.eventID,
	})
	if over := len(rec.Recent) - maxRecent; over > 0 {
		rec.Recent = slices.Delete(rec.Recent, 0, over)
	}
	if deferral {
		rec.Deferrals++
	} else {
		rec.Failures++
	}
	if rec.FirstSeen.IsZero() || obs.time.Before(rec.FirstSeen) {
		rec.FirstSeen = obs.time
	}
	rec.LastSeen = laterOf(rec.LastSeen, obs.time)
	return true
}

// findRecent returns the index of the recent failure of a message, or -1.
// Failures without a message id never match.
func (r *Record) findRecent(messageID string, deferral bool) int {
	if messageID == "" {
		return -1
	}
	for i, f := range r.Recent {
		if f.MessageID == messageID && f.Deferral == deferral {
			return i
		}
	}
	return -1
}

// evaluate drops the failures outside the window, recounts the soft ones
// and suppresses the address when a rule says so.
func (p *Policy) evaluate(rec *Record, obs *observation) {
	since := obs.time.Add(-p.SoftWindow)
	kept := rec.Recent[:0]
	for _, f := range rec.Recent {
		if f.Time.After(since) || f.EventID == obs.eventID {
			kept = append(kept, f)
		}
	}
	rec.Recent = kept

	var soft, deferred int
	var hard, lastSoft, lastDeferred *Failure
	for i := range rec.Recent {
		f := &rec.Recent[i]
		switch {
		case f.Deferral:
			deferred++
			lastDeferred = latestOf(lastDeferred, f)
		case f.Hard:
			hard = latestOf(hard, f)
		default:
			soft++
			lastSoft = latestOf(lastSoft, f)
		}
	}
	rec.SoftCount = soft

	switch {
	case hard != nil && (!rec.Suppressed || !rec.Hard):
		p.suppress(rec, hard.Reason, true, obs.time)
	case hard != nil && rec.Source == SourceBounce && rec.Reason != hard.Reason:
		// The reason of a suppression by bounces follows the latest hard
		// failure by time, so that it does not depend on the order in
		// which redelivery after a crash brings the events. A reason given
		// by hand or imported stays.
		rec.Reason = hard.Reason
	case rec.Suppressed:
	case soft >= p.SoftThreshold:
		p.suppress(rec, lastSoft.Reason, false, obs.time)
	case p.DeferralThreshold > 0 && deferred >= p.DeferralThreshold:
		p.suppress(rec, lastDeferred.Reason, false, obs.time)
	}
}

// NOTE: SuppressedAt is the time of the event that crossed the line in
// processing order. After a consumer crash, JetStream redelivers the
// unacked events behind later ones, so the same events can give a later
// SuppressedAt than one clean pass (seen in internal/reliability).
func (p *Policy) suppress(rec *Record, reason string, hard bool, at time.Time) {
	if !rec.Suppressed {
		rec.SuppressedAt = at
		rec.Source = SourceBounce
		rec.Note = ""
	}
	rec.Suppressed, rec.Reason, rec.Hard = true, reason, hard
}

// latestOf returns the later failure by time, and by event id on a tie,
// so that the reason chosen does not depend on the order of processing.
func latestOf(current, f *Failure) *Failure {
	if current == nil || f.Time.After(current.Time) || (f.Time.Equal(current.Time) && f.EventID > current.EventID) {
		return f
	}
	return current
}

func laterOf(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
