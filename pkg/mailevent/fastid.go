package mailevent

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"

	"github.com/mailbridge/mailbridge/pkg/cmc"
)

// eventID returns EventID(eventType, composition, entry). For a record
// without unknown fields, which is what CMC sends, it hashes one buffer on
// the stack instead of streaming into a digest, which saves four
// allocations per event. Records with unknown fields go to EventID.
func eventID(eventType cmc.EventType, composition string, entry *cmc.Entry) string {
	if len(entry.Extra) > 0 {
		return EventID(eventType, composition, entry)
	}

	var stack [1024]byte
	buf := stack[:0]
	write := func(s string) {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	write("cmc-record-v1")
	write(string(eventType))
	write(composition)

	// The same fields in the same order as EventID.
	known := [...][2]string{
		{"apiData", entry.APIData},
		{"created", entry.Created},
		{"email", entry.Email},
		{"from", entry.From},
		{"messageId", entry.MessageID},
		{"reason", entry.Reason},
		{"returnPath", entry.ReturnPath},
		{"senderIp", entry.SenderIP},
		{"sourceIp", entry.SourceIP},
		{"status", entry.Status},
		{"subject", entry.Subject},
		{"to", entry.To},
	}
	for _, field := range known {
		if field[1] == "" {
			continue
		}
		write(field[0])
		write(field[1])
	}

	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:16])
}
