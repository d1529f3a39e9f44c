package loadgen

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"
)

// Encoding is the body encoding of generated webhooks.
type Encoding string

// The encodings the generator writes, as CMC sends them.
const (
	EncodingJSON Encoding = "json"
	EncodingForm Encoding = "form"
)

// ParseEncoding reads an encoding name.
func ParseEncoding(name string) (Encoding, error) {
	switch Encoding(name) {
	case EncodingJSON, EncodingForm:
		return Encoding(name), nil
	}
	return "", fmt.Errorf("encoding %q is invalid: use json or form", name)
}

// ContentType returns the Content-Type header of bodies in e.
func (e Encoding) ContentType() string {
	if e == EncodingForm {
		return "application/x-www-form-urlencoded"
	}
	return "application/json"
}

// subjects are mail subjects of the kind CMC's Japanese senders send.
var subjects = []string{
	"メールマガジンのテスト",
	"【重要】パスワード再設定のご案内",
	"ご注文ありがとうございます（注文番号 A-10293）",
	"12月のキャンペーンのお知らせ",
	"会員登録が完了しました",
	"ご請求金額確定のお知らせ",
	"【再送】セミナー参加URLのご案内",
	"お問い合わせを受け付けました",
}

// deliveryStatuses are weighted as a sending service sees them: most mail
// is queued and then succeeds, some fails or is deferred.
var deliveryStatuses = []string{
	"queued", "queued", "queued", "succeeded", "succeeded", "succeeded",
	"failed", "deferred",
}

// bounceCodes are CMC's bounce status codes with a diagnostic each, in the
// shape CMC copies from the receiving server's reply.
var bounceCodes = []struct{ code, reason string }{
	{"1", "host unknown"},
	{"2", "550 5.1.1 The email account that you tried to reach does not exist. Please try 5.1.1 double-checking the recipient's email address for typos or 5.1.1 unnecessary spaces. - gsmtp (in reply to RCPT TO)"},
	{"3", "Message expired after 72 hours in queue (host mx.example.ne.jp: connection timed out)"},
	{"4", "550 5.7.1 Message rejected due to local policy (in reply to end of DATA command)"},
	{"5", "552 5.2.2 Mailbox full: user quota exceeded (in reply to RCPT TO)"},
	{"6", "550 5.4.6 Forwarding loop detected"},
	{"7", "451 4.3.0 Temporary server error. Please try again later"},
	{"8", "552 5.3.4 Message size exceeds fixed limit (in reply to end of DATA command)"},
	{"9", "553 5.1.3 Invalid address format"},
	{"10", "address blocked after repeated errors"},
	{"11", "recipient unsubscribed"},
	{"99", "554 5.0.0 Service unavailable"},
}

// failureReasons are diagnostics of failed and deferred deliveries.
var failureReasons = []string{
	"550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO)",
	"421 4.7.0 Try again later, closing connection. (EHLO) - gsmtp",
	"452 4.2.2 The email account that you tried to reach is over quota. - gsmtp",
	"554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org",
}

var domains = []string{"example.jp", "example.co.jp", "example.ne.jp", "example.or.jp", "example.com"}

// Generator writes CMC webhook bodies. Each entry gets a message id made
// of the generator's run id and a counter, so bodies from one generator,
// and from generators with different run ids, never repeat an event.
// A Generator is not safe for concurrent use: give each worker its own.
type Generator struct {
	// RunID makes the message ids of one run unique across runs.
	RunID string
	// Worker tells the generators of one run apart.
	Worker int
	// Composition is the server_composition of every batch. Defaults to
	// "pro".
	Composition string

	rng  *rand.Rand
	seq  uint64
	base time.Time
}

// NewGenerator returns a generator whose choices follow seed.
func NewGenerator(runID string, worker int, seed uint64) *Generator {
	return &Generator{
		RunID:  runID,
		Worker: worker,
		rng:    rand.New(rand.NewPCG(seed, uint64(worker))),
		base:   time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
	}
}

