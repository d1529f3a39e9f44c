// Package cmcapitest runs a local stand-in for the list endpoints of
// Customers Mail Cloud's REST API, for tests: it checks the credentials
// and the parameters of each request and serves the records it was given
// in pages.
package cmcapitest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Credentials the server accepts.
const (
	APIUser           = "api-user"
	APIKey            = "secret-api-key-0123456789"
	ServerComposition = "pro"
)

// Request is one request the server received.
type Request struct {
	Kind     string
	Date     string
	Hour     string
	Page     int
	PageSize int
}

// Server is a running stand-in.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	records  map[string][]json.RawMessage // by kind
	requests []Request
	status   int // status of every response when not 0

	inFlight   atomic.Int32
	concurrent atomic.Bool
}

// Start starts a server that serves records by kind ("deliveries",
// "bounces") for any date. It stops when the test ends.
func Start(tb testing.TB, records map[string][]json.RawMessage) *Server {
	tb.Helper()
	s := &Server{records: records}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// FailWith makes the server respond to every later request with status
// and a CMC-style error body.
func (s *Server) FailWith(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Concurrent reports whether two requests were ever in flight at once.
func (s *Server) Concurrent() bool { return s.concurrent.Load() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.inFlight.Add(1) > 1 {
		s.concurrent.Store(true)
	}
	defer s.inFlight.Add(-1)

	var kind string
	switch r.URL.Path {
	case "/transaction/v2/deliveries/list.json":
		kind = "deliveries"
	case "/transaction/v2/bounces/list.json":
		kind = "bounces"
	default:
		writeError(w, http.StatusNotFound, "E404", "", "no such resource")
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "E405", "", "use POST")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "E400", "", err.Error())
		return
	}

	s.mu.Lock()
	status := s.status
	s.mu.Unlock()
	switch {
	case status != 0:
		writeError(w, status, "E"+strconv.Itoa(status), "", http.StatusText(status))
		return
	case r.PostForm.Get("api_user") != APIUser || r.PostForm.Get("api_key") != APIKey:
		writeError(w, http.StatusUnauthorized, "E401", "api_key", "authentication failed")
		return
	case r.PostForm.Get("server_composition") != ServerComposition:
		writeError(w, http.StatusBadRequest, "E400", "server_composition", "unknown server composition")
		return
	case r.PostForm.Get("date") == "":
		writeError(w, http.StatusBadRequest, "E400", "date", "date is required")
		return
	}
	page, err1 := strconv.Atoi(r.PostForm.Get("p"))
	size, err2 := strconv.Atoi(r.PostForm.Get("r"))
	if err1 != nil || err2 != nil || page < 0 || size < 1 || size > 100 {
		writeError(w, http.StatusBadRequest, "E400", "p", "p and r must be numbers, r at most 100")
		return
	}

	s.mu.Lock()
	s.requests = append(s.requests, Request{Kind: kind, Date: r.PostForm.Get("date"), Hour: r.PostForm.Get("hour"), Page: page, PageSize: size})
	all := s.records[kind]
	s.mu.Unlock()

	start, end := min(page*size, len(all)), min((page+1)*size, len(all))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string][]json.RawMessage{kind: append([]json.RawMessage{}, all[start:end]...)})
}

func writeError(w http.ResponseWriter, status int, code, field, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "field": field, "message": message}},
	})
}
