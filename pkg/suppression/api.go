package suppression

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// API paths.
const (
	PathSuppressions = "/v1/suppressions"
	PathCheck        = PathSuppressions + "/check"
	PathExport       = PathSuppressions + "/export"
	PathImport       = PathSuppressions + "/import"
)

// APIConfig configures the admin API.
type APIConfig struct {
	// Token is the bearer token every request must send. Empty accepts
	// every request, which only a loopback listener should do.
	Token string

	// MaxCheck is the largest number of addresses in one check. Defaults
	// to 100,000.
	MaxCheck int

	// MaxBodyBytes is the largest request body, which bounds imports.
	// Defaults to 64 MiB.
	MaxBodyBytes int64

	// Metrics records the size and duration of each bulk check. Nil
	// records nothing.
	Metrics *Metrics

	// Logger receives a line per request that fails on the server's side.
	// Defaults to a logger that discards everything.
	Logger *slog.Logger
}

// Limits of list pages.
const (
	defaultListLimit = 100
	maxListLimit     = 1000
)

// api serves the admin API.
type api struct {
	store *Store
	index *Index
	cfg   APIConfig
	token [sha256.Size]byte
}

// NewAPI returns the admin API's handler. Reads of one address and
// changes go to the store, and checks and listings read the index.
func NewAPI(store *Store, index *Index, cfg APIConfig) http.Handler {
	if cfg.MaxCheck <= 0 {
		cfg.MaxCheck = 100_000
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &api{store: store, index: index, cfg: cfg, token: sha256.Sum256([]byte(cfg.Token))}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET "+PathSuppressions, a.list)
	mux.HandleFunc("GET "+PathSuppressions+"/{address}", a.get)
	mux.HandleFunc("PUT "+PathSuppressions+"/{address}", a.put)
	mux.HandleFunc("DELETE "+PathSuppressions+"/{address}", a.remove)
	mux.HandleFunc("POST "+PathCheck, a.check)
	mux.HandleFunc("GET "+PathExport, a.export)
	mux.HandleFunc("POST "+PathImport, a.importCSV)
	return a.authenticate(jsonErrors(mux))
}

// jsonErrors turns the mux's plain-text 404 and 405 responses into the
// JSON error body that every other error response has.
func jsonErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(&routeErrorWriter{ResponseWriter: w, method: r.Method, path: r.URL.Path}, r)
	})
}

// routeErrorWriter replaces the body of a 404 or 405 response written by
// http.ServeMux with a JSON error sentence.
type routeErrorWriter struct {
	http.ResponseWriter
	method, path string
	replaced     bool
}

