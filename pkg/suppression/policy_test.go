package suppression

import (
	"fmt"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

func hardVerdict(reason string) *mailevent.Classification {
	return &mailevent.Classification{Reason: reason, Hard: true}
}

func softVerdict(reason string) *mailevent.Classification {
	return &mailevent.Classification{Reason: reason}
}

func TestHardBounceSuppressesAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	b.handle(t, eventSpec{id: "e1", typ: mailevent.TypeBounce, to: "Taro@Example.JP", messageID: "<m1>", at: base, code: 2, classification: hardVerdict("userunknown")})

	rec := b.record(t, "Taro@example.jp")
	if rec == nil || !rec.Suppressed {
		t.Fatalf("record = %+v, want suppressed", rec)
	}
	if rec.Reason != "userunknown" || !rec.Hard || rec.Source != SourceBounce {
		t.Errorf("reason, hard, source = %q, %t, %q; want userunknown, true, bounce", rec.Reason, rec.Hard, rec.Source)
	}
	if rec.Address != "Taro@example.jp" {
		t.Errorf("address = %q, want the local part's case kept and the domain lowercased", rec.Address)
	}
	if rec.LastEventID != "e1" || rec.LastEventSubject != "mail.bounces.user_unknown" {
		t.Errorf("last event = %q on %q", rec.LastEventID, rec.LastEventSubject)
	}
	if !rec.FirstSeen.Equal(base) || !rec.SuppressedAt.Equal(base) {
		t.Errorf("first seen %s, suppressed at %s; want %s", rec.FirstSeen, rec.SuppressedAt, base)
	}
	if other := b.record(t, "taro@EXAMPLE.jp"); other == nil || other.Address != rec.Address {
		t.Errorf("lookup in another case found %+v", other)
	}
}

func TestHardReasonIndependentOfOrder(t *testing.T) {
	t.Parallel()
	hostUnknown := eventSpec{id: "e1", typ: mailevent.TypeBounce, to: "taro@example.jp", messageID: "<m1>", at: base, code: 1, classification: hardVerdict("hostunknown")}
	cases := []struct {
		name          string
		first, second eventSpec
		want          string
	}{
		{
			name:   "two bounces",
			first:  hostUnknown,
			second: eventSpec{id: "e2", typ: mailevent.TypeBounce, to: "taro@example.jp", messageID: "<m2>", at: base.Add(time.Minute), code: 2, classification: hardVerdict("userunknown")},
			want:   "userunknown",
		},
		{
			name:   "bounces beyond the soft window",
			first:  hostUnknown,
			second: eventSpec{id: "e2", typ: mailevent.TypeBounce, to: "taro@example.jp", messageID: "<m2>", at: base.Add(8 * 24 * time.Hour), code: 2, classification: hardVerdict("userunknown")},
			want:   "userunknown",
		},
		{
			name:   "failed delivery and its more precise bounce",
			first:  eventSpec{id: "e1", typ: mailevent.TypeDeliveryFailed, to: "taro@example.jp", messageID: "<m1>", at: base, classification: hardVerdict("hostunknown")},
			second: eventSpec{id: "e2", typ: mailevent.TypeBounce, to: "taro@example.jp", messageID: "<m1>", at: base.Add(time.Second), code: 2, classification: hardVerdict("userunknown")},
			want:   "userunknown",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, order := range [][]eventSpec{{c.first, c.second}, {c.second, c.first}} {
				b := setup(t, Policy{})
				for _, spec := range order {
					b.handle(t, spec)
				}
				rec := b.record(t, "taro@example.jp")
				if rec == nil || !rec.Suppressed {
					t.Fatalf("order %s, %s: record = %+v, want suppressed", order[0].id, order[1].id, rec)
				}
				if rec.Reason != c.want {
					t.Errorf("order %s, %s: reason = %q, want %q", order[0].id, order[1].id, rec.Reason, c.want)
				}
			}
		})
	}
}

