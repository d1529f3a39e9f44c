package ingress_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mailbridge/mailbridge/pkg/ingress"
)

const (
	testAPIKey        = "cmc-key-5f1d0c9e7a2b"
	testBasicUser     = "cmc-webhook"
	testBasicPassword = "basic-pass-83c1e0"
)

// withAPIKey adds the api_key member to a JSON body.
func withAPIKey(t *testing.T, body []byte, key string) []byte {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		t.Fatal(err)
	}
	quoted, _ := json.Marshal(key)
	members["api_key"] = quoted
	out, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func basicHeader(user, password string) http.Header {
	req, _ := http.NewRequest(http.MethodPost, "/", nil)
	req.SetBasicAuth(user, password)
	return http.Header{"Authorization": req.Header.Values("Authorization")}
}

func bearerHeader(key string) http.Header {
	return http.Header{"Authorization": {"Bearer " + key}}
}

// assertSecretsNotKept fails when a secret appears in a stored message's
// headers or data, or in the log.
func assertSecretsNotKept(t *testing.T, b *bridge, secrets ...string) {
	t.Helper()
	for _, msg := range b.stored(t) {
		var headers strings.Builder
		for name, values := range msg.Header {
			headers.WriteString(name + ": " + strings.Join(values, ", ") + "\n")
		}
		for _, secret := range secrets {
			for _, form := range []string{secret, url.QueryEscape(secret)} {
				if containsAny(form, string(msg.Data), headers.String(), msg.Subject) {
					t.Errorf("message %d on %s contains the secret %q:\n%s\n%s", msg.Sequence, msg.Subject, secret, headers.String(), msg.Data)
				}
			}
		}
	}
	for _, secret := range secrets {
		if strings.Contains(b.logs.String(), secret) {
			t.Errorf("log contains the secret %q", secret)
		}
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	basic := ingress.Auth{BasicUser: testBasicUser, BasicPassword: testBasicPassword}
	apiKey := ingress.Auth{APIKey: testAPIKey}
	example := "deliveries-queued.json"

	type request struct {
		contentType string
		body        []byte
		header      http.Header
	}
	jsonBody := func(t *testing.T, key string) request {
		body := readExample(t, example)
		if key != "" {
			body = withAPIKey(t, body, key)
		}
		return request{"application/json", body, nil}
	}
	formBody := func(t *testing.T, key string) request {
		values := formFields(t, readExample(t, example))
		values.Set("api_key", key)
		return request{"application/x-www-form-urlencoded", []byte(values.Encode()), nil}
	}
	multipartBody := func(t *testing.T, key string) request {
		contentType, body := encodings[2].encode(t, withAPIKey(t, readExample(t, example), key))
		return request{contentType, body, nil}
	}
	withHeader := func(r request, header http.Header) request {
		r.header = header
		return r
	}

	cases := []struct {
		name    string
		auth    ingress.Auth
		request func(t *testing.T) request
		want    int
	}{
		{"basic right", basic, func(t *testing.T) request {
			return withHeader(jsonBody(t, ""), basicHeader(testBasicUser, testBasicPassword))
		}, http.StatusOK},
		{"basic wrong password", basic, func(t *testing.T) request {
			return withHeader(jsonBody(t, ""), basicHeader(testBasicUser, "guess"))
		}, http.StatusUnauthorized},
		{"basic wrong user", basic, func(t *testing.T) request {
			return withHeader(jsonBody(t, ""), basicHeader("admin", testBasicPassword))
		}, http.StatusUnauthorized},
		{"basic missing", basic, func(t *testing.T) request { return jsonBody(t, "") }, http.StatusUnauthorized},
		{"basic configured, bearer sent", basic, func(t *testing.T) request {
			return withHeader(jsonBody(t, ""), bearerHeader(testBasicPassword))
		}, http.StatusUnauthorized},
		{"bearer right", apiKey, func(t *testing.T) request {
			return withHeader(jsonBody(t, ""), bearerHeader(testAPIKey))
		}, http.StatusOK},
		{"bearer wrong", apiKey, func(t *testing.T) request {
			return withHeader(jsonBody(t, ""), bearerHeader(testAPIKey+"x"))
		}, http.StatusUnauthorized},
		{"api key missing", apiKey, func(t *testing.T) request { return jsonBody(t, "") }, http.StatusUnauthorized},
		{"json api_key right", apiKey, func(t *testing.T) request { return jsonBody(t, testAPIKey) }, http.StatusOK},
		{"json api_key wrong", apiKey, func(t *testing.T) request { return jsonBody(t, "cmc-key-000000000000") }, http.StatusUnauthorized},
		{"form api_key right", apiKey, func(t *testing.T) request { return formBody(t, testAPIKey) }, http.StatusOK},
		{"form api_key wrong", apiKey, func(t *testing.T) request { return formBody(t, "cmc-key-000000000000") }, http.StatusUnauthorized},
		{"multipart api_key right", apiKey, func(t *testing.T) request { return multipartBody(t, testAPIKey) }, http.StatusOK},
		{"multipart api_key wrong", apiKey, func(t *testing.T) request { return multipartBody(t, "cmc-key-000000000000") }, http.StatusUnauthorized},
		{"wrong key in a malformed body", apiKey, func(t *testing.T) request {
			return request{"application/x-www-form-urlencoded", []byte("api_key=nope&event_type=deliveries&event=%7B"), nil}
		}, http.StatusUnauthorized},
		{"no credentials on an unknown event type", apiKey, func(t *testing.T) request {
			return request{"application/json", []byte(`{"event_type":"opens","event":{"opens":[]}}`), nil}
		}, http.StatusUnauthorized},
		{"no credentials on an oversized body", apiKey, func(t *testing.T) request {
			return request{"application/json", bytes.Repeat([]byte("x"), 5<<20), nil}
		}, http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(cfg *ingress.Config) { cfg.Auth = tc.auth })
			req := tc.request(t)
			resp := b.post(t, req.contentType, req.body, req.header)
			if resp.status != tc.want {
				t.Fatalf("status = %d, want %d; body %s", resp.status, tc.want, resp.body)
			}

			stored := b.stored(t)
			if tc.want == http.StatusUnauthorized {
				resp.errorMessage(t)
				if resp.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if len(stored) != 0 {
					t.Errorf("stored %d messages after a failed authentication, want 0", len(stored))
				}
			} else if len(stored) != 1 {
				t.Errorf("stored %d messages, want 1", len(stored))
			}
			assertSecretsNotKept(t, b, testAPIKey, testBasicPassword)
		})
	}
}

