package ingress

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/tracing"
)

// Headers of messages on the rejected subject.
const (
	HeaderRejectReason      = "Mailbridge-Reject-Reason"
	HeaderContentType       = "Mailbridge-Content-Type"
	HeaderReceivedAt        = "Mailbridge-Received-At"
	HeaderRequestID         = "Mailbridge-Request-Id"
	HeaderTruncated         = "Mailbridge-Truncated"
	HeaderEventType         = "Mailbridge-Event-Type"
	HeaderServerComposition = "Mailbridge-Server-Composition"
	HeaderEntryIndex        = "Mailbridge-Entry-Index"
)

// redacted replaces an API key found in a body kept on the rejected
// subject.
const redacted = "[redacted]"

// Handler serves the CMC event webhook.
type Handler struct {
	js      jetstream.JetStream
	nc      *nats.Conn
	cfg     Config
	metrics *metrics
	publish *publisherSet
	tracer  trace.Tracer
	// tracing is false with the no-op tracer provider, which is the
	// default: requests then skip making spans.
	tracing bool
	tally   tally
	lines   logLimiter
	// storageFailing is whether the last storage check failed, so that
	// webhooks skip the publish while JetStream cannot store, and the log
	// has one line when storage fails and one when it works again.
	storageFailing atomic.Bool
}

// New returns a Handler that publishes through js. nc is the connection js
// uses; its maximum payload bounds what is kept of an oversized body.
func New(nc *nats.Conn, js jetstream.JetStream, cfg Config) (*Handler, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	publish, err := newPublisherSet(js, c.Publishers, c.StreamName)
	if err != nil {
		return nil, fmt.Errorf("ingress: %w", err)
	}
	return &Handler{
		js: js, nc: nc, cfg: c, metrics: newMetrics(c.Registerer),
		tracer:  c.TracerProvider.Tracer(tracing.ScopeName),
		tracing: !isNoop(c.TracerProvider),
		publish: publish,
	}, nil
}

// request is the state of one webhook request.
type request struct {
	id          string
	received    time.Time
	contentType string
	eventType   string
	composition string
	// rejectReason is the reason sent with a 4xx response, for the log.
	rejectReason string
}