func TestManualReasonKeptAfterHardBounce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		bounceFirst bool
		reason      string
	}{
		{name: "added to a bounce suppression", bounceFirst: true, reason: "complaint"},
		{name: "added before any bounce", reason: "complaint"},
		{name: "reason named like a bounce reason", reason: "userunknown"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, Policy{})
			if c.bounceFirst {
				b.handle(t, eventSpec{id: "e0", typ: mailevent.TypeBounce, to: "taro@example.jp", messageID: "<m0>", at: base.Add(-time.Minute), code: 1, classification: hardVerdict("hostunknown")})
			}
			address, err := ParseAddress("taro@example.jp")
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := b.store.Add(natstest.Context(t, 10*time.Second), address, c.reason, "asked by phone"); err != nil {
				t.Fatalf("add: %v", err)
			}
			b.handle(t, eventSpec{id: "e1", typ: mailevent.TypeBounce, to: "taro@example.jp", messageID: "<m1>", at: base, code: 2, classification: hardVerdict("userunknown")})
			b.handle(t, eventSpec{id: "e2", typ: mailevent.TypeBounce, to: "taro@example.jp", messageID: "<m2>", at: base.Add(time.Minute), code: 1, classification: hardVerdict("hostunknown")})

			rec := b.record(t, "taro@example.jp")
			if rec == nil || rec.Reason != c.reason {
				t.Errorf("record = %+v, want the reason %q given by hand kept", rec, c.reason)
			}
			if rec != nil && rec.Source != SourceManual {
				t.Errorf("source = %q, want %q", rec.Source, SourceManual)
			}
		})
	}
}

func TestSoftFailuresSuppressAtThreshold(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	for i := range 2 {
		b.handle(t, eventSpec{id: fmt.Sprint("s", i), typ: mailevent.TypeDeliveryFailed, to: "full@example.jp",
			messageID: fmt.Sprint("<m", i, ">"), at: base.Add(time.Duration(i) * 24 * time.Hour), classification: softVerdict("mailboxfull")})
	}
	rec := b.record(t, "full@example.jp")
	if rec.Suppressed || rec.SoftCount != 2 {
		t.Fatalf("after 2 soft failures: suppressed %t, soft count %d; want false, 2", rec.Suppressed, rec.SoftCount)
	}

	b.handle(t, eventSpec{id: "s2", typ: mailevent.TypeDeliveryFailed, to: "full@example.jp", messageID: "<m2>", at: base.Add(6 * 24 * time.Hour), classification: softVerdict("mailboxfull")})
	rec = b.record(t, "full@example.jp")
	if !rec.Suppressed || rec.Hard || rec.Reason != "mailboxfull" || rec.SoftCount != 3 {
		t.Errorf("after 3 soft failures in 7 days: %+v; want suppressed soft mailboxfull with soft count 3", rec.View())
	}
}

func TestSoftFailuresOutsideWindowDoNotAddUp(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	for i := range 3 {
		b.handle(t, eventSpec{id: fmt.Sprint("s", i), typ: mailevent.TypeDeliveryFailed, to: "slow@example.jp",
			messageID: fmt.Sprint("<m", i, ">"), at: base.Add(time.Duration(i) * 4 * 24 * time.Hour), classification: softVerdict("mailboxfull")})
	}
	rec := b.record(t, "slow@example.jp")
	if rec.Suppressed {
		t.Errorf("3 soft failures over 8 days suppressed the address: %+v", rec.View())
	}
	if rec.SoftCount != 2 || rec.Failures != 3 {
		t.Errorf("soft count %d, failures %d; want 2 within the window and 3 in all", rec.SoftCount, rec.Failures)
	}
}

func TestSuccessResetsSoftCount(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	for i := range 2 {
		b.handle(t, eventSpec{id: fmt.Sprint("s", i), typ: mailevent.TypeDeliveryFailed, to: "back@example.jp",
			messageID: fmt.Sprint("<m", i, ">"), at: base.Add(time.Duration(i) * time.Hour), classification: softVerdict("systemerror")})
	}
	b.handle(t, eventSpec{id: "ok", typ: mailevent.TypeDeliverySucceeded, to: "back@example.jp", messageID: "<m9>", at: base.Add(3 * time.Hour)})
	rec := b.record(t, "back@example.jp")
	if rec.SoftCount != 0 || len(rec.Recent) != 0 {
		t.Fatalf("after a success: soft count %d, recent %d; want 0 and 0", rec.SoftCount, len(rec.Recent))
	}

	b.handle(t, eventSpec{id: "s3", typ: mailevent.TypeDeliveryFailed, to: "back@example.jp", messageID: "<m3>", at: base.Add(4 * time.Hour), classification: softVerdict("systemerror")})
	b.handle(t, eventSpec{id: "s4", typ: mailevent.TypeDeliveryFailed, to: "back@example.jp", messageID: "<m4>", at: base.Add(5 * time.Hour), classification: softVerdict("systemerror")})
	rec = b.record(t, "back@example.jp")
	if rec.Suppressed || rec.SoftCount != 2 {
		t.Errorf("4 soft failures with a success after the second: suppressed %t, soft count %d; want false, 2", rec.Suppressed, rec.SoftCount)
	}
}

