package bounce

import "testing"

func FuzzClassify(f *testing.F) {
	seeds := []string{
		"",
		"550 5.1.1 <a@example.jp>: Recipient address rejected: User unknown",
		"550-5.7.1 [192.0.2.1] blocked using zen.spamhaus.org",
		"5.1.0 - Unknown address error 550-'5.2.2 <a@example.jp>... Mailbox Full'",
		"#5.1.1",
		"4.",
		"550-",
		"5.1.",
		"ユーザーが存在しません",
		"\xff\xfe550 5.7.26",
	}
	for _, s := range seeds {
		f.Add(s, "2", "failed")
	}

	f.Fuzz(func(t *testing.T, diagnostic, bounceCode, deliveryStatus string) {
		got := Classify(Input{Diagnostic: diagnostic, BounceCode: bounceCode, DeliveryStatus: deliveryStatus})
		if !got.Reason.Valid() {
			t.Errorf("Classify(%q) returned invalid reason %q", diagnostic, got.Reason)
		}
		if got.SMTPCode != "" && !isReplyCode(got.SMTPCode) {
			t.Errorf("Classify(%q) returned malformed SMTP code %q", diagnostic, got.SMTPCode)
		}
		if got.EnhancedStatus != "" && !isEnhancedStatus(got.EnhancedStatus) {
			t.Errorf("Classify(%q) returned malformed enhanced status %q", diagnostic, got.EnhancedStatus)
		}
		if deliveryStatus == "deferred" && got.Hard {
			t.Errorf("Classify(%q) returned a hard verdict for a deferred delivery", diagnostic)
		}
	})
}

// isReplyCode checks the reply code grammar of RFC 5321 independently of
// the parser: three digits, the first 2 to 5 and the second 0 to 5.
func isReplyCode(s string) bool {
	return len(s) == 3 && s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '5' && s[2] >= '0' && s[2] <= '9'
}

// isEnhancedStatus checks class.subject.detail as RFC 3463 defines it, with
// the subjects limited to the defined 0 to 7.
func isEnhancedStatus(s string) bool {
	if len(s) < 5 || len(s) > 7 {
		return false
	}
	if (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' || s[2] < '0' || s[2] > '7' || s[3] != '.' {
		return false
	}
	for _, c := range []byte(s[4:]) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
