package bounce

import (
	"encoding/json"
	"testing"
)

type classifyCase struct {
	name   string
	in     Input
	reason Reason
	hard   bool
}

func checkClassify(t *testing.T, tests []classifyCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(tt.in)
			if got.Reason != tt.reason {
				t.Errorf("Classify(%+v).Reason = %s, want %s", tt.in, got.Reason, tt.reason)
			}
			if got.Hard != tt.hard {
				t.Errorf("Classify(%+v).Hard = %v, want %v", tt.in, got.Hard, tt.hard)
			}
		})
	}
}

// Shapes that a classifier reading only the code, or only the first match of
// "user unknown", gets wrong.
func TestClassifyMisleadingCodes(t *testing.T) {
	checkClassify(t, []classifyCase{
		{
			name:   "Microsoft IP block list with 5.7.1",
			in:     Input{Diagnostic: "550 5.7.1 Service unavailable, Client host [198.51.100.7] blocked by the recipient's block list (S3150). Contact your ISP."},
			reason: Blocked,
		},
		{
			name:   "sender rejected with 5.1.0",
			in:     Input{Diagnostic: "550 5.1.0 <news@shop.example.com> sender rejected, see the error code page"},
			reason: Rejected,
		},
		{
			name:   "provider spam block with 5.2.0",
			in:     Input{Diagnostic: "550 5.2.0 Message refused: it looks like spam to our filters. REF_SPAM_12"},
			reason: SpamDetected,
		},
		{
			name:   "rate limit with 5.1.1",
			in:     Input{Diagnostic: "550 5.1.1 <mika@example.net> 192.0.2.40 exceeded the rate limit for this hour, slow down"},
			reason: Speeding,
		},
		{
			name:   "au user unknown without a step",
			in:     Input{Diagnostic: "550 <haruka@ezweb.ne.jp>: User unknown"},
			reason: UserUnknown,
			hard:   true,
		},
		{
			name:   "docomo unknown user",
			in:     Input{Diagnostic: "550 Unknown user yui@docomo.ne.jp"},
			reason: UserUnknown,
			hard:   true,
		},
		{
			name:   "Spamhaus listing with 5.1.1",
			in:     Input{Diagnostic: "554 5.1.1 Rejected because 203.0.113.9 is in zen.spamhaus.org"},
			reason: Blocked,
		},
		{
			name:   "Gmail unknown user",
			in:     Input{Diagnostic: "550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the address."},
			reason: UserUnknown,
			hard:   true,
		},
		{
			name:   "DMARC reject",
			in:     Input{Diagnostic: "550 5.7.26 Unauthenticated email from shop.example.com is not accepted due to the domain's DMARC policy"},
			reason: AuthFailure,
		},
	})
}

// The SMTP step named in the text decides what the same wording means.
func TestClassifySMTPStep(t *testing.T) {
	checkClassify(t, []classifyCase{
		{
			name:   "user unknown at RCPT TO",
			in:     Input{Diagnostic: "host mx.example.org[192.0.2.5] said: 550 <ren@example.org>: User unknown (in reply to RCPT TO command)"},
			reason: UserUnknown,
			hard:   true,
		},
		{
			name:   "user unknown after DATA",
			in:     Input{Diagnostic: "host mx.example.org[192.0.2.5] said: 550 <ren@example.org>: User unknown (in reply to end of DATA command)"},
			reason: Filtered,
		},
		{
			name:   "user unknown with no step or address code",
			in:     Input{Diagnostic: "550 Unknown user ren@example.org"},
			reason: Filtered,
		},
		{
			name:   "domain unknown after MAIL FROM",
			in:     Input{Diagnostic: "SMTP error from remote mail server after MAIL FROM:<info@shop.example.com>: 550 5.1.2 Host unknown"},
			reason: Rejected,
		},
		{
			name:   "refusal at the initial connection",
			in:     Input{Diagnostic: "SMTP error from remote mail server after initial connection: 554 Access denied"},
			reason: Blocked,
		},
	})
}

