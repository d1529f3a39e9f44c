package mailevent

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mailbridge/mailbridge/pkg/cmc"
)

func TestEventIDMatchesReference(t *testing.T) {
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
				want := referenceEventID(eventType, composition, &entry)
				if got := EventID(eventType, composition, &entry); got != want {
					t.Errorf("EventID(%s, %q, %+v) = %s, want %s", eventType, composition, entry, got, want)
				}
			}
		}
	}
}

func FuzzEventIDMatchesReference(f *testing.F) {
	f.Add("deliveries", "pro", "2023-01-25 14:03:06", "user@example.jp", "queued", "件名", "")
	f.Add("bounces", "", "", "", "2", "", "550 5.1.1 user unknown")
	f.Fuzz(func(t *testing.T, eventType, composition, created, to, status, subject, reason string) {
		entry := cmc.Entry{Created: created, To: to, Status: status, Subject: subject, Reason: reason}
		want := referenceEventID(cmc.EventType(eventType), composition, &entry)
		if got := EventID(cmc.EventType(eventType), composition, &entry); got != want {
			t.Fatalf("EventID = %s, want %s", got, want)
		}
	})
}

// referenceEventID is the id derivation written as a streaming digest, the
// plainest form of it; EventID must give the same bytes to SHA-256.
func referenceEventID(eventType cmc.EventType, composition string, entry *cmc.Entry) string {
	h := sha256.New()
	var lenBuf [binary.MaxVarintLen64]byte
	write := func(s string) {
		n := binary.PutUvarint(lenBuf[:], uint64(len(s)))
		h.Write(lenBuf[:n])
		h.Write([]byte(s))
	}
	write("cmc-record-v1")
	write(string(eventType))
	write(composition)
	known := [...][2]string{
		{"apiData", entry.APIData}, {"created", entry.Created}, {"email", entry.Email},
		{"from", entry.From}, {"messageId", entry.MessageID}, {"reason", entry.Reason},
		{"returnPath", entry.ReturnPath}, {"senderIp", entry.SenderIP}, {"sourceIp", entry.SourceIP},
		{"status", entry.Status}, {"subject", entry.Subject}, {"to", entry.To},
	}
	for _, field := range known {
		if field[1] != "" {
			write(field[0])
			write(field[1])
		}
	}
	for _, name := range sortedExtraKeys(entry.Extra) {
		write(name)
		write(canonicalJSON(entry.Extra[name]))
	}
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}