// ServeHTTP handles one POST of the event webhook.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := &request{
		id:          requestID(r),
		received:    time.Now(),
		contentType: r.Header.Get("Content-Type"),
	}
	var span trace.Span
	if h.tracing {
		var ctx context.Context
		ctx, span = tracing.StartWebhook(h.tracer, r)
		r = r.WithContext(ctx)
	}
	w.Header().Set("X-Request-Id", req.id)
	status, result := h.serve(w, r, req)
	if span != nil {
		tracing.EndWebhook(span, status, req.id)
	}

	h.metrics.webhooks.WithLabelValues(strconv.Itoa(status), eventTypeLabel(req.eventType)).Inc()
	h.tally.add(status, result)
	level := slog.LevelDebug
	if h.cfg.LogEveryWebhook {
		level = slog.LevelInfo
	}
	if status >= 500 {
		level = slog.LevelError
	} else if status >= 400 {
		level = slog.LevelWarn
	}
	// slog handlers drop the zero Attr, so only rejections log an error.
	var reasonAttr slog.Attr
	if req.rejectReason != "" {
		reasonAttr = slog.String("error", req.rejectReason)
	}
	if !h.cfg.Logger.Enabled(r.Context(), level) {
		return
	}
	h.logLimited(r.Context(), level, "webhook handled "+strconv.Itoa(status), "webhook handled",
		slog.String("request_id", req.id),
		slog.Int("status", status),
		slog.String("event_type", req.eventType),
		slog.String("server_composition", req.composition),
		slog.Int("accepted", result.Accepted),
		slog.Int("duplicates", result.Duplicates),
		slog.Int("rejected", result.Rejected),
		slog.Duration("duration", time.Since(req.received)),
		reasonAttr,
		traceAttr(span),
	)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, req *request) (int, Result) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		req.rejectReason = "method " + r.Method + " is not allowed"
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed: send the webhook as POST")
		return http.StatusMethodNotAllowed, Result{}
	}
	auth := h.cfg.Auth
	authenticated := !auth.Enabled() || auth.authenticateHeader(r)

	// Read the body.
	body, status, readErr := h.readBody(w, r)
	if readErr != nil {
		if !authenticated {
			return h.unauthorized(w, r, req, readErr.Error())
		}
		return h.rejectBody(w, r, req, body, status, readErr.Error(), status == http.StatusRequestEntityTooLarge)
	}

	// Decode it, then authenticate by body field when the header did not.
	batch, decodeErr := cmc.Decode(req.contentType, body, h.cfg.Limits)
	if !authenticated && (batch == nil || !auth.authenticateBody(batch.APIKey)) {
		bodyProblem := ""
		if decodeErr != nil && (batch == nil || batch.APIKey == "") {
			bodyProblem = decodeReason(req.contentType, body, decodeErr)
		}
		return h.unauthorized(w, r, req, bodyProblem)
	}
	if batch != nil {
		req.eventType = string(batch.EventType)
		req.composition = batch.ServerComposition
	}
	if decodeErr != nil {
		status := http.StatusBadRequest
		if errors.Is(decodeErr, cmc.ErrUnsupportedMediaType) {
			status = http.StatusUnsupportedMediaType
		}
		apiKey := ""
		if batch != nil {
			apiKey = batch.APIKey
		}
		return h.rejectBody(w, r, req, h.redact(body, apiKey), status, decodeReason(req.contentType, body, decodeErr), false)
	}

	// Map every record; keep the ones that cannot be mapped as they came.
	batchMsgs := make([]pending, 0, len(batch.Entries))
	// The events' buffers and the body, which rejected records point into,
	// go back to their pools when the request is done. They stay out of
	// them once the messages went to the disk buffer, stored or not,
	// because its publisher may still send them.
	recycle := true
	defer func() {
		if !recycle {
			return
		}
		recycleBody(body)
		for _, p := range batchMsgs {
			if p.buf != nil {
				recycleEvent(p.buf)
			}
		}
	}()
	rejected := 0
	// Checked once: the attributes of a disabled line still cost an
	// allocation per event.
	debug := h.cfg.Logger.Enabled(r.Context(), slog.LevelDebug)
	for i, raw := range batch.Entries {
		buf := eventBuffers.Get().(*eventBuffer)
		ev, subject, err := h.cfg.Builder.BuildTo(buf.data, batch.EventType, batch.ServerComposition, raw)
		if err == nil {
			err = ev.ValidateFast()
		}
		if err != nil {
			recycleEvent(buf)
			rejected++
			h.logLimited(r.Context(), slog.LevelWarn, "webhook entry rejected", "webhook entry rejected",
				slog.String("request_id", req.id), slog.Int("entry_index", i), slog.Any("error", err))
			msg := h.rejectedMsg(req, raw, fmt.Sprintf("entry %d: %v", i, err))
			msg.Header.Set(HeaderEventType, headerSafe(string(batch.EventType)))
			msg.Header.Set(HeaderServerComposition, headerSafe(batch.ServerComposition))
			msg.Header.Set(HeaderEntryIndex, strconv.Itoa(i))
			batchMsgs = append(batchMsgs, pending{msg: msg})
			continue
		}
		// The data's storage, new or reused, stays with the buffer.
		buf.data = ev.Data
		span := tracing.StartPublish(r.Context(), h.tracer, &ev, subject)
		buf.msg.SetExtraHeader(jetstream.ExpectedStreamHeader, h.cfg.StreamName)
		batchMsgs = append(batchMsgs, pending{msg: mailevent.EncodeTo(&buf.msg, &ev, subject, h.cfg.Mode), buf: buf, eventType: ev.Type, span: span})
		if debug {
			h.cfg.Logger.LogAttrs(r.Context(), slog.LevelDebug, "event mapped",
				slog.String("request_id", req.id), slog.String("event_id", ev.ID),
				slog.String("type", ev.Type), slog.String("nats_subject", subject))
		}
	}

	// Publish, and respond 200 only when every message is stored. The wait
	// ignores a client that hangs up, so its events are still stored and
	// counted, but it ends at the request's own deadline, as in a Lambda call.
	wait := h.cfg.PublishTimeout
	if deadline, ok := r.Context().Deadline(); ok {
		wait = min(wait, time.Until(deadline))
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), wait)
	defer cancel()
	start := time.Now()
	if err := h.publishAll(ctx, batchMsgs); err != nil {
		if h.cfg.Buffer != nil {
			recycle = false
			return h.buffer(w, r, req, batchMsgs, rejected, err)
		}
		h.logLimited(r.Context(), slog.LevelError, "publish failed", "publish failed",
			slog.String("request_id", req.id), slog.Int("messages", len(batchMsgs)), slog.Any("error", err))
		writeUnavailable(w, h.cfg.RetryAfter,
			"the events could not be stored in JetStream ("+shortError(err)+"): retry later; events already stored are not stored twice", nil)
		return http.StatusServiceUnavailable, Result{}
	}
	h.metrics.publishSeconds.Observe(time.Since(start).Seconds())

	// Rejected records are stored too, but count only as rejected.
	result := Result{Rejected: rejected}
	if rejected > 0 {
		h.metrics.rejected.WithLabelValues(eventTypeLabel(req.eventType), "record").Add(float64(rejected))
	}
	// A batch usually contains one event type, so the counters are added to
	// once per run of events with the same type and outcome.
	for start := 0; start < len(batchMsgs); {
		first := batchMsgs[start]
		end := start + 1
		for end < len(batchMsgs) && batchMsgs[end].eventType == first.eventType && batchMsgs[end].duplicate == first.duplicate {
			end++
		}
		count := end - start
		start = end
		if first.eventType == "" {
			continue
		}
		outcome := "accepted"
		if first.duplicate {
			outcome = "duplicate"
			result.Duplicates += count
		} else {
			result.Accepted += count
		}
		h.metrics.events.WithLabelValues(first.eventType, outcome).Add(float64(count))
	}
	writeJSON(w, http.StatusOK, result)
	return http.StatusOK, result
}

