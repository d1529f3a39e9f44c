package bounce

import "strings"

// Input is the evidence about one failed or deferred delivery.
type Input struct {
	// Diagnostic is the server's reply or the reporting MTA's explanation,
	// as the bounce or the webhook carries it.
	Diagnostic string
	// BounceCode is the Customers Mail Cloud bounce status: "1" to "11" or
	// "99". Empty or unknown values are ignored.
	BounceCode string
	// DeliveryStatus is "failed", "deferred" or empty. A deferred delivery
	// is still being retried, so its verdict is never hard.
	DeliveryStatus string
}

// Verdict is the classification of one delivery failure.
type Verdict struct {
	// Reason is the bounce reason in sisimai's vocabulary. It is always
	// one of [Reasons].
	Reason Reason `json:"reason"`
	// Hard is true when sending to the recipient again is pointless.
	Hard bool `json:"hard"`
	// SMTPCode is the SMTP reply code found in the diagnostic, like "550",
	// or "" when there is none.
	SMTPCode string `json:"smtp_code"`
	// EnhancedStatus is the RFC 3463 enhanced status code found in the
	// diagnostic, like "5.1.1", or "" when there is none.
	EnhancedStatus string `json:"enhanced_status"`
}

// Classify reads a bounce diagnostic, the CMC bounce status and the delivery
// status, and returns the reason and whether the bounce is hard. The package
// documentation describes the order in which the evidence is weighed.
// Classify never fails: without any evidence the reason is undefined, and
// with a text that matches nothing it is onhold.
func Classify(in Input) Verdict {
	replyCode, enhanced := ParseCodes(in.Diagnostic)
	found := classifyText(in.Diagnostic, replyCode, enhanced)

	reason := found.reason
	if status, ok := cmcStatuses[in.BounceCode]; ok {
		reason = status.resolve(found)
	}

	return Verdict{
		Reason:         reason,
		Hard:           in.DeliveryStatus != "deferred" && isHard(reason, replyCode, enhanced),
		SMTPCode:       replyCode,
		EnhancedStatus: enhanced,
	}
}

// textEvidence is the reason that the diagnostic text alone supports.
type textEvidence struct {
	reason Reason
	// fromWording is true when specific wording, not a code, decided.
	fromWording bool
}

// classifyText derives a reason from the diagnostic text and the codes
// already parsed from it.
func classifyText(diagnostic, replyCode, enhanced string) textEvidence {
	if strings.TrimSpace(diagnostic) == "" {
		return textEvidence{reason: Undefined}
	}
	text := strings.ToLower(diagnostic)
	found := textIndex.find(text)
	match := matchPattern(found, text)
	statusReason := reasonForEnhanced(enhanced)

	var evidence textEvidence
	switch {
	case match != nil && !match.weak:
		evidence = textEvidence{reason: match.reason, fromWording: true}
	case statusReason != "":
		evidence = textEvidence{reason: statusReason}
	case match != nil:
		evidence = textEvidence{reason: match.reason, fromWording: true}
	default:
		evidence = textEvidence{reason: reasonForReplyCode(replyCode)}
	}
	if evidence.reason == "" {
		evidence.reason = OnHold
	}

	step := findStep(found)
	if evidence.fromWording && evidence.reason == UserUnknown {
		evidence.reason = refineUserUnknown(match.ambiguous, step, replyCode, enhanced, found.has(carrierGroup))
	}
	evidence.reason = applyStep(evidence.reason, step)

	// Sendmail and Exchange report a message over the recipient's own size
	// limit as 5.2.3 but word it like an ordinary size rejection.
	if evidence.reason == MesgTooBig && statusReason == ExceedLimit {
		evidence.reason = ExceedLimit
	}
	return evidence
}

// textIndex finds the words of the wording table, of the SMTP steps and of
// the carrier domains in one pass. Group i < len(patterns) is patterns[i].
var textIndex = newWordIndex(wordGroups())

var (
	firstStepGroup = len(patterns)
	carrierGroup   = len(patterns) + len(stepWords)
)

func wordGroups() [][]string {
	groups := make([][]string, 0, carrierGroup+1)
	for _, p := range patterns {
		groups = append(groups, p.words)
	}
	for _, s := range stepWords {
		groups = append(groups, s.words)
	}
	return append(groups, japaneseCarriers)
}

