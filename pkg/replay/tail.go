package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/text/width"

	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// TailConfig configures Tail.
type TailConfig struct {
	// JS reads the stream. Required.
	JS jetstream.JetStream

	// Stream is the stream name. Required.
	Stream string

	// Subjects are subject filters, wildcards allowed. Empty follows every
	// subject of the stream.
	Subjects []string

	// Since starts with the messages stored at or after it, in stream
	// time. Zero starts with the next message stored.
	Since time.Time

	// JSON writes each CloudEvent as one line in the CloudEvents JSON
	// format instead of a readable line.
	JSON bool

	// Prefix is the subject prefix of the stream, such as "mail"; it
	// names the kind of a message that is not a CloudEvent, such as
	// "rejected" for mail.rejected.
	Prefix string

	// Location is the time zone of the times shown. Defaults to
	// time.Local.
	Location *time.Location

	// Ready, when set, is called once the consumer exists, so that every
	// message stored after it returns is shown.
	Ready func()
}

// Tail follows the stream with an ordered consumer and writes one line
// per message to out until ctx ends, then returns nil. A message that is
// not a CloudEvent, such as a record kept on the rejected subject, gets a
// readable line too: in out, or in notes when JSON is set, so that out
// holds only CloudEvents.
func Tail(ctx context.Context, cfg TailConfig, out, notes io.Writer) error {
	if cfg.JS == nil || cfg.Stream == "" {
		return fmt.Errorf("%w: JetStream and stream name are required", ErrInvalidConfig)
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	consumerCfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: cfg.Subjects,
		DeliverPolicy:  jetstream.DeliverNewPolicy,
		// Give up after a few failed consumer creations, such as for an
		// invalid filter, rather than retrying for ever.
		MaxResetAttempts: maxResetAttempts,
	}
	if !cfg.Since.IsZero() {
		since := cfg.Since.UTC()
		consumerCfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		consumerCfg.OptStartTime = &since
	}

	ordered, err := cfg.JS.OrderedConsumer(ctx, cfg.Stream, consumerCfg)
	if err != nil {
		return fmt.Errorf("create ordered consumer on %s: %w", cfg.Stream, err)
	}
	// A small batch shows each message as soon as it is stored.
	iter, err := ordered.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return fmt.Errorf("follow %s: %w", cfg.Stream, err)
	}
	defer func() {
		iter.Stop()
		consumer.RemoveOrdered(cfg.JS, cfg.Stream, ordered)
	}()
	if cfg.Ready != nil {
		cfg.Ready()
	}

	var line []byte
	for {
		msg, err := iter.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("follow %s: %w", cfg.Stream, err)
		}
		w := out
		ev, decodeErr := mailevent.Decode(msg.Headers(), msg.Data())
		switch {
		case decodeErr == nil && cfg.JSON:
			line = append(mailevent.AppendStructured(line[:0], &ev), '\n')
		case decodeErr == nil:
			line = AppendEventLine(line[:0], &ev, cfg.Location)
		default:
			var stored time.Time
			if meta, err := msg.Metadata(); err == nil {
				stored = meta.Timestamp
			}
			line = AppendMessageLine(line[:0], msg.Subject(), msg.Headers(), len(msg.Data()), stored, cfg.Prefix, cfg.Location)
			if cfg.JSON {
				w = notes
			}
		}
		if _, err := w.Write(line); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
}

// Widths of the columns of a readable line.
const (
	typeColumn      = 26
	recipientColumn = 30
	verdictColumn   = 18
	reasonRunes     = 80
)

// lineData is what a readable line shows of an event's data.
type lineData struct {
	Reason         string                    `json:"reason"`
	BounceName     string                    `json:"bounce_name"`
	Classification *mailevent.Classification `json:"classification"`
}

// AppendEventLine appends one readable line for an event: its time in loc,
// its type without the jp.smtps.cmc. prefix (a bounce with its bounce
// name), the recipient, the classification as reason/hard or reason/soft,
// and the reason text shortened to 80 terminal cells.
func AppendEventLine(dst []byte, ev *mailevent.Event, loc *time.Location) []byte {
	var data lineData
	_ = json.Unmarshal(ev.Data, &data) // a line shows what it can

	dst = appendTime(dst, ev.Time, loc)
	kind := strings.TrimPrefix(ev.Type, mailevent.TypePrefix)
	// mailbridge's own events, such as io.mailbridge.suppression.added,
	// lose their prefix too, to fit the column.
	kind = strings.TrimPrefix(kind, "io.mailbridge.")
	if data.BounceName != "" {
		kind += "." + data.BounceName
	}
	dst = appendColumn(dst, kind, typeColumn)
	dst = appendColumn(dst, orDash(ev.Subject), recipientColumn)
	verdict := "-"
	if c := data.Classification; c != nil && c.Reason != "" {
		verdict = c.Reason + "/soft"
		if c.Hard {
			verdict = c.Reason + "/hard"
		}
	}
	dst = appendColumn(dst, verdict, verdictColumn)
	dst = append(dst, shorten(data.Reason, reasonRunes)...)
	return append(trimRight(dst), '\n')
}