// unauthorized answers 401. bodyProblem, when not empty, is why the body
// could not be read for its api_key field.
func (h *Handler) unauthorized(w http.ResponseWriter, r *http.Request, req *request, bodyProblem string) (int, Result) {
	w.Header().Set("WWW-Authenticate", `Basic realm="mailbridge", charset="UTF-8"`)
	message := h.cfg.Auth.unauthorizedMessage(r.Header, bodyProblem)
	req.rejectReason = message
	writeError(w, http.StatusUnauthorized, message)
	return http.StatusUnauthorized, Result{}
}

// readBody reads the body, decompressing gzip, up to MaxBodyBytes. On
// error it returns the bytes it read, for the rejected subject, with the
// response status and the reason.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	limit := h.cfg.MaxBodyBytes
	tooLarge := func() error {
		return fmt.Errorf("body is larger than %d bytes: send smaller batches or raise MAILBRIDGE_MAX_BODY_BYTES", limit)
	}

	raw, err := readAllSized(http.MaxBytesReader(w, r.Body, limit), r.ContentLength, limit)
	var maxBytesErr *http.MaxBytesError
	switch {
	case errors.As(err, &maxBytesErr):
		return raw, http.StatusRequestEntityTooLarge, tooLarge()
	case err != nil:
		return raw, http.StatusBadRequest, fmt.Errorf("body cannot be read: %v", err)
	}

	body := raw
	switch encoding := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); encoding {
	case "", "identity":
	case "gzip", "x-gzip":
		body, err = gunzip(raw, limit)
		if errors.Is(err, errBodyTooLarge) {
			return body, http.StatusRequestEntityTooLarge, tooLarge()
		}
		if err != nil {
			return raw, http.StatusBadRequest, fmt.Errorf("gzip body cannot be read (%v): send valid gzip or no Content-Encoding", err)
		}
		recycleBody(raw)
	default:
		return raw, http.StatusUnsupportedMediaType, fmt.Errorf("Content-Encoding %q is not supported: send gzip or no encoding", encoding)
	}

	if len(body) == 0 {
		return body, http.StatusBadRequest, errors.New("body is empty: send a CMC event webhook")
	}
	return body, 0, nil
}

