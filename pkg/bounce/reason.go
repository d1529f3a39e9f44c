package bounce

// Reason is a bounce reason named as sisimai names it.
type Reason string

// The reasons, in sisimai's vocabulary.
const (
	AuthFailure     Reason = "authfailure"     // SPF, DKIM or DMARC checks failed
	BadReputation   Reason = "badreputation"   // the sending IP or domain has a poor reputation
	Blocked         Reason = "blocked"         // the sending IP is refused, often by a block list
	ContentError    Reason = "contenterror"    // the message content or headers are invalid
	ExceedLimit     Reason = "exceedlimit"     // the message exceeds a limit set for the recipient
	Expired         Reason = "expired"         // delivery time expired while retrying
	FailedSTARTTLS  Reason = "failedstarttls"  // the TLS session could not be established
	Filtered        Reason = "filtered"        // the recipient's filter or settings refused the message
	HasMoved        Reason = "hasmoved"        // the recipient moved to another address
	HostUnknown     Reason = "hostunknown"     // the recipient domain does not exist
	MailboxFull     Reason = "mailboxfull"     // the recipient's mailbox is over quota
	MailerError     Reason = "mailererror"     // a local mailer program failed
	MesgTooBig      Reason = "mesgtoobig"      // the message is larger than the server accepts
	NetworkError    Reason = "networkerror"    // DNS failure, routing loop or unreachable network
	NoRelaying      Reason = "norelaying"      // the server refused to relay
	NotAccept       Reason = "notaccept"       // the domain accepts no mail, for example null MX
	NotCompliantRFC Reason = "notcompliantrfc" // the message violates RFC 5322
	OnHold          Reason = "onhold"          // the text does not tell enough to decide
	PolicyViolation Reason = "policyviolation" // the message violates the receiver's policy
	Rejected        Reason = "rejected"        // the sender's envelope address was refused
	RequirePTR      Reason = "requireptr"      // the sending IP has no valid reverse DNS
	SecurityError   Reason = "securityerror"   // authentication or another security requirement failed
	SpamDetected    Reason = "spamdetected"    // the message was judged to be spam
	Speeding        Reason = "speeding"        // the sender exceeded a sending rate
	Suppressed      Reason = "suppressed"      // the sending service suppressed the address
	Suspend         Reason = "suspend"         // the recipient's account is disabled or suspended
	SyntaxError     Reason = "syntaxerror"     // an SMTP command was malformed or out of sequence
	SystemError     Reason = "systemerror"     // the receiving system failed
	SystemFull      Reason = "systemfull"      // the receiving system is out of disk space
	TooManyConn     Reason = "toomanyconn"     // too many connections or a connection rate limit
	Undefined       Reason = "undefined"       // there is no evidence at all
	UserUnknown     Reason = "userunknown"     // the recipient's mailbox does not exist
	Vacation        Reason = "vacation"        // an automatic vacation reply
	VirusDetected   Reason = "virusdetected"   // the message carries a virus
)

var allReasons = []Reason{
	AuthFailure, BadReputation, Blocked, ContentError, ExceedLimit, Expired,
	FailedSTARTTLS, Filtered, HasMoved, HostUnknown, MailboxFull, MailerError,
	MesgTooBig, NetworkError, NoRelaying, NotAccept, NotCompliantRFC, OnHold,
	PolicyViolation, Rejected, RequirePTR, SecurityError, SpamDetected,
	Speeding, Suppressed, Suspend, SyntaxError, SystemError, SystemFull,
	TooManyConn, Undefined, UserUnknown, Vacation, VirusDetected,
}

// Reasons returns every valid reason in alphabetical order. The caller owns
// the returned slice.
func Reasons() []Reason {
	return append([]Reason(nil), allReasons...)
}

// Valid reports whether r is one of the reasons returned by [Reasons].
func (r Reason) Valid() bool {
	for _, known := range allReasons {
		if r == known {
			return true
		}
	}
	return false
}

// String returns the reason's name.
func (r Reason) String() string { return string(r) }

// senderSide reports whether r blames the sender (its host, domain, message
// or sending rate) rather than the recipient. Such a reason never makes an
// address undeliverable, so it must not be overruled by a recipient verdict.
func (r Reason) senderSide() bool {
	switch r {
	case AuthFailure, BadReputation, Blocked, NoRelaying, NotCompliantRFC,
		PolicyViolation, Rejected, RequirePTR, SecurityError, SpamDetected,
		Speeding, TooManyConn, VirusDetected, ContentError, FailedSTARTTLS:
		return true
	}
	return false
}

// isHard applies sisimai's hard-bounce convention, with suppressed added.
// A bounce is hard when the recipient or its domain does not exist or has
// moved, when the domain accepts no mail (unless the reply was a temporary
// 4xx), or when the sending service will not send to the address again.
func isHard(r Reason, replyCode, enhanced string) bool {
	switch r {
	case UserUnknown, HostUnknown, HasMoved, Suppressed:
		return true
	case NotAccept:
		return !(replyCode != "" && replyCode[0] == '4') && !(enhanced != "" && enhanced[0] == '4')
	}
	return false
}
