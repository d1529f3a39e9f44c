package main

import (
	"io"
	"strings"
	"testing"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

func TestCheckListenAddr(t *testing.T) {
	t.Parallel()
	valid := []string{":8080", "127.0.0.1:8080", "[::1]:0", "localhost:8081"}
	for _, addr := range valid {
		if err := checkListenAddr("MAILBRIDGE_HTTP_ADDR", addr); err != nil {
			t.Errorf("checkListenAddr(%q): %v, want nil", addr, err)
		}
	}

	invalid := map[string][]string{
		"8080":            {"MAILBRIDGE_HTTP_ADDR 8080", "use :8080", "or 127.0.0.1:8080"},
		"localhost":       {`MAILBRIDGE_HTTP_ADDR "localhost" is invalid`, "use host:port"},
		"127.0.0.1:http8": {`invalid port "http8"`},
	}
	for addr, wants := range invalid {
		err := checkListenAddr("MAILBRIDGE_HTTP_ADDR", addr)
		if err == nil {
			t.Errorf("checkListenAddr(%q) = nil, want an error", addr)
			continue
		}
		for _, want := range wants {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("checkListenAddr(%q) = %q, want it to contain %q", addr, err, want)
			}
		}
	}
}

func TestServeBarePortAddr(t *testing.T) {
	t.Parallel()
	cfg := testServeConfig(t)
	cfg.HTTPAddr = "8080"

	err := serve(t.Context(), cfg, discardLogger(), nil)

	if err == nil || !strings.Contains(err.Error(), "use :8080") {
		t.Errorf("serve with MAILBRIDGE_HTTP_ADDR=8080: %v, want a hint to use :8080", err)
	}
}

func TestSuppressorBarePortAdminAddr(t *testing.T) {
	t.Parallel()
	settings := testSuppressorSettings()
	settings.AdminAddr = "8081"

	_, err := startSuppressor(t.Context(), nil, settings, testServeConfig(t).StreamConfig, mailevent.ModeBinary, discardLogger(), telemetry{})

	if err == nil || !strings.Contains(err.Error(), "MAILBRIDGE_ADMIN_ADDR 8081") || !strings.Contains(err.Error(), "use :8081") {
		t.Errorf("suppressor with MAILBRIDGE_ADMIN_ADDR=8081: %v, want a hint to use :8081", err)
	}
}

func TestLocalURL(t *testing.T) {
	cases := map[string]string{
		"127.0.0.1:8081": "http://127.0.0.1:8081",
		":8081":          "http://127.0.0.1:8081",
		"0.0.0.0:8081":   "http://127.0.0.1:8081",
		"[::1]:8081":     "http://[::1]:8081",
		"localhost:8081": "http://localhost:8081",
	}
	for addr, want := range cases {
		if got := localURL(addr); got != want {
			t.Errorf("localURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

func TestCheckHTTPURL(t *testing.T) {
	t.Parallel()
	for _, value := range []string{"", "https://hooks.example.com/services/T0/B0/secret", "http://127.0.0.1:9000/alerts"} {
		if err := checkHTTPURL("MAILBRIDGE_ALERT_WEBHOOK_URL", value); err != nil {
			t.Errorf("checkHTTPURL(%q): %v, want nil", value, err)
		}
	}

	invalid := map[string]string{
		"hooks.example.com/services/T0/B0/secret": "has no scheme",
		"ftp://hooks.example.com/secret":          `has the scheme "ftp"`,
		"https:///secret":                         "has no host",
		"http://[::1/secret":                      "is not a valid URL",
	}
	for value, want := range invalid {
		err := checkHTTPURL("MAILBRIDGE_ALERT_WEBHOOK_URL", value)
		if err == nil {
			t.Errorf("checkHTTPURL(%q) = nil, want an error", value)
			continue
		}
		if !strings.Contains(err.Error(), "MAILBRIDGE_ALERT_WEBHOOK_URL "+want) {
			t.Errorf("checkHTTPURL(%q) = %q, want it to contain %q", value, err, want)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("checkHTTPURL(%q) = %q, want the URL left out", value, err)
		}
	}
}

func TestAlerterRejectsURLWithoutScheme(t *testing.T) {
	// Unreachable NATS: the URL must be rejected before connecting.
	t.Setenv("MAILBRIDGE_NATS_URL", "nats://"+freeLoopbackAddr(t))
	for _, variable := range []string{"MAILBRIDGE_ALERT_SLACK_URL", "MAILBRIDGE_ALERT_WEBHOOK_URL"} {
		t.Run(variable, func(t *testing.T) {
			t.Setenv(variable, "hooks.example.com/services/T0/B0/secret")
			var stderr strings.Builder

			code := run([]string{"alerter"}, nil, io.Discard, &stderr)

			if code != exitError {
				t.Errorf("exit code %d, want %d", code, exitError)
			}
			if want := variable + " has no scheme"; !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), want)
			}
		})
	}
}