func TestSuccessKeepsLaterFailures(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	b.handle(t, eventSpec{id: "s1", typ: mailevent.TypeDeliveryFailed, to: "late@example.jp", messageID: "<m1>", at: base.Add(2 * time.Hour), classification: softVerdict("mailboxfull")})
	// A success from before the failure, processed after it.
	b.handle(t, eventSpec{id: "ok", typ: mailevent.TypeDeliverySucceeded, to: "late@example.jp", messageID: "<m0>", at: base})
	if rec := b.record(t, "late@example.jp"); rec.SoftCount != 1 {
		t.Errorf("soft count %d after an older success; want 1", rec.SoftCount)
	}
}

func TestSuccessDoesNotClearSuppression(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	b.handle(t, eventSpec{id: "h", typ: mailevent.TypeBounce, to: "gone@example.jp", messageID: "<m1>", at: base, code: 2})
	b.handle(t, eventSpec{id: "ok", typ: mailevent.TypeDeliverySucceeded, to: "gone@example.jp", messageID: "<m2>", at: base.Add(time.Hour)})
	if rec := b.record(t, "gone@example.jp"); !rec.Suppressed {
		t.Errorf("a success took a suppressed address off the list: %+v", rec.View())
	}
}

func TestSenderSideFailuresNeverSuppress(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	for i, reason := range DefaultSenderReasons {
		b.handle(t, eventSpec{id: fmt.Sprint("x", i), typ: mailevent.TypeBounce, to: "fine@example.jp",
			messageID: fmt.Sprint("<m", i, ">"), at: base.Add(time.Duration(i) * time.Minute), code: 4, classification: hardVerdict(reason)})
		b.handle(t, eventSpec{id: fmt.Sprint("y", i), typ: mailevent.TypeDeliveryFailed, to: "fine@example.jp",
			messageID: fmt.Sprint("<n", i, ">"), at: base.Add(time.Duration(i) * time.Minute), classification: softVerdict(reason)})
	}
	if rec := b.record(t, "fine@example.jp"); rec != nil {
		t.Errorf("sender-side failures left a record: %+v", rec.View())
	}
}

func TestSenderSideVerdictUncountsEarlierReport(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	b.handle(t, eventSpec{id: "f", typ: mailevent.TypeDeliveryFailed, to: "ok@example.jp", messageID: "<m1>", at: base})
	b.handle(t, eventSpec{id: "b", typ: mailevent.TypeBounce, to: "ok@example.jp", messageID: "<m1>", at: base.Add(time.Second), code: 4, classification: softVerdict("blocked")})
	rec := b.record(t, "ok@example.jp")
	if rec.Failures != 0 || rec.SoftCount != 0 {
		t.Errorf("failures %d, soft count %d; want 0 once the bounce blames the sender", rec.Failures, rec.SoftCount)
	}
}

func TestCMCBlockAndUnsubscribeSuppress(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	// The classification is ignored for these codes, even a sender-side one.
	b.handle(t, eventSpec{id: "c10", typ: mailevent.TypeBounce, to: "blocked@example.jp", messageID: "<m1>", at: base, code: 10, classification: softVerdict("blocked")})
	b.handle(t, eventSpec{id: "c11", typ: mailevent.TypeBounce, to: "unsub@example.jp", messageID: "<m2>", at: base, code: 11})
	for address, reason := range map[string]string{"blocked@example.jp": ReasonSuppressed, "unsub@example.jp": ReasonUnsubscribed} {
		rec := b.record(t, address)
		if rec == nil || !rec.Suppressed || rec.Reason != reason || !rec.Hard {
			t.Errorf("%s: %+v; want suppressed hard with reason %s", address, rec, reason)
		}
	}
}

func TestBounceCodeFallback(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	cases := []struct {
		code       int
		reason     string
		suppressed bool
	}{
		{1, "hostunknown", true},
		{2, "userunknown", true},
		{9, "syntaxerror", true},
		{5, "mailboxfull", false},
		{3, "expired", false},
		{99, ReasonUndefined, false},
	}
	for _, c := range cases {
		address := fmt.Sprintf("code%d@example.jp", c.code)
		b.handle(t, eventSpec{id: address, typ: mailevent.TypeBounce, to: address, messageID: "<m>", at: base, code: c.code})
		rec := b.record(t, address)
		if rec == nil {
			t.Errorf("code %d: no record", c.code)
			continue
		}
		if rec.Suppressed != c.suppressed || rec.Recent[0].Reason != c.reason {
			t.Errorf("code %d: suppressed %t, reason %q; want %t, %q", c.code, rec.Suppressed, rec.Recent[0].Reason, c.suppressed, c.reason)
		}
	}
}

