package ingress

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Result is the body of a 200 response: how many records of the batch were
// stored as new events, were already stored, and were kept on the rejected
// subject.
type Result struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   int `json:"rejected"`
	// Buffered counts the events kept on local disk because JetStream
	// could not store them; they are forwarded later.
	Buffered int `json:"buffered,omitempty"`
}

// errorBody is the body of every response other than 200.
type errorBody struct {
	Error string `json:"error"`
	// Result is set when part of the batch was handled before the error.
	*Result `json:",omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if result, ok := body.(Result); ok {
		// The response to every stored batch: written without reflection.
		var buf [96]byte
		_, _ = w.Write(result.appendJSON(buf[:0]))
		return
	}
	_ = json.NewEncoder(w).Encode(body)
}

// appendJSON appends r as encoding/json's Encoder writes it, newline
// included.
func (r Result) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"accepted":`...)
	dst = strconv.AppendInt(dst, int64(r.Accepted), 10)
	dst = append(dst, `,"duplicates":`...)
	dst = strconv.AppendInt(dst, int64(r.Duplicates), 10)
	dst = append(dst, `,"rejected":`...)
	dst = strconv.AppendInt(dst, int64(r.Rejected), 10)
	if r.Buffered != 0 {
		dst = append(dst, `,"buffered":`...)
		dst = strconv.AppendInt(dst, int64(r.Buffered), 10)
	}
	return append(dst, "}\n"...)
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorBody{Error: message})
}

func writeUnavailable(w http.ResponseWriter, retryAfter time.Duration, message string, result *Result) {
	seconds := int(retryAfter.Round(time.Second) / time.Second)
	if seconds < 1 {
		seconds = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(seconds))
	writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: message, Result: result})
}
