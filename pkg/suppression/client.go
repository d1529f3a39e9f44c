package suppression

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Client calls the admin API.
type Client struct {
	// BaseURL is the API's root, such as http://127.0.0.1:8081.
	BaseURL string
	// Token is the bearer token, or empty when the API needs none.
	Token string
	// HTTPClient defaults to http.DefaultClient.
	HTTPClient *http.Client
}

// APIError is a response of the API other than 2xx.
type APIError struct {
	StatusCode int
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}

// IsNotFound reports whether err is a 404 response, which means the address is not
// suppressed.
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound
}

// do sends a request and decodes a JSON response into out, when out is not
// nil.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	resp, err := c.send(ctx, method, path, body, contentType)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, path, err)
	}
	return nil
}

// send sends a request and returns a 2xx response, whose body the caller
// closes, or an error.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	client := c.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	var answer errorBody
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(text, &answer) != nil || answer.Error == "" {
		answer.Error = strings.TrimSpace(string(text))
	}
	return nil, &APIError{StatusCode: resp.StatusCode, Message: answer.Error}
}

func addressPath(address string) string {
	return PathSuppressions + "/" + url.PathEscape(strings.TrimSpace(address))
}

// SuppressionGet returns the suppression of one address. An address that
// is not suppressed returns an error for which IsNotFound is true.
func (c *Client) SuppressionGet(ctx context.Context, address string) (Suppression, error) {
	var s Suppression
	err := c.do(ctx, http.MethodGet, addressPath(address), nil, "", &s)
	return s, err
}

// SuppressionList returns one page of the list; empty filters match all.
func (c *Client) SuppressionList(ctx context.Context, domain, reason, cursor string, limit int) (ListResponse, error) {
	query := url.Values{}
	for name, value := range map[string]string{"domain": domain, "reason": reason, "cursor": cursor} {
		if value != "" {
			query.Set(name, value)
		}
	}
	if limit > 0 {
		query.Set("limit", strconv.Itoa(limit))
	}
	path := PathSuppressions
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	var page ListResponse
	err := c.do(ctx, http.MethodGet, path, nil, "", &page)
	return page, err
}

// SuppressionAdd puts an address on the list by hand.
func (c *Client) SuppressionAdd(ctx context.Context, address, reason, note string) (Suppression, error) {
	body, err := json.Marshal(AddRequest{Reason: reason, Note: note})
	if err != nil {
		return Suppression{}, err
	}
	var s Suppression
	err = c.do(ctx, http.MethodPut, addressPath(address), bytes.NewReader(body), "application/json", &s)
	return s, err
}

// SuppressionRemove takes an address off the list.
func (c *Client) SuppressionRemove(ctx context.Context, address string) error {
	return c.do(ctx, http.MethodDelete, addressPath(address), nil, "", nil)
}

// SuppressionCheck returns the suppressed addresses among addresses.
func (c *Client) SuppressionCheck(ctx context.Context, addresses []string) (CheckResponse, error) {
	body, err := json.Marshal(CheckRequest{Addresses: addresses})
	if err != nil {
		return CheckResponse{}, err
	}
	var result CheckResponse
	err = c.do(ctx, http.MethodPost, PathCheck, bytes.NewReader(body), "application/json", &result)
	return result, err
}

// SuppressionExport writes the list as CSV to w.
func (c *Client) SuppressionExport(ctx context.Context, w io.Writer) error {
	resp, err := c.send(ctx, http.MethodGet, PathExport, nil, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("read export: %w", err)
	}
	return nil
}

// SuppressionImport sends CSV to the list.
func (c *Client) SuppressionImport(ctx context.Context, r io.Reader) (ImportResult, error) {
	var result ImportResult
	err := c.do(ctx, http.MethodPost, PathImport, r, "text/csv", &result)
	return result, err
}