func TestClassifyCodesAlone(t *testing.T) {
	checkClassify(t, []classifyCase{
		{name: "enhanced 5.1.1", in: Input{Diagnostic: "550 5.1.1 Requested action not taken"}, reason: UserUnknown, hard: true},
		{name: "enhanced 5.1.2", in: Input{Diagnostic: "550 5.1.2 bad destination"}, reason: HostUnknown, hard: true},
		{name: "null MX 5.1.10", in: Input{Diagnostic: "556 5.1.10 see RFC 7505"}, reason: NotAccept, hard: true},
		{name: "temporary null MX", in: Input{Diagnostic: "421 4.1.10 try later"}, reason: NotAccept},
		{name: "enhanced 5.2.2", in: Input{Diagnostic: "552 5.2.2 quota"}, reason: MailboxFull},
		{name: "enhanced 5.3.4", in: Input{Diagnostic: "552 5.3.4 see limits"}, reason: MesgTooBig},
		{name: "enhanced 4.4.7", in: Input{Diagnostic: "4.4.7 gave up"}, reason: Expired},
		{name: "enhanced 5.7.25", in: Input{Diagnostic: "550 5.7.25 see policy"}, reason: RequirePTR},
		{name: "Exchange 5.7.606", in: Input{Diagnostic: "550 5.7.606 see the link"}, reason: Blocked},
		{name: "Exchange 4.7.650", in: Input{Diagnostic: "451 4.7.650 see the link"}, reason: BadReputation},
		{name: "reply code 551", in: Input{Diagnostic: "551 please try another path"}, reason: HasMoved, hard: true},
		{name: "reply code 452", in: Input{Diagnostic: "452 try again"}, reason: SystemFull},
		{name: "generic code and wording", in: Input{Diagnostic: "550 5.0.0 rejected for some reason"}, reason: OnHold},
		{name: "no evidence", in: Input{}, reason: Undefined},
		{name: "blank diagnostic", in: Input{Diagnostic: "  "}, reason: Undefined},
	})
}

func TestClassifyCMCBounceCode(t *testing.T) {
	checkClassify(t, []classifyCase{
		{name: "1 host unknown", in: Input{BounceCode: "1"}, reason: HostUnknown, hard: true},
		{name: "2 user unknown", in: Input{BounceCode: "2"}, reason: UserUnknown, hard: true},
		{name: "3 retry gave up", in: Input{BounceCode: "3"}, reason: Expired},
		{name: "4 refused", in: Input{BounceCode: "4"}, reason: Filtered},
		{name: "5 mailbox full", in: Input{BounceCode: "5"}, reason: MailboxFull},
		{name: "6 forwarding error", in: Input{BounceCode: "6"}, reason: SystemError},
		{name: "7 server error", in: Input{BounceCode: "7"}, reason: SystemError},
		{name: "8 too large", in: Input{BounceCode: "8"}, reason: MesgTooBig},
		{name: "9 malformed address", in: Input{BounceCode: "9"}, reason: UserUnknown, hard: true},
		{name: "10 suppressed", in: Input{BounceCode: "10"}, reason: Suppressed, hard: true},
		{name: "11 unsubscribed", in: Input{BounceCode: "11"}, reason: Suppressed, hard: true},
		{name: "99 other", in: Input{BounceCode: "99"}, reason: OnHold},
		{name: "unknown code is ignored", in: Input{BounceCode: "42", Diagnostic: "552 5.2.2 Mailbox full"}, reason: MailboxFull},
		{
			name:   "2 stands against a text without sender wording",
			in:     Input{BounceCode: "2", Diagnostic: "550 5.2.1 mailbox unavailable"},
			reason: UserUnknown,
			hard:   true,
		},
		{
			name:   "2 yields to a block list",
			in:     Input{BounceCode: "2", Diagnostic: "550 5.7.1 Client host [192.0.2.8] blocked using bl.spamcop.net"},
			reason: Blocked,
		},
		{
			name:   "4 refined by the text",
			in:     Input{BounceCode: "4", Diagnostic: "550 5.7.26 This message does not pass DMARC"},
			reason: AuthFailure,
		},
		{
			name:   "7 refined by the text",
			in:     Input{BounceCode: "7", Diagnostic: "452 4.3.1 Insufficient system storage"},
			reason: SystemFull,
		},
		{
			name:   "10 stands against any text",
			in:     Input{BounceCode: "10", Diagnostic: "550 5.7.1 blocked using bl.spamcop.net"},
			reason: Suppressed,
			hard:   true,
		},
	})
}