func TestAPIKeyRedactedFromRejectedBodies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		auth        ingress.Auth
		contentType string
		body        string
		header      http.Header
	}{
		{"json, authentication off", ingress.Auth{}, "application/json",
			`{"api_key":"` + testAPIKey + `","event_type":"deliveries","event":{"deliveries":7}}`, nil},
		{"json, basic authentication", ingress.Auth{BasicUser: testBasicUser, BasicPassword: testBasicPassword}, "application/json",
			`{"event_type":"deliveries","api_key" : "` + testAPIKey + `","event":`, basicHeader(testBasicUser, testBasicPassword)},
		{"form, authentication off", ingress.Auth{}, "application/x-www-form-urlencoded",
			"event_type=deliveries&api_key=" + url.QueryEscape(testAPIKey) + "&event=%7B%22deliveries%22%3A", nil},
		{"form, unknown event type", ingress.Auth{APIKey: testAPIKey}, "application/x-www-form-urlencoded",
			"event_type=opens&api_key=" + url.QueryEscape(testAPIKey) + "&event=%7B%7D", nil},
		{"multipart, authentication off", ingress.Auth{}, "multipart/form-data; boundary=XyZ",
			"--XyZ\r\nContent-Disposition: form-data; name=\"api_key\"\r\n\r\n" + testAPIKey +
				"\r\n--XyZ\r\nContent-Disposition: form-data; name=\"event_type\"\r\n\r\ndeliveries\r\n--XyZ\r\n" +
				"Content-Disposition: form-data; name=\"event\"\r\n\r\n[\r\n--XyZ--\r\n", nil},
		{"unsupported content type", ingress.Auth{BasicUser: testBasicUser, BasicPassword: testBasicPassword}, "text/plain",
			"api_key=" + testAPIKey, basicHeader(testBasicUser, testBasicPassword)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(cfg *ingress.Config) { cfg.Auth = tc.auth })
			resp := b.post(t, tc.contentType, []byte(tc.body), tc.header)
			if resp.status != http.StatusBadRequest && resp.status != http.StatusUnsupportedMediaType {
				t.Fatalf("status = %d, want 400 or 415; body %s", resp.status, resp.body)
			}
			rejected := b.storedOn(t, "mail.rejected")
			if len(rejected) != 1 {
				t.Fatalf("%d messages on mail.rejected, want 1", len(rejected))
			}
			if !bytes.Contains(rejected[0].Data, []byte("redacted")) {
				t.Errorf("rejected body does not mark the removed key: %s", rejected[0].Data)
			}
			assertSecretsNotKept(t, b, testAPIKey)
		})
	}
}

func TestLogHasNoAddressAtInfo(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, name := range exampleNames(t) {
		b.post(t, "application/json", readExample(t, name), nil).result(t)
	}
	b.post(t, "application/json", []byte(`{"event_type":"deliveries","event":{"deliveries":[{"to":"broken@example.jp"}]}}`), nil).result(t)

	lines := strings.Split(strings.TrimSpace(b.logs.String()), "\n")
	handled := 0
	for _, line := range lines {
		if strings.Contains(line, `msg="webhook handled"`) {
			handled++
		}
		if strings.Contains(line, "level=DEBUG") {
			continue
		}
		if strings.Contains(line, "@") {
			t.Errorf("log line above Debug contains an address: %s", line)
		}
	}
	if handled != 6 {
		t.Errorf("%d webhook handled lines, want one per webhook (6)", handled)
	}
}