// errBodyTooLarge is returned by gunzip when the decompressed body is
// larger than its limit.
var errBodyTooLarge = errors.New("body too large")

// gunzip decompresses a gzip body, reading at most limit+1 bytes of output
// so that a small body that decompresses to gigabytes costs no more memory
// than the limit. Over the limit it returns the first limit bytes and
// errBodyTooLarge.
func gunzip(compressed []byte, limit int64) ([]byte, error) {
	gz, err := gzip.NewReader(bytes.NewReader(compressed))
	if err != nil {
		return nil, err
	}
	defer gz.Close()

	body, err := io.ReadAll(io.LimitReader(gz, limit+1))
	if int64(len(body)) > limit {
		return body[:limit], errBodyTooLarge
	}
	if err != nil {
		return nil, err
	}
	return body, nil
}

// rejectBody keeps a whole body that cannot be used on the rejected subject
// and answers status with reason. When the body cannot be stored either,
// the answer is 503 so that the sender tries again.
func (h *Handler) rejectBody(w http.ResponseWriter, r *http.Request, req *request, body []byte, status int, reason string, truncated bool) (int, Result) {
	msg := h.rejectedMsg(req, h.redact(body, ""), reason)
	if truncated {
		msg.Header.Set(HeaderTruncated, "true")
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.PublishTimeout)
	defer cancel()
	if err := h.publishAll(ctx, []pending{{msg: msg}}); err != nil {
		h.logLimited(r.Context(), slog.LevelError, "publish of rejected body failed", "publish of rejected body failed",
			slog.String("request_id", req.id), slog.Any("error", err))
		writeUnavailable(w, h.cfg.RetryAfter, "the body was invalid ("+reason+") and could not be kept either: retry later", nil)
		return http.StatusServiceUnavailable, Result{}
	}
	h.metrics.rejected.WithLabelValues(eventTypeLabel(req.eventType), "body").Inc()
	req.rejectReason = reason
	writeError(w, status, reason+" (the body was kept on "+h.cfg.Builder.Subjects.Rejected()+")")
	return status, Result{Rejected: 1}
}

// rejectedMsg builds a message for the rejected subject. A body larger than
// the connection's maximum payload is cut to fit and marked truncated.
func (h *Handler) rejectedMsg(req *request, data []byte, reason string) *nats.Msg {
	digest := sha256.Sum256(append([]byte(reason+"\x00"), data...))
	msg := nats.NewMsg(h.cfg.Builder.Subjects.Rejected())
	msg.Header.Set(mailevent.HeaderMsgID, hex.EncodeToString(digest[:16]))
	msg.Header.Set(HeaderRejectReason, headerSafe(reason))
	msg.Header.Set(HeaderContentType, headerSafe(req.contentType))
	msg.Header.Set(HeaderReceivedAt, req.received.UTC().Format(time.RFC3339Nano))
	msg.Header.Set(HeaderRequestID, req.id)

	// Leave room for the headers within the maximum payload.
	if h.nc != nil {
		if room := int(h.nc.MaxPayload()) - 8192; room > 0 && len(data) > room {
			data = data[:room]
			msg.Header.Set(HeaderTruncated, "true")
		}
	}
	msg.Data = data
	return msg
}

