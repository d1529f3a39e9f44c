package cmcapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultBaseURL is CMC's API host.
const DefaultBaseURL = "https://api.smtps.jp"

// MaxPageSize is the most records CMC returns on one page.
const MaxPageSize = 100

// Kind is a list endpoint: the kind of records it returns.
type Kind string

// The list endpoints the client reads.
const (
	KindDeliveries Kind = "deliveries"
	KindBounces    Kind = "bounces"
)

// Config configures a Client.
type Config struct {
	// BaseURL is the scheme and host of the API. Defaults to
	// DefaultBaseURL; tests point it at a local server.
	BaseURL string

	// APIUser and APIKey authenticate every request. Required.
	APIUser string
	APIKey  string

	// ServerComposition is the name of CMC's sending configuration, such
	// as "pro". Required.
	ServerComposition string

	// HTTPClient sends the requests. Defaults to a client whose Timeout is
	// 60 seconds.
	HTTPClient *http.Client

	// PageSize is the r parameter, the records per page. Defaults to
	// MaxPageSize, which is also its upper bound.
	PageSize int

	// MaxPages stops ListAll with ErrTooManyPages after this many pages
	// of one list, in case the API ignores the page parameter. Defaults to
	// 10000.
	MaxPages int
}

// Client reads CMC's list endpoints.
type Client struct {
	cfg      Config
	endpoint *url.URL
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	endpoint, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (endpoint.Scheme != "http" && endpoint.Scheme != "https") || endpoint.Host == "" {
		return nil, fmt.Errorf("CMC API base URL %q is invalid: use a URL such as %s", cfg.BaseURL, DefaultBaseURL)
	}
	if cfg.APIUser == "" || cfg.APIKey == "" {
		return nil, errors.New("CMC API user and key are required")
	}
	if cfg.ServerComposition == "" {
		return nil, errors.New("CMC server composition is required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.PageSize <= 0 || cfg.PageSize > MaxPageSize {
		cfg.PageSize = MaxPageSize
	}
	if cfg.MaxPages <= 0 {
		cfg.MaxPages = 10000
	}
	return &Client{cfg: cfg, endpoint: endpoint}, nil
}

// ServerComposition returns the server composition the client reads.
func (c *Client) ServerComposition() string { return c.cfg.ServerComposition }

// Query selects the records of one day, or of one hour of it.
type Query struct {
	// Date is the day in CMC's yyyy-mm-dd form. Required; CMC refuses a
	// future date.
	Date string

	// Hour, when not nil, selects one hour (0 to 23) of Date.
	Hour *int
}

// List returns one page of records, the first page being 0. Each record
// is a raw JSON object as CMC sent it.
func (c *Client) List(ctx context.Context, kind Kind, q Query, page int) ([]json.RawMessage, error) {
	form := url.Values{}
	form.Set("api_user", c.cfg.APIUser)
	form.Set("api_key", c.cfg.APIKey)
	form.Set("server_composition", c.cfg.ServerComposition)
	form.Set("date", q.Date)
	if q.Hour != nil {
		form.Set("hour", strconv.Itoa(*q.Hour))
	}
	// NOTE: CMC documents p as the page position with a default of 0, so
	// pages are counted from 0 here. If p were 1-based, the first page
	// would be skipped.
	form.Set("p", strconv.Itoa(page))
	form.Set("r", strconv.Itoa(c.cfg.PageSize))

	endpoint := c.endpoint.JoinPath("transaction", "v2", string(kind), "list.json").String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", kind, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		// The key is in the body, never in the URL that *url.Error shows.
		return nil, fmt.Errorf("list %s %s: %w", kind, pageName(page), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("list %s %s: read response: %w", kind, pageName(page), err)
	}
	if err := statusError(resp, body); err != nil {
		return nil, fmt.Errorf("list %s %s: %w", kind, pageName(page), err)
	}

	var lists map[string]json.RawMessage
	if err := json.Unmarshal(body, &lists); err != nil {
		return nil, fmt.Errorf("list %s %s: %w: %v", kind, pageName(page), ErrMalformedResponse, err)
	}
	list, ok := lists[string(kind)]
	if !ok {
		return nil, fmt.Errorf("list %s %s: %w: no %q member, found %s",
			kind, pageName(page), ErrMalformedResponse, kind, memberNames(lists))
	}
	var records []json.RawMessage
	if len(list) > 0 && string(list) != "null" {
		if err := json.Unmarshal(list, &records); err != nil {
			return nil, fmt.Errorf("list %s %s: %w: member %q is not a list: %v", kind, pageName(page), ErrMalformedResponse, kind, err)
		}
	}
	return records, nil
}

// ListAll reads every page of a list in order, one request at a time, and
// calls handle with each page's records. It stops after the first page
// with fewer than PageSize records and returns the number of records.
// A full page equal to the one before it is an error wrapping
// ErrMalformedResponse, because an API that ignores the page parameter
// would otherwise be asked for MaxPages pages.
func (c *Client) ListAll(ctx context.Context, kind Kind, q Query, handle func([]json.RawMessage) error) (int, error) {
	total := 0
	var previous [sha256.Size]byte
	for page := 0; ; page++ {
		if page >= c.cfg.MaxPages {
			return total, fmt.Errorf("list %s: %w: stopped after %d pages of %d records", kind, ErrTooManyPages, page, c.cfg.PageSize)
		}
		records, err := c.List(ctx, kind, q, page)
		if err != nil {
			return total, err
		}
		digest := pageDigest(records)
		if page > 0 && len(records) > 0 && digest == previous {
			return total, fmt.Errorf("list %s %s: %w: the page repeats page %d, so the API ignores the page parameter p",
				kind, pageName(page), ErrMalformedResponse, page)
		}
		previous = digest
		total += len(records)
		if len(records) > 0 {
			if err := handle(records); err != nil {
				return total, err
			}
		}
		if len(records) < c.cfg.PageSize {
			return total, nil
		}
	}
}

// pageName names a page for the operator: counted from 1, with the p
// parameter, counted from 0, that requested it.
func pageName(page int) string {
	return fmt.Sprintf("page %d (p=%d)", page+1, page)
}

// pageDigest returns a digest of a page's records, to find a page that
// repeats the one before it.
func pageDigest(records []json.RawMessage) [sha256.Size]byte {
	h := sha256.New()
	for _, record := range records {
		h.Write(record)
		h.Write([]byte{0})
	}
	var digest [sha256.Size]byte
	h.Sum(digest[:0])
	return digest
}

// errorBody is the part of CMC's error response that the client reads.
type errorBody struct {
	Errors []struct {
		Code    string `json:"code"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// statusError returns nil for a 2xx response, else an error that wraps
// the sentinel of its status and carries CMC's error messages.
func statusError(resp *http.Response, body []byte) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}

	detail := "HTTP " + resp.Status
	var parsed errorBody
	if json.Unmarshal(body, &parsed) == nil && len(parsed.Errors) > 0 {
		var parts []string
		for _, e := range parsed.Errors {
			part := strings.TrimSpace(e.Code + " " + e.Message)
			if e.Field != "" {
				part += " (field " + e.Field + ")"
			}
			parts = append(parts, part)
		}
		detail += ": " + strings.Join(parts, "; ")
	} else if text := strings.TrimSpace(string(body)); text != "" {
		if len(text) > 300 {
			text = text[:300] + "..."
		}
		detail += ": " + text
	}

	// NOTE: CMC's API reference does not list the status codes of its
	// errors. 401 and 403 are taken as auth errors and 429 as the rate
	// limit. An auth or rate error sent with another status becomes ErrAPI
	// with CMC's own message.
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return fmt.Errorf("%w (%s): check the API user, the API key and its data reference permission", ErrAuth, detail)
	case http.StatusTooManyRequests:
		hint := "CMC asks for about one poll a day: try again later"
		if after := resp.Header.Get("Retry-After"); after != "" {
			hint = "try again later (Retry-After: " + after + ")"
		}
		return fmt.Errorf("%w (%s): %s", ErrRateLimited, detail, hint)
	}
	return fmt.Errorf("%w (%s)", ErrAPI, detail)
}

func memberNames(m map[string]json.RawMessage) string {
	if len(m) == 0 {
		return "none"
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, strconv.Quote(name))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
