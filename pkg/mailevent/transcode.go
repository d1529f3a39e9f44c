package mailevent

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// AppendStructuredMsg appends the CloudEvent in a NATS message of either
// content mode in the CloudEvents JSON event format. It writes the same
// bytes as AppendStructured on the Event that Decode returns, and returns
// an error exactly when Decode does, leaving dst unchanged.
//
// A binary-mode message is written straight from its headers, without
// building an Event: a ce-time value already in the form AppendStructured
// writes is copied as it is, and JSON data is checked by a validator that
// accepts what json.Valid accepts, but faster. This is the path for
// reading a stream back in bulk.
func AppendStructuredMsg(dst []byte, header nats.Header, data []byte) ([]byte, error) {
	if headerValue(header, headerPrefix+"specversion") == "" {
		ev, err := Decode(header, data)
		if err != nil {
			return dst, err
		}
		return AppendStructured(dst, &ev), nil
	}

	var attrs binaryAttributes
	if err := attrs.read(header); err != nil {
		return dst, err
	}
	if err := attrs.checkRequired(); err != nil {
		return dst, err
	}
	var timeBuf [40]byte
	var timeText []byte
	if attrs.hasTime {
		var err error
		if timeText, err = appendEventTime(timeBuf[:0], attrs.time); err != nil {
			return dst, err
		}
	}
	return attrs.appendStructured(dst, timeText, data), nil
}

// binaryAttributes are the decoded ce- headers of a binary-mode message.
type binaryAttributes struct {
	id, source, eventType, subject, time, dataSchema string
	hasTime                                          bool

	// contentType is the content-type header and ceContentType the
	// ce-datacontenttype header. The latter wins when both are present.
	contentType, ceContentType string
	hasCEContentType           bool

	// extensions are sorted by name before writing.
	extensions []extensionAttribute
}

type extensionAttribute struct{ name, value string }

// read decodes the headers as decodeBinary does.
func (a *binaryAttributes) read(header nats.Header) error {
	for key, values := range header {
		if len(values) == 0 {
			continue
		}
		if strings.EqualFold(key, HeaderContentType) {
			a.contentType = values[0]
			continue
		}
		if len(key) < len(headerPrefix) || !strings.EqualFold(key[:len(headerPrefix)], headerPrefix) {
			continue
		}
		name := strings.ToLower(key[len(headerPrefix):])
		value, err := percentDecode(unquoteHeader(values[0]))
		if err != nil {
			return fmt.Errorf("header %s: %w", key, err)
		}
		switch name {
		case "specversion":
			if value != SpecVersion {
				return fmt.Errorf("specversion %q is not supported: expected %s", value, SpecVersion)
			}
		case "id":
			a.id = value
		case "source":
			a.source = value
		case "type":
			a.eventType = value
		case "subject":
			a.subject = value
		case "time":
			a.time, a.hasTime = value, true
		case "dataschema":
			a.dataSchema = value
		case "datacontenttype":
			a.ceContentType, a.hasCEContentType = value, true
		default:
			a.setExtension(name, value)
		}
	}
	return nil
}

// setExtension keeps one value per name, as the Extensions map does.
func (a *binaryAttributes) setExtension(name, value string) {
	for i := range a.extensions {
		if a.extensions[i].name == name {
			a.extensions[i].value = value
			return
		}
	}
	a.extensions = append(a.extensions, extensionAttribute{name, value})
}

func (a *binaryAttributes) checkRequired() error {
	if a.id != "" && a.source != "" && a.eventType != "" {
		return nil
	}
	ev := Event{ID: a.id, Source: a.source, Type: a.eventType}
	return ev.checkRequired()
}

func (a *binaryAttributes) dataContentType() string {
	if a.hasCEContentType {
		return a.ceContentType
	}
	return a.contentType
}

// appendStructured writes the members in AppendStructured's order.
// timeText is the time as AppendStructured formats it, or empty for none.
func (a *binaryAttributes) appendStructured(dst, timeText, data []byte) []byte {
	w := objectWriter{buf: dst}
	w.str("specversion", SpecVersion)
	w.str("id", a.id)
	w.str("source", a.source)
	w.str("type", a.eventType)
	if a.subject != "" {
		w.str("subject", a.subject)
	}
	if len(timeText) > 0 {
		// The time holds only digits, letters and punctuation that JSON
		// strings take as they are.
		w.key("time")
		w.buf = append(w.buf, '"')
		w.buf = append(w.buf, timeText...)
		w.buf = append(w.buf, '"')
	}
	contentType := a.dataContentType()
	if contentType != "" {
		w.str("datacontenttype", contentType)
	}
	if a.dataSchema != "" {
		w.str("dataschema", a.dataSchema)
	}
	if len(a.extensions) > 1 {
		slices.SortFunc(a.extensions, func(x, y extensionAttribute) int { return strings.Compare(x.name, y.name) })
	}
	for _, ext := range a.extensions {
		w.str(ext.name, ext.value)
	}
	if data != nil {
		if isJSONContentType(contentType) && validJSON(data) {
			w.raw("data", data)
		} else {
			w.str("data", string(data))
		}
	}
	return w.close()
}

// appendEventTime appends the RFC 3339 time text as AppendStructured
// writes the time that Decode parses from it. Text already in that form is
// copied, which saves parsing and formatting. Nothing is appended for the
// zero time, which AppendStructured leaves out.
func appendEventTime(dst []byte, text string) ([]byte, error) {
	if isCanonicalTime(text) {
		return append(dst, text...), nil
	}
	t, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		return dst, fmt.Errorf("attribute time %q is not RFC 3339", text)
	}
	if t.IsZero() {
		return dst, nil
	}
	return t.AppendFormat(dst, time.RFC3339Nano), nil
}

// isCanonicalTime reports whether text is a time that time.Parse accepts
// with layout RFC3339Nano and that Format with the same layout writes back
// unchanged: "2006-01-02T15:04:05", then an optional fraction of one to
// nine digits without a trailing zero, then "Z" or a non-zero offset.
// It accepts years 1000 to 9999 only, so that the zero time, which
// AppendStructured leaves out, never passes.
func isCanonicalTime(text string) bool {
	if len(text) < len("2006-01-02T15:04:05Z") {
		return false
	}
	if text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' {
		return false
	}
	year, ok1 := twoDigits(text[0:2])
	yearLow, ok2 := twoDigits(text[2:4])
	month, ok3 := twoDigits(text[5:7])
	day, ok4 := twoDigits(text[8:10])
	hour, ok5 := twoDigits(text[11:13])
	minute, ok6 := twoDigits(text[14:16])
	second, ok7 := twoDigits(text[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return false
	}
	year = year*100 + yearLow
	if year < 1000 || month < 1 || month > 12 || day < 1 || day > daysInMonth(month, year) ||
		hour > 23 || minute > 59 || second > 59 {
		return false
	}

	rest := text[19:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		digits := n - 1
		if digits < 1 || digits > 9 || rest[n-1] == '0' {
			return false
		}
		rest = rest[n:]
	}
	if rest == "Z" {
		return true
	}
	if len(rest) != len("+09:00") || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' {
		return false
	}
	offsetHour, ok1 := twoDigits(rest[1:3])
	offsetMinute, ok2 := twoDigits(rest[4:6])
	// Format writes a zero offset as "Z".
	return ok1 && ok2 && offsetHour <= 23 && offsetMinute <= 59 && offsetHour+offsetMinute > 0
}

func twoDigits(s string) (int, bool) {
	if s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

func daysInMonth(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
