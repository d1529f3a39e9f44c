package ingress_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mailbridge/mailbridge/pkg/ingress"
)

func TestUnauthorizedBodyKeyUnreadable(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *ingress.Config) { cfg.Auth = ingress.Auth{APIKey: testAPIKey} })
	// The right key, but the body breaks off inside the event list.
	body := `{"event_type":"deliveries","api_key":"` + testAPIKey + `","event":{"deliveries":[{"to":`

	resp := b.post(t, "application/json", []byte(body), nil)

	if resp.status != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401; body %s", resp.status, resp.body)
	}
	message := resp.errorMessage(t)
	for _, want := range []string{"the body could not be read (", "so its api_key field was not found", "send the key as Authorization: Bearer"} {
		if !strings.Contains(message, want) {
			t.Errorf("error = %q, want it to contain %q", message, want)
		}
	}
	if strings.Contains(message, testAPIKey) {
		t.Errorf("error = %q contains the API key", message)
	}
	if stored := b.stored(t); len(stored) != 0 {
		t.Errorf("stored %d messages before authentication, want 0", len(stored))
	}
}

func TestUnauthorizedNamesConfiguredMethods(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		auth    ingress.Auth
		want    []string
		notWant []string
	}{
		{"basic only", ingress.Auth{BasicUser: testBasicUser, BasicPassword: testBasicPassword},
			[]string{"Basic credentials"}, []string{"Bearer", "api_key"}},
		{"api key only", ingress.Auth{APIKey: testAPIKey},
			[]string{"Authorization: Bearer", "api_key"}, []string{"Basic"}},
		{"both", ingress.Auth{BasicUser: testBasicUser, BasicPassword: testBasicPassword, APIKey: testAPIKey},
			[]string{"Basic credentials", "Authorization: Bearer", "api_key"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(cfg *ingress.Config) { cfg.Auth = tc.auth })

			resp := b.post(t, "application/json", readExample(t, "deliveries-queued.json"), nil)

			if resp.status != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", resp.status)
			}
			message := resp.errorMessage(t)
			for _, want := range tc.want {
				if !strings.Contains(message, want) {
					t.Errorf("error = %q, want it to contain %q", message, want)
				}
			}
			for _, notWant := range tc.notWant {
				if strings.Contains(message, notWant) {
					t.Errorf("error = %q, want no mention of %q", message, notWant)
				}
			}
		})
	}
}

func TestJSONBodySentAsForm(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)

	resp := b.post(t, "application/x-www-form-urlencoded", readExample(t, "deliveries-queued.json"), nil)

	if resp.status != http.StatusBadRequest {
		t.Fatalf("status = %d, want 400; body %s", resp.status, resp.body)
	}
	want := "read as a form because Content-Type is application/x-www-form-urlencoded: send Content-Type: application/json"
	if message := resp.errorMessage(t); !strings.Contains(message, want) {
		t.Errorf("error = %q, want it to contain %q", message, want)
	}
}

func TestUnsupportedContentTypeListsAccepted(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)

	resp := b.post(t, "text/plain", readExample(t, "deliveries-queued.json"), nil)

	if resp.status != http.StatusUnsupportedMediaType {
		t.Fatalf("status = %d, want 415; body %s", resp.status, resp.body)
	}
	message := resp.errorMessage(t)
	for _, want := range []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"} {
		if !strings.Contains(message, want) {
			t.Errorf("error = %q, want it to list %s", message, want)
		}
	}
}

func TestRejectionLogsReason(t *testing.T) {
	t.Parallel()
	b := setup(t, func(cfg *ingress.Config) { cfg.Auth = ingress.Auth{APIKey: testAPIKey} })
	bearer := http.Header{"Authorization": {"Bearer " + testAPIKey}}

	b.post(t, "application/json", []byte(`{"event_type":"deliveries"`), bearer)
	b.post(t, "application/json", readExample(t, "deliveries-queued.json"), nil)
	// The second record has no recipient, so only it is rejected.
	batch := `{"event_type":"deliveries","server_composition":"pro","event":{"deliveries":[` +
		`{"created":"2023-01-25 14:06:06","to":"a@example.jp","status":"queued","messageId":"<1@example.com>"},` +
		`{"created":"2023-01-25 14:06:06","status":"queued","messageId":"<2@example.com>"}]}}`
	resp := b.post(t, "application/json", []byte(batch), bearer)
	if resp.status != http.StatusOK {
		t.Fatalf("batch with one bad record: status %d, want 200; body %s", resp.status, resp.body)
	}

	logs := b.logs.String()
	for _, want := range []string{
		`status=400`, `error="malformed payload: `,
		`status=401`, `error="authentication failed: `,
		`msg="webhook entry rejected"`, `entry_index=1`, `missing recipient`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log has no %q", want)
		}
	}
	if strings.Contains(logs, `status=200`) && strings.Contains(logs, `error=""`) {
		t.Error(`log has error="" on a line without a rejection`)
	}
	for _, secret := range []string{testAPIKey, "a@example.jp"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}

func TestRepeatedFieldHint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	body := `{"event_type":"deliveries","event":{"deliveries":[]},"event":{"deliveries":[]}}`

	message := b.post(t, "application/json", []byte(body), nil).errorMessage(t)

	if !strings.Contains(message, "send each field once") {
		t.Errorf("error %q does not say to send each field once", message)
	}
	if strings.Contains(message, "send the whole webhook body") {
		t.Errorf("error %q gives the hint for a cut-off body", message)
	}
}
