package bounce

// cmcStatus is the meaning of one Customers Mail Cloud bounce status.
type cmcStatus struct {
	reason Reason
	// generic marks a status that only reports a rejected or failed
	// delivery, so the text may name the actual reason.
	generic bool
	// final marks a status decided by CMC itself without contacting the
	// receiving server, so the text cannot overrule it.
	final bool
}

// cmcStatuses maps the CMC bounce status ("status" in the bounce webhook) to
// a reason.
var cmcStatuses = map[string]cmcStatus{
	"1": {reason: HostUnknown},
	"2": {reason: UserUnknown},
	"3": {reason: Expired},
	"4": {reason: Filtered, generic: true}, // refused by the receiving side
	"5": {reason: MailboxFull},
	// NOTE: CMC documents 6 only as a forwarding error. Whether it means a
	// failed relay or a recipient that forwards elsewhere is a guess, so the
	// text decides whenever it names a reason.
	"6":  {reason: SystemError, generic: true},
	"7":  {reason: SystemError, generic: true}, // the receiving server failed
	"8":  {reason: MesgTooBig},
	"9":  {reason: UserUnknown}, // the address is malformed, RFC 3463 x.1.3
	"10": {reason: Suppressed, final: true},
	"11": {reason: Suppressed, final: true}, // the recipient unsubscribed
	"99": {reason: OnHold, generic: true},
}

// resolve combines a CMC status with the evidence of the text. A specific
// status is CMC's verdict and is kept, except against wording that blames
// the sender. CMC has been seen to report blocks as an unknown user, and a false
// hard bounce would suppress an address that works.
func (s cmcStatus) resolve(found textEvidence) Reason {
	switch {
	case s.final:
		return s.reason
	case s.generic:
		if found.reason != OnHold && found.reason != Undefined {
			return found.reason
		}
		return s.reason
	case found.fromWording && found.reason.senderSide():
		return found.reason
	}
	return s.reason
}
