package bounce

// statusReasons maps the subject and detail of an RFC 3463 enhanced status
// code ("1.1" of "5.1.1") to a reason. The class is left out because a 4xx
// and a 5xx reply with the same detail name the same problem. Unspecific
// details (5.0.0, 5.5.0) are absent, so the wording or the reply code
// decides. Sources: RFC 3463, RFC 4954 (x.7.8 to x.7.13),
// RFC 7372 (x.7.20 to x.7.29), RFC 7505 (x.1.10) and RFC 8689 (x.7.30).
var statusReasons = map[string]Reason{
	"1.0": UserUnknown, "1.1": UserUnknown, "1.2": HostUnknown, "1.3": UserUnknown,
	"1.6": HasMoved, "1.7": Rejected, "1.8": Rejected, "1.10": NotAccept,

	"2.0": Filtered, "2.1": Suspend, "2.2": MailboxFull, "2.3": ExceedLimit,

	"3.0": SystemError, "3.1": SystemFull, "3.2": SystemError, "3.3": SystemError,
	"3.4": MesgTooBig, "3.5": SystemError,

	"4.0": NetworkError, "4.1": NetworkError, "4.2": NetworkError, "4.3": NetworkError,
	"4.4": NetworkError, "4.5": SystemFull, "4.6": NetworkError, "4.7": Expired,

	"5.1": SyntaxError, "5.2": SyntaxError, "5.4": SyntaxError, "5.5": SyntaxError,

	"6.0": ContentError, "6.1": ContentError, "6.2": ContentError, "6.3": ContentError,
	"6.4": ContentError, "6.5": ContentError, "6.6": ContentError, "6.7": ContentError,
	"6.8": ContentError, "6.9": ContentError, "6.10": ContentError,

	"7.0": SecurityError, "7.1": SecurityError, "7.2": SecurityError, "7.3": SecurityError,
	"7.4": SecurityError, "7.5": SecurityError, "7.6": SecurityError, "7.7": SecurityError,
	"7.8": SecurityError, "7.9": SecurityError, "7.10": FailedSTARTTLS, "7.11": FailedSTARTTLS,
	"7.12": SecurityError, "7.13": Suspend, "7.14": SecurityError, "7.17": HasMoved,
	"7.18": HasMoved, "7.20": AuthFailure, "7.21": AuthFailure, "7.22": AuthFailure,
	"7.23": AuthFailure, "7.24": AuthFailure, "7.25": RequirePTR, "7.26": AuthFailure,
	"7.27": Rejected, "7.28": SpamDetected, "7.29": AuthFailure, "7.30": FailedSTARTTLS,

	// Exchange Online details, from Microsoft's list of NDR codes.
	"4.310": HostUnknown, "4.312": NetworkError, "4.300": Expired, "4.316": Expired,
	"4.317": Expired, "4.318": Expired, "7.509": AuthFailure, "2.121": Speeding,
	"2.122": Speeding,
}

// reasonForEnhanced returns the reason for an enhanced status code, or "".
func reasonForEnhanced(enhanced string) Reason {
	if len(enhanced) < 5 {
		return ""
	}
	detail := enhanced[2:]
	if detail == "2.0" && enhanced[0] == '4' {
		// A temporary "other mailbox status" is no sign of a filter.
		return ""
	}
	if r, ok := statusReasons[detail]; ok {
		return r
	}
	// Exchange Online refuses banned and abusive senders with 5.7.5xx,
	// 5.7.6xx and 5.7.7xx, and sends 4.7.650 to 4.7.699 for IP reputation.
	if len(detail) == 5 && detail[:2] == "7." {
		switch {
		case detail >= "7.650" && detail <= "7.699":
			return BadReputation
		case detail >= "7.500" && detail <= "7.799":
			return Blocked
		}
	}
	return ""
}

// reasonForReplyCode returns the reason that an SMTP reply code alone
// implies (RFC 5321 and RFC 7504), or "".
func reasonForReplyCode(code string) Reason {
	switch code {
	case "421", "451":
		return SystemError
	case "452":
		return SystemFull
	case "500", "501", "502", "503", "504":
		return SyntaxError
	case "521", "556":
		return NotAccept
	case "551":
		return HasMoved
	case "552":
		return MailboxFull
	}
	return ""
}