// matchPattern returns the first row of the wording table that matches the
// lowercased text, or nil. found lists the groups whose words occur in text.
func matchPattern(found groupSet, text string) *pattern {
	for i := range patterns {
		if !found.has(i) {
			continue
		}
		if p := &patterns[i]; p.re == nil || p.re.MatchString(text) {
			return p
		}
	}
	return nil
}

// smtpStep is the SMTP command that the server refused, as the text names it.
type smtpStep int

const (
	stepUnknown smtpStep = iota
	stepConnect          // the greeting, HELO or EHLO
	stepMail             // MAIL FROM
	stepRcpt             // RCPT TO
	stepData             // DATA or the end of data
)

var stepWords = []struct {
	step  smtpStep
	words []string
}{
	// Checked in this order, so that a reply after DATA wins over an
	// envelope that the reporting MTA quotes before it.
	{stepData, []string{"after end of data", "end of data command", "in reply to data command", "after data", ">>> data", "(data)", "for text command", "failed after i sent the message"}},
	{stepMail, []string{"after mail from", "in reply to mail from", "[mail_from]", "sender was rejected"}},
	{stepRcpt, []string{"rcpt to", "[rcpt_to]", "does not like recipient", "after rcpt", "in reply to rcpt"}},
	{stepConnect, []string{"after initial connection", "refused to talk to me", "greeting failed", "helo command rejected", "in reply to helo", "in reply to ehlo", "after helo", "after ehlo"}},
}

func findStep(found groupSet) smtpStep {
	for i, s := range stepWords {
		if found.has(firstStepGroup + i) {
			return s.step
		}
	}
	return stepUnknown
}

// applyStep adjusts a reason to the SMTP step that was refused. After MAIL
// FROM the server has seen only the sender, so a refusal there cannot be
// about the recipient. At the initial connection it has seen only the
// sending host.
func applyStep(r Reason, step smtpStep) Reason {
	switch step {
	case stepMail:
		switch r {
		case UserUnknown, HostUnknown, HasMoved, NotAccept, Filtered, Suspend, MailboxFull:
			return Rejected
		}
	case stepConnect:
		switch r {
		case Blocked, RequirePTR, BadReputation, TooManyConn, NetworkError, Expired,
			FailedSTARTTLS, SystemError, SystemFull:
			return r
		}
		return Blocked
	}
	return r
}

// japaneseCarriers are the mail domains of the Japanese mobile carriers and
// of KDDI's au one net. Their servers check recipients at RCPT TO, so a
// user-unknown reply naming one of these addresses is a real unknown user
// even when the text does not name the step.
var japaneseCarriers = []string{
	"@docomo.ne.jp", "@ezweb.ne.jp", "@au.com", "@uqmobile.jp",
	"@i.softbank.jp", "@softbank.ne.jp", "vodafone.ne.jp", "@ymobile.ne.jp",
	"@disney.ne.jp", "auone-net.jp",
}

// refineUserUnknown decides between userunknown and filtered for
// user-unknown wording. Content filters and the Japanese carriers' reception
// settings reply "User unknown" after DATA to mail that the recipient's
// filter rejected. So sisimai takes such a reply for a real unknown user
// only when it came at RCPT TO, as shown by the step named in the text, an
// enhanced status with subject 1 (address status) or a carrier address. A
// report without any code comes from the reporting MTA itself, which looked
// the user up.
func refineUserUnknown(ambiguous bool, step smtpStep, replyCode, enhanced string, namesCarrier bool) Reason {
	switch {
	case step == stepData:
		return Filtered
	case !ambiguous, step == stepRcpt:
		return UserUnknown
	}
	switch enhanced[min(len(enhanced), 2):] {
	case "1.0", "1.1", "1.3", "1.10":
		return UserUnknown
	}
	// NOTE: sisimai labels "550 5.2.1 ... User Unknown" as userunknown,
	// filtered or suspend depending on the sample. Without a named step it
	// comes out filtered here, which is soft.
	if namesCarrier || (replyCode == "" && enhanced == "") {
		return UserUnknown
	}
	return Filtered
}