func TestDeferralsNotCountedByDefault(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{})
	for i := range 5 {
		b.handle(t, eventSpec{id: fmt.Sprint("d", i), typ: mailevent.TypeDeliveryDeferred, to: "slow@example.jp",
			messageID: fmt.Sprint("<m", i, ">"), at: base.Add(time.Duration(i) * time.Hour), classification: softVerdict("mailboxfull")})
	}
	if rec := b.record(t, "slow@example.jp"); rec != nil {
		t.Errorf("deferrals wrote a record: %+v", rec.View())
	}
}

func TestDeferralsCountedApartWhenEnabled(t *testing.T) {
	t.Parallel()
	b := setup(t, Policy{DeferralThreshold: 3})
	// Two failures and two deferred messages, one of them deferred twice:
	// neither count reaches 3.
	b.handle(t, eventSpec{id: "f1", typ: mailevent.TypeDeliveryFailed, to: "slow@example.jp", messageID: "<f1>", at: base, classification: softVerdict("mailboxfull")})
	b.handle(t, eventSpec{id: "f2", typ: mailevent.TypeDeliveryFailed, to: "slow@example.jp", messageID: "<f2>", at: base.Add(time.Minute), classification: softVerdict("mailboxfull")})
	b.handle(t, eventSpec{id: "d1", typ: mailevent.TypeDeliveryDeferred, to: "slow@example.jp", messageID: "<d1>", at: base.Add(2 * time.Minute)})
	b.handle(t, eventSpec{id: "d1b", typ: mailevent.TypeDeliveryDeferred, to: "slow@example.jp", messageID: "<d1>", at: base.Add(3 * time.Minute)})
	b.handle(t, eventSpec{id: "d2", typ: mailevent.TypeDeliveryDeferred, to: "slow@example.jp", messageID: "<d2>", at: base.Add(4 * time.Minute)})
	rec := b.record(t, "slow@example.jp")
	if rec.Suppressed || rec.Failures != 2 || rec.Deferrals != 2 {
		t.Fatalf("suppressed %t, failures %d, deferrals %d; want false, 2, 2", rec.Suppressed, rec.Failures, rec.Deferrals)
	}

	b.handle(t, eventSpec{id: "d3", typ: mailevent.TypeDeliveryDeferred, to: "slow@example.jp", messageID: "<d3>", at: base.Add(5 * time.Minute)})
	if rec := b.record(t, "slow@example.jp"); !rec.Suppressed || rec.Hard {
		t.Errorf("after a third deferred message: %+v; want suppressed soft", rec.View())
	}
}

func TestVendorFailedAndBounceCountOnce(t *testing.T) {
	t.Parallel()
	classifiers := map[string]func(string, string, string) mailevent.Classification{
		"unclassified": nil,
		"classified": func(_, _, _ string) mailevent.Classification {
			return mailevent.Classification{Reason: "userunknown", Hard: true, SMTPCode: "550", EnhancedStatus: "5.1.1"}
		},
	}
	for name, classify := range classifiers {
		for _, order := range []string{"failed first", "bounce first"} {
			t.Run(name+" "+order, func(t *testing.T) {
				t.Parallel()
				b := setup(t, Policy{SoftThreshold: 1})
				failed := vendorEvents(t, "deliveries-failed.json", classify)[0]
				bounce := vendorEvents(t, "bounces-user-unknown.json", classify)[0]
				events := []mailevent.Event{failed, bounce}
				if order == "bounce first" {
					events = []mailevent.Event{bounce, failed}
				}
				for _, ev := range events {
					msg := msgOf(ev)
					if err := b.store.HandleEvent(t.Context(), msg); err != nil {
						t.Fatal(err)
					}
				}
				rec := b.record(t, "no-user@example.jp")
				if rec == nil {
					t.Fatal("no record")
				}
				if rec.Failures != 1 || len(rec.Recent) != 1 {
					t.Errorf("failures %d, recent %d; want one failure for the two reports", rec.Failures, len(rec.Recent))
				}
				if !rec.Suppressed || rec.Reason != "userunknown" || !rec.Hard {
					t.Errorf("suppressed %t, reason %q, hard %t; want true, userunknown, true", rec.Suppressed, rec.Reason, rec.Hard)
				}
			})
		}
	}
}