// Batch writes one webhook body of size entries in encoding. The event
// type is drawn per batch: mostly deliveries, some bounces.
func (g *Generator) Batch(size int, encoding Encoding) []byte {
	eventType := "deliveries"
	if g.rng.IntN(5) == 0 {
		eventType = "bounces"
	}
	event := g.eventJSON(eventType, size)

	composition := g.Composition
	if composition == "" {
		composition = "pro"
	}
	if encoding == EncodingForm {
		body := make([]byte, 0, len(event)*2+64)
		body = append(body, "event_type="...)
		body = append(body, eventType...)
		body = append(body, "&server_composition="...)
		body = append(body, url.QueryEscape(composition)...)
		body = append(body, "&event="...)
		body = append(body, url.QueryEscape(string(event))...)
		return body
	}

	body := make([]byte, 0, len(event)+96)
	body = append(body, `{"event_type":"`...)
	body = append(body, eventType...)
	body = append(body, `","server_composition":`...)
	body = appendJSONString(body, composition)
	body = append(body, `,"event":`...)
	body = append(body, event...)
	body = append(body, '}')
	return body
}

// eventJSON writes the event field: {"<eventType>":[...]}.
func (g *Generator) eventJSON(eventType string, size int) []byte {
	out := make([]byte, 0, size*640+32)
	out = append(out, `{"`...)
	out = append(out, eventType...)
	out = append(out, `":[`...)
	for i := 0; i < size; i++ {
		if i > 0 {
			out = append(out, ',')
		}
		out = g.appendEntry(out, eventType)
	}
	return append(out, "]}"...)
}

// appendEntry writes one record with the vendor's field names and order.
func (g *Generator) appendEntry(out []byte, eventType string) []byte {
	g.seq++
	domain := domains[g.rng.IntN(len(domains))]
	to := "user" + strconv.Itoa(g.rng.IntN(1_000_000)) + "@" + domain
	created := g.base.Add(time.Duration(g.seq) * time.Millisecond).Format("2006-01-02 15:04:05")
	messageID := "<" + g.RunID + "-" + strconv.Itoa(g.Worker) + "-" + strconv.FormatUint(g.seq, 10) + "@bench.example.com>"
	subject := subjects[g.rng.IntN(len(subjects))]

	var status, reason string
	if eventType == "bounces" {
		b := bounceCodes[g.rng.IntN(len(bounceCodes))]
		status, reason = b.code, b.reason
	} else {
		status = deliveryStatuses[g.rng.IntN(len(deliveryStatuses))]
		if status == "failed" || status == "deferred" {
			reason = fmt.Sprintf(failureReasons[g.rng.IntN(len(failureReasons))], to)
		}
	}

	out = append(out, '{')
	out = appendMember(out, "reason", reason, true)
	if eventType == "deliveries" {
		out = appendMember(out, "sourceIp", "100.100.100."+strconv.Itoa(1+g.rng.IntN(3)), false)
	}
	out = appendMember(out, "returnPath", "info@return.pro.smtps.jp", false)
	out = appendMember(out, "created", created, false)
	out = appendMember(out, "subject", subject, false)
	out = appendMember(out, "apiData", "", false)
	out = appendMember(out, "messageId", messageID, false)
	out = appendMember(out, "from", "info@example.com", false)
	out = appendMember(out, "to", to, false)
	if eventType == "deliveries" {
		out = appendMember(out, "senderIp", "", false)
	}
	out = appendMember(out, "status", status, false)
	return append(out, '}')
}

// appendMember writes "name":"value" with a leading comma unless first.
func appendMember(out []byte, name, value string, first bool) []byte {
	if !first {
		out = append(out, ',')
	}
	out = append(out, '"')
	out = append(out, name...)
	out = append(out, `":`...)
	return appendJSONString(out, value)
}

// appendJSONString writes s as a JSON string. s is valid UTF-8, so only
// quotes, backslashes and control characters need escapes.
func appendJSONString(out []byte, s string) []byte {
	out = append(out, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c < 0x20:
			out = append(out, `\u00`...)
			out = append(out, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			out = append(out, c)
		}
	}
	return append(out, '"')
}