func (w *routeErrorWriter) WriteHeader(status int) {
	var message string
	switch status {
	case http.StatusNotFound:
		message = fmt.Sprintf("path %s not found: use a path under %s or /healthz", w.path, PathSuppressions)
	case http.StatusMethodNotAllowed:
		message = fmt.Sprintf("method %s is not allowed on %s: use %s", w.method, w.path, w.Header().Get("Allow"))
	default:
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.replaced = true
	w.Header().Del("X-Content-Type-Options")
	writeError(w.ResponseWriter, status, message)
}

func (w *routeErrorWriter) Write(p []byte) (int, error) {
	if w.replaced {
		return len(p), nil // the mux's plain-text body, replaced by the JSON one
	}
	return w.ResponseWriter.Write(p)
}

// authenticate rejects requests without the bearer token, except health
// checks. Comparing digests keeps the time independent of the token.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.Token != "" && r.URL.Path != "/healthz" {
			scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			given := sha256.Sum256([]byte(strings.TrimSpace(token)))
			if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(given[:], a.token[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="mailbridge"`)
				writeError(w, http.StatusUnauthorized, "missing or wrong token: send Authorization: Bearer with the value of MAILBRIDGE_ADMIN_TOKEN")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// pathAddress returns the address in the path, or writes a 400 response.
func pathAddress(w http.ResponseWriter, r *http.Request) (Address, bool) {
	address, err := ParseAddress(r.PathValue("address"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error()+": put one address such as user@example.jp in the path, percent-encoded")
		return "", false
	}
	return address, true
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	address, ok := pathAddress(w, r)
	if !ok {
		return
	}
	s, err := a.store.Get(r.Context(), address)
	switch {
	case errors.Is(err, ErrNotSuppressed):
		writeError(w, http.StatusNotFound, "address "+address.String()+" is not suppressed")
	case err != nil:
		a.serverError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, s)
	}
}

// AddRequest is the optional body of a manual add.
type AddRequest struct {
	// Reason defaults to "manual".
	Reason string `json:"reason"`
	Note   string `json:"note"`
}

func (a *api) put(w http.ResponseWriter, r *http.Request) {
	address, ok := pathAddress(w, r)
	if !ok {
		return
	}
	var req AddRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "the body cannot be read: "+err.Error())
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeStrict(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, "the body is not valid JSON ("+err.Error()+"): send {\"reason\": \"...\", \"note\": \"...\"} or no body")
			return
		}
	}
	s, created, err := a.store.Add(r.Context(), address, strings.TrimSpace(req.Reason), req.Note)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, s)
}

func (a *api) remove(w http.ResponseWriter, r *http.Request) {
	address, ok := pathAddress(w, r)
	if !ok {
		return
	}
	err := a.store.Remove(r.Context(), address)
	switch {
	case errors.Is(err, ErrNotSuppressed):
		writeError(w, http.StatusNotFound, "address "+address.String()+" is not suppressed")
	case err != nil:
		a.serverError(w, r, err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// decodeStrict decodes one JSON value into v and rejects unknown fields,
// so that a misspelt field is reported instead of dropped.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("more than one JSON value")
	}
	return nil
}

// ListResponse is a page of the list.
type ListResponse struct {
	Suppressions []Suppression `json:"suppressions"`
	// NextCursor is the cursor of the next page, or empty on the last.
	NextCursor string `json:"next_cursor,omitempty"`
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	query := r.URL.Query()
	limit := defaultListLimit
	if text := query.Get("limit"); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < 1 || n > maxListLimit {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q is invalid: use a number from 1 to %d", text, maxListLimit))
			return
		}
		limit = n
	}
	// A cursor is the folded address that ended the page before, so
	// anything that is not an address is a cursor this API never returned.
	if cursor := query.Get("cursor"); cursor != "" {
		if _, err := ParseAddress(cursor); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("cursor %q is invalid: pass the next_cursor of the page before, or no cursor for the first page", cursor))
			return
		}
	}
	if !a.indexReady(w) {
		return
	}
	matches, next := a.index.List(query.Get("domain"), query.Get("reason"), query.Get("cursor"), limit)
	page := ListResponse{Suppressions: make([]Suppression, 0, len(matches)), NextCursor: next}
	for _, m := range matches {
		s, err := a.store.Get(r.Context(), Address(m.Address))
		if errors.Is(err, ErrNotSuppressed) {
			continue // removed since the index saw it
		}
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		page.Suppressions = append(page.Suppressions, s)
	}
	writeJSON(w, http.StatusOK, page)
}

// CheckRequest is the body of a check; a bare JSON array of addresses is
// accepted too.
type CheckRequest struct {
	Addresses []string `json:"addresses"`
}

// CheckResponse lists the suppressed addresses of a check in the order
// they were sent.
type CheckResponse struct {
	Checked    int     `json:"checked"`
	Suppressed []Match `json:"suppressed"`
}

func (a *api) check(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "the body cannot be read ("+err.Error()+"): send at most "+strconv.Itoa(a.cfg.MaxCheck)+" addresses")
		return
	}
	addresses, err := decodeCheck(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "the body is not a JSON list of addresses ("+err.Error()+"): send {\"addresses\": [\"user@example.jp\", ...]}")
		return
	}
	if len(addresses) > a.cfg.MaxCheck {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%d addresses are too many for one check: send at most %d", len(addresses), a.cfg.MaxCheck))
		return
	}
	if !a.indexReady(w) {
		return
	}
	start := time.Now()
	found := a.index.Check(addresses)
	a.cfg.Metrics.check(len(addresses), time.Since(start))
	if found == nil {
		found = []Match{}
	}
	writeJSON(w, http.StatusOK, CheckResponse{Checked: len(addresses), Suppressed: found})
}

func (a *api) export(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="suppressions.csv"`)
	count, err := a.store.Export(r.Context(), w)
	if err != nil {
		// The status line is sent already, so the client sees a cut CSV
		// and, with HTTP/1.1 chunked encoding, an unfinished body.
		a.cfg.Logger.ErrorContext(r.Context(), "suppression export failed", slog.Int("rows", count), slog.Any("error", err))
		panic(http.ErrAbortHandler)
	}
}

func (a *api) importCSV(w http.ResponseWriter, r *http.Request) {
	result, err := a.store.Import(r.Context(), http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the CSV is larger than %d bytes: split it into smaller files (the rows before the limit are imported)", a.cfg.MaxBodyBytes))
	case errors.Is(err, ErrInvalidCSV) && result.Imported+result.Unchanged+result.InvalidCount > 0:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%v: the rows before it are done (%d imported, %d on the list already, %d invalid); fix the CSV and import it again, which leaves those rows as they are",
			err, result.Imported, result.Unchanged, result.InvalidCount))
	case errors.Is(err, ErrInvalidCSV):
		writeError(w, http.StatusBadRequest, err.Error()+": send CSV with a header row that names an address column")
	case err != nil:
		a.serverError(w, r, err)
	default:
		writeJSON(w, http.StatusOK, result)
	}
}

// indexReady writes a 503 response while the index is still loading the
// bucket, so that no check misses an address that is not loaded yet.
func (a *api) indexReady(w http.ResponseWriter) bool {
	select {
	case <-a.index.Ready():
		return true
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the suppression index is still loading the bucket: retry in a second")
		return false
	}
}

func (a *api) serverError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusServiceUnavailable
	if errors.Is(err, context.Canceled) {
		status = 499 // the client closed the connection, so no one reads the response
	}
	a.cfg.Logger.ErrorContext(r.Context(), "suppression api request failed",
		slog.String("route", r.Pattern), slog.Any("error", err))
	writeError(w, status, "the suppression list is not available ("+err.Error()+"): retry later")
}

// errorBody is the body of every response other than 2xx.
type errorBody struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, errorBody{Error: message})
}