// AppendMessageLine appends one readable line for a stored message that is
// not a CloudEvent: its stored time, its kind (the subject's first token
// after prefix, such as "rejected"), the subject, the reason a header
// gives, and the payload size.
func AppendMessageLine(dst []byte, subject string, header nats.Header, size int, stored time.Time, prefix string, loc *time.Location) []byte {
	kind := subject
	if rest, ok := strings.CutPrefix(subject, prefix+"."); ok && prefix != "" {
		kind, _, _ = strings.Cut(rest, ".")
	}
	dst = appendTime(dst, stored, loc)
	dst = appendColumn(dst, kind, typeColumn)
	dst = appendColumn(dst, subject, recipientColumn)
	dst = append(dst, shorten(headerReason(header), reasonRunes)...)
	dst = append(dst, " ("...)
	dst = strconv.AppendInt(dst, int64(size), 10)
	dst = append(dst, " bytes, not a CloudEvent)\n"...)
	return dst
}

// headerReason returns the first header that gives a reason or an error:
// the ingress's Mailbridge-Reject-Reason, else any header whose name
// contains "reason" or "error".
func headerReason(header nats.Header) string {
	if v := header.Get("Mailbridge-Reject-Reason"); v != "" {
		return v
	}
	names := make([]string, 0, len(header))
	for name := range header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		lower := strings.ToLower(name)
		if (strings.Contains(lower, "reason") || strings.Contains(lower, "error")) && len(header[name]) > 0 {
			return header[name][0]
		}
	}
	return "-"
}

func appendTime(dst []byte, t time.Time, loc *time.Location) []byte {
	if t.IsZero() {
		return appendColumn(dst, "-", len("2006-01-02 15:04:05 MST"))
	}
	dst = t.In(loc).AppendFormat(dst, "2006-01-02 15:04:05 MST")
	return append(dst, "  "...)
}

// appendColumn appends text padded to width terminal cells and two
// spaces.
func appendColumn(dst []byte, text string, width int) []byte {
	text = printable(text)
	dst = append(dst, text...)
	for n := displayWidth(text); n < width; n++ {
		dst = append(dst, ' ')
	}
	return append(dst, "  "...)
}

// shorten puts text on one line and cuts it to limit terminal cells.
func shorten(text string, limit int) string {
	text = printable(strings.Join(strings.Fields(text), " "))
	if displayWidth(text) <= limit {
		return text
	}
	used := 0
	for i, r := range text {
		w := runeWidth(r)
		if used+w > limit-1 { // keep a cell for the ellipsis
			return text[:i] + "…"
		}
		used += w
	}
	return text
}

// printable escapes what a terminal would act on instead of showing:
// control characters, such as the escape sequences a remote mail server
// can put in a bounce reason, and the bidirectional overrides that
// reorder a line. Invalid UTF-8 becomes U+FFFD.
func printable(text string) string {
	clean := true
	for _, r := range text {
		if r == utf8.RuneError || unicode.IsControl(r) || isBidiControl(r) {
			clean = false
			break
		}
	}
	if clean {
		return text
	}
	var b strings.Builder
	for _, r := range text {
		switch {
		case unicode.IsControl(r) || isBidiControl(r):
			quoted := strconv.QuoteRuneToASCII(r) // such as '\x1b', quotes included
			b.WriteString(quoted[1 : len(quoted)-1])
		default:
			b.WriteRune(r) // writes U+FFFD for an invalid byte
		}
	}
	return b.String()
}

func isBidiControl(r rune) bool {
	return (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) || r == 0x200E || r == 0x200F || r == 0x061C
}

// displayWidth returns the number of terminal cells text takes: two for
// wide characters such as kanji and kana, none for combining marks.
func displayWidth(text string) int {
	n := 0
	for _, r := range text {
		n += runeWidth(r)
	}
	return n
}

func runeWidth(r rune) int {
	switch {
	case unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Me, r) || r == '\u200b':
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}

func orDash(text string) string {
	if text == "" {
		return "-"
	}
	return text
}

func trimRight(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return b
}