func TestClassifyDeferredIsNeverHard(t *testing.T) {
	got := Classify(Input{Diagnostic: "450 4.1.1 <sora@example.org>: Recipient address rejected: User unknown in virtual alias table", DeliveryStatus: "deferred"})
	if got.Reason != UserUnknown {
		t.Errorf("Reason = %s, want %s", got.Reason, UserUnknown)
	}
	if got.Hard {
		t.Errorf("Hard = true for a deferred delivery, want false")
	}

	failed := Classify(Input{Diagnostic: "450 4.1.1 <sora@example.org>: Recipient address rejected: User unknown in virtual alias table", DeliveryStatus: "failed"})
	if !failed.Hard {
		t.Errorf("Hard = false for the same failed delivery, want true")
	}
}

func TestClassifyJapaneseWording(t *testing.T) {
	checkClassify(t, []classifyCase{
		{name: "recipient unknown", in: Input{Diagnostic: "550 宛先不明のため配信できませんでした"}, reason: UserUnknown, hard: true},
		{name: "mailbox over capacity", in: Input{Diagnostic: "552 メールボックスの容量を超えています"}, reason: MailboxFull},
		{name: "reception refused by the recipient's settings", in: Input{Diagnostic: "550 受信拒否設定により配信できません"}, reason: Filtered},
	})
}

func TestVerdictJSONNames(t *testing.T) {
	data, err := json.Marshal(Classify(Input{Diagnostic: "550 5.1.1 user unknown"}))
	if err != nil {
		t.Fatalf("marshal verdict: %v", err)
	}
	want := `{"reason":"userunknown","hard":true,"smtp_code":"550","enhanced_status":"5.1.1"}`
	if string(data) != want {
		t.Errorf("verdict JSON = %s, want %s", data, want)
	}
}

func TestReasons(t *testing.T) {
	reasons := Reasons()
	if len(reasons) != 34 {
		t.Errorf("Reasons() returned %d reasons, want the 34 of sisimai's vocabulary", len(reasons))
	}
	seen := map[Reason]bool{}
	for _, r := range reasons {
		if !r.Valid() {
			t.Errorf("Reasons() contains %q, which Valid rejects", r)
		}
		if seen[r] {
			t.Errorf("Reasons() contains %q twice", r)
		}
		seen[r] = true
	}
	for _, r := range []Reason{"", "UserUnknown", "unknown", "hard"} {
		if r.Valid() {
			t.Errorf("Reason(%q).Valid() = true, want false", r)
		}
	}

	reasons[0] = "changed"
	if Reasons()[0] == "changed" {
		t.Errorf("Reasons() returned the package's own slice")
	}
}

// Every reason that the table, the status map and the CMC map produce must
// be valid, so that a typo in a table cannot reach a caller.
func TestTablesUseValidReasons(t *testing.T) {
	for i, p := range patterns {
		if !p.reason.Valid() {
			t.Errorf("patterns[%d] has invalid reason %q", i, p.reason)
		}
		if len(p.words) == 0 {
			t.Errorf("patterns[%d] (%s) has no words", i, p.reason)
		}
		if p.server == "" {
			t.Errorf("patterns[%d] (%s) does not name a server", i, p.reason)
		}
		for _, w := range p.words {
			if w != toLowerASCII(w) {
				t.Errorf("patterns[%d] word %q is not lowercase, so it can never match", i, w)
			}
		}
	}
	for detail, r := range statusReasons {
		if !r.Valid() {
			t.Errorf("statusReasons[%q] is invalid reason %q", detail, r)
		}
	}
	for code, s := range cmcStatuses {
		if !s.reason.Valid() {
			t.Errorf("cmcStatuses[%q] is invalid reason %q", code, s.reason)
		}
	}
}

func toLowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
