package loadgen

import (
	"fmt"
	"math/rand/v2"
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

// The texts in the tables below are copied into the JSON as they are, so
// none may contain a quote, a backslash or a control character.
// TestGeneratorTablesNeedNoEscapes checks that.

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

// diagnostic is a reason text. When namesRecipient is set, the recipient's
// address goes between before and after, as receiving servers often quote
// it.
type diagnostic struct {
	before, after  string
	namesRecipient bool
}

// bounceCodes are CMC's bounce status codes with a diagnostic each, in the
// shape CMC copies from the receiving server's reply.
var bounceCodes = []struct {
	code   string
	reason diagnostic
}{
	{"1", diagnostic{before: "host unknown"}},
	{"2", diagnostic{before: "550 5.1.1 The email account that you tried to reach does not exist. Please try 5.1.1 double-checking the recipient's email address for typos or 5.1.1 unnecessary spaces. - gsmtp (in reply to RCPT TO)"}},
	{"3", diagnostic{before: "Message expired after 72 hours in queue (host mx.example.ne.jp: connection timed out)"}},
	{"4", diagnostic{before: "550 5.7.1 Message rejected due to local policy (in reply to end of DATA command)"}},
	{"5", diagnostic{before: "552 5.2.2 Mailbox full: user quota exceeded (in reply to RCPT TO)"}},
	{"6", diagnostic{before: "550 5.4.6 Forwarding loop detected"}},
	{"7", diagnostic{before: "451 4.3.0 Temporary server error. Please try again later"}},
	{"8", diagnostic{before: "552 5.3.4 Message size exceeds fixed limit (in reply to end of DATA command)"}},
	{"9", diagnostic{before: "553 5.1.3 Invalid address format"}},
	{"10", diagnostic{before: "address blocked after repeated errors"}},
	{"11", diagnostic{before: "recipient unsubscribed"}},
	{"99", diagnostic{before: "554 5.0.0 Service unavailable"}},
}

// failureReasons are diagnostics of failed and deferred deliveries.
var failureReasons = []diagnostic{
	{before: "550 5.1.1 <", after: ">: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO)", namesRecipient: true},
	{before: "421 4.7.0 Try again later, closing connection. (EHLO) - gsmtp"},
	{before: "452 4.2.2 The email account that you tried to reach is over quota. - gsmtp"},
	{before: "554 5.7.1 Service unavailable; Client host blocked using zen.spamhaus.org"},
}

var domains = []string{"example.jp", "example.co.jp", "example.ne.jp", "example.or.jp", "example.com"}

// entrySizeEstimate is about the largest JSON record the generator writes,
// in bytes, used to size a new body. The average is about 340, and
// percent-encoding for a form body makes a record about 1.7 times as long.
const entrySizeEstimate = 600

// createdLayout is the layout of CMC's created field. CMC writes the time
// in JST without a zone.
const createdLayout = "2006-01-02 15:04:05"

// Generator writes CMC webhook bodies. Each entry gets a message id made
// of the generator's run id, its worker number and a counter, so bodies
// from one generator, from the generators of one run, and from generators
// with different run ids never repeat an event.
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

	// idPrefix is the JSON-escaped "<RunID-Worker-" start of every message
	// id, built for idRunID and idWorker.
	idPrefix []byte
	idRunID  string
	idWorker int

	// created is the created text of createdSecond, the second after base
	// that the last entry fell in. It changes once every 1000 entries.
	created       []byte
	createdSecond uint64

	// event holds the event field of a form body before it is
	// percent-encoded.
	event []byte
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

// Batch returns a new webhook body of size entries in encoding. The event
// type is drawn per batch: mostly deliveries, some bounces.
func (g *Generator) Batch(size int, encoding Encoding) []byte {
	capacity := size*entrySizeEstimate + 128
	if encoding == EncodingForm {
		capacity *= 2
	}
	return g.AppendBatch(make([]byte, 0, capacity), size, encoding)
}

// AppendBatch is Batch writing into dst: it appends the body to dst and
// returns the extended slice. Passing the previous body with length zero
// reuses its memory, so a worker that is done with each body before the
// next allocates nothing once its buffer has grown.
func (g *Generator) AppendBatch(dst []byte, size int, encoding Encoding) []byte {
	eventType := "deliveries"
	if g.rng.IntN(5) == 0 {
		eventType = "bounces"
	}
	composition := g.Composition
	if composition == "" {
		composition = "pro"
	}
	g.prepareMessageIDs()

	if encoding == EncodingForm {
		g.event = g.appendEvent(g.event[:0], eventType, size)
		dst = append(dst, "event_type="...)
		dst = append(dst, eventType...)
		dst = append(dst, "&server_composition="...)
		dst = appendQueryEscaped(dst, composition)
		dst = append(dst, "&event="...)
		return appendQueryEscaped(dst, g.event)
	}

	dst = append(dst, `{"event_type":"`...)
	dst = append(dst, eventType...)
	dst = append(dst, `","server_composition":`...)
	dst = appendJSONString(dst, composition)
	dst = append(dst, `,"event":`...)
	dst = g.appendEvent(dst, eventType, size)
	return append(dst, '}')
}

// prepareMessageIDs rebuilds idPrefix when RunID or Worker changed since
// the last batch.
func (g *Generator) prepareMessageIDs() {
	if g.idPrefix != nil && g.idRunID == g.RunID && g.idWorker == g.Worker {
		return
	}
	g.idRunID, g.idWorker = g.RunID, g.Worker
	prefix := append(g.idPrefix[:0], '<')
	prefix = appendJSONText(prefix, g.RunID)
	prefix = append(prefix, '-')
	prefix = strconv.AppendInt(prefix, int64(g.Worker), 10)
	g.idPrefix = append(prefix, '-')
}

// appendEvent writes the event field: {"<eventType>":[...]}.
func (g *Generator) appendEvent(out []byte, eventType string, size int) []byte {
	deliveries := eventType == "deliveries"
	out = append(out, `{"`...)
	out = append(out, eventType...)
	out = append(out, `":[`...)
	for i := 0; i < size; i++ {
		if i > 0 {
			out = append(out, ',')
		}
		out = g.appendEntry(out, deliveries)
	}
	return append(out, "]}"...)
}

// appendEntry writes one record with the vendor's field names and order.
// The random draws come first, in a fixed order, so that a seed always
// gives the same records.
func (g *Generator) appendEntry(out []byte, deliveries bool) []byte {
	g.seq++
	domain := domains[g.rng.IntN(len(domains))]
	user := g.rng.IntN(1_000_000)
	subject := subjects[g.rng.IntN(len(subjects))]

	var status string
	var reason diagnostic
	if deliveries {
		status = deliveryStatuses[g.rng.IntN(len(deliveryStatuses))]
		if status == "failed" || status == "deferred" {
			reason = failureReasons[g.rng.IntN(len(failureReasons))]
		}
	} else {
		bounce := bounceCodes[g.rng.IntN(len(bounceCodes))]
		status, reason = bounce.code, bounce.reason
	}

	out = append(out, `{"reason":"`...)
	out = append(out, reason.before...)
	if reason.namesRecipient {
		out = appendAddress(out, user, domain)
		out = append(out, reason.after...)
	}
	out = append(out, '"')
	if deliveries {
		out = append(out, `,"sourceIp":"100.100.100.`...)
		out = strconv.AppendInt(out, int64(1+g.rng.IntN(3)), 10)
		out = append(out, '"')
	}
	out = append(out, `,"returnPath":"info@return.pro.smtps.jp","created":"`...)
	out = append(out, g.createdText()...)
	out = append(out, `","subject":"`...)
	out = append(out, subject...)
	out = append(out, `","apiData":"","messageId":"`...)
	out = append(out, g.idPrefix...)
	out = strconv.AppendUint(out, g.seq, 10)
	out = append(out, `@bench.example.com>","from":"info@example.com","to":"`...)
	out = appendAddress(out, user, domain)
	if deliveries {
		out = append(out, `","senderIp":"`...)
	}
	out = append(out, `","status":"`...)
	out = append(out, status...)
	return append(out, `"}`...)
}

// createdText returns the created time of entry g.seq: base plus one
// millisecond per entry, in whole seconds. It formats only when the
// second changes.
func (g *Generator) createdText() []byte {
	second := g.seq / 1000
	if g.created == nil || second != g.createdSecond {
		g.createdSecond = second
		g.created = g.base.Add(time.Duration(second)*time.Second).AppendFormat(g.created[:0], createdLayout)
	}
	return g.created
}

// appendAddress writes user<n>@domain.
func appendAddress(out []byte, user int, domain string) []byte {
	out = append(out, "user"...)
	out = strconv.AppendInt(out, int64(user), 10)
	out = append(out, '@')
	return append(out, domain...)
}
