package mailevent

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailbridge/mailbridge/pkg/cmc"
)

func TestEventIDFastPathMatches(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("長い件名", 200) // longer than the stack buffer
	entries := []cmc.Entry{
		{},
		{Created: "2023-01-25 14:03:06", To: "user@example.jp", Status: "queued", Subject: "メールマガジンのテスト"},
		{Created: "2023-01-25 14:03:06", To: "user@example.jp", Status: "2", Reason: long},
		{Email: "blocked@example.jp", Status: "blocked", APIData: "x", From: "a", MessageID: "<m>", ReturnPath: "r", SenderIP: "1", SourceIP: "2"},
		{To: "user@example.jp", Extra: map[string]json.RawMessage{"extra": json.RawMessage(`{"b":1, "a":2}`)}},
	}
	for _, entry := range entries {
		for _, eventType := range []cmc.EventType{cmc.EventTypeDeliveries, cmc.EventTypeBounces, cmc.EventTypeBlocks} {
			for _, composition := range []string{"", "pro", "standard/テスト"} {
				want := EventID(eventType, composition, &entry)
				if got := eventID(eventType, composition, &entry); got != want {
					t.Errorf("eventID(%s, %q, %+v) = %s, want %s", eventType, composition, entry, got, want)
				}
			}
		}
	}
}

func FuzzEventIDFastPath(f *testing.F) {
	f.Add("deliveries", "pro", "2023-01-25 14:03:06", "user@example.jp", "queued", "件名", "")
	f.Add("bounces", "", "", "", "2", "", "550 5.1.1 user unknown")
	f.Fuzz(func(t *testing.T, eventType, composition, created, to, status, subject, reason string) {
		entry := cmc.Entry{Created: created, To: to, Status: status, Subject: subject, Reason: reason}
		want := EventID(cmc.EventType(eventType), composition, &entry)
		if got := eventID(cmc.EventType(eventType), composition, &entry); got != want {
			t.Fatalf("eventID = %s, want %s", got, want)
		}
	})
}