// apiKeyFields match the value of an api_key field in a JSON body, a form
// body and a multipart body, so that it is removed even when it is not the
// configured key or the body could not be decoded.
var apiKeyFields = []struct {
	pattern     *regexp.Regexp
	replacement string
}{
	{regexp.MustCompile(`("api_key"\s*:\s*)"(?:[^"\\]|\\.)*"?`), `${1}"` + redacted + `"`},
	{regexp.MustCompile(`(^|&)(api_key=)[^&]*`), "${1}${2}" + url.QueryEscape(redacted)},
	{regexp.MustCompile(`(name="?api_key"?[^\r\n]*\r?\n(?:[^\r\n]+\r?\n)*\r?\n)[^\r\n]*`), "${1}" + redacted},
}

// redact removes API keys from a body before it is kept: every api_key
// field, and the configured key and the key the body carried wherever they
// appear, as they are and URL-encoded.
func (h *Handler) redact(body []byte, bodyKey string) []byte {
	for _, field := range apiKeyFields {
		body = field.pattern.ReplaceAll(body, []byte(field.replacement))
	}
	for _, key := range []string{h.cfg.Auth.APIKey, bodyKey} {
		if len(key) < 4 {
			continue
		}
		for _, form := range []string{key, url.QueryEscape(key)} {
			body = bytes.ReplaceAll(body, []byte(form), []byte(redacted))
		}
	}
	return body
}

// eventTypeLabel returns the metric label of an event_type: the type when
// it is one CMC sends, else "unknown", so that senders cannot create label
// values without bound.
func eventTypeLabel(eventType string) string {
	if eventType == "" || cmc.EventType(eventType).Valid() {
		return eventType
	}
	return "unknown"
}

func requestID(r *http.Request) string {
	id := r.Header.Get("X-Request-Id")
	if id != "" && len(id) <= 64 && headerSafe(id) == id && !strings.ContainsAny(id, " ") {
		return id
	}
	return nuid.Next()
}

// headerSafe makes text fit in a NATS header value: no CR or LF, at most
// 1 KiB.
func headerSafe(text string) string {
	text = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, text)
	if len(text) > 1024 {
		text = text[:1024]
	}
	return text
}

// traceAttr returns the trace_id log attribute of span, or an empty Attr,
// which slog leaves out, when tracing is off.
func traceAttr(span trace.Span) slog.Attr {
	if span == nil {
		return slog.Attr{}
	}
	if sc := span.SpanContext(); sc.IsValid() {
		return slog.String("trace_id", sc.TraceID().String())
	}
	return slog.Attr{}
}

// isNoop reports whether provider is OpenTelemetry's no-op provider.
func isNoop(provider trace.TracerProvider) bool {
	_, ok := provider.(noop.TracerProvider)
	return ok
}

// jsErrCodeStreamStoreFailed is the JetStream API error code of a message
// the stream did not store, such as one over the stream's limits under
// discard policy new.
const jsErrCodeStreamStoreFailed jetstream.ErrorCode = 10077

// jsErrCodeInsufficientResources is the JetStream API error code of a
// message rejected because the server's store usage is over its max
// store, which nats-server sizes from the free disk space unless it is
// configured.
const jsErrCodeInsufficientResources jetstream.ErrorCode = 10023

func shortError(err error) string {
	if reason := storageReason(err); reason != "" {
		return reason
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrCodeStreamStoreFailed && strings.HasPrefix(apiErr.Description, "maximum ") {
		return "the stream is full, " + apiErr.Description + ", so raise the stream's limits or remove old events"
	}
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jsErrCodeInsufficientResources {
		return "JetStream storage is full (" + apiErr.Description + "), so free disk space on the NATS server or raise its max store, then restart it"
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out waiting for acknowledgements"
	case errors.Is(err, nats.ErrDisconnected):
		return "not connected to NATS"
	case errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse):
		return "no JetStream stream answered"
	}
	return "publish failed"
}
