package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// runCLI runs mailbridge with args and returns its exit code, standard
// output and standard error.
func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestSuppressionsAddFlagsAfterAddress(t *testing.T) {
	srv := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	running, err := startSuppressor(ctx, srv.JS, testSuppressorSettings(), testServeConfig(t).StreamConfig, mailevent.ModeBinary, discardLogger(), telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := running.wait(); err != nil {
			t.Errorf("suppressor: %v", err)
		}
	})
	t.Setenv("MAILBRIDGE_ADMIN_URL", "http://"+running.adminAddr.String())

	code, stdout, stderr := runCLI("suppressions", "add", "user@example.jp", "-reason", "complaint", "-note", "asked by phone")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `"reason": "complaint"`) {
		t.Errorf("reason after the address was not applied: %s", stdout)
	}
	if !strings.Contains(stdout, `"note": "asked by phone"`) {
		t.Errorf("note after the address was not applied: %s", stdout)
	}

	code, _, stderr = runCLI("suppressions", "get", "--", "-reason")
	if code != exitError || !strings.Contains(stderr, "-reason") {
		t.Errorf("operand after -- was not taken as an address: exit %d, %s", code, stderr)
	}
}

func TestSuppressionsSubcommandUsage(t *testing.T) {
	code, _, stderr := runCLI("suppressions", "list", "-h")
	if code != exitOK {
		t.Errorf("list -h exit %d, want %d", code, exitOK)
	}
	if !strings.Contains(stderr, "Usage: mailbridge suppressions list") {
		t.Errorf("list -h does not show the list usage:\n%s", stderr)
	}
	if !strings.Contains(stderr, "-cursor") {
		t.Errorf("list -h does not show the list flags:\n%s", stderr)
	}
	if strings.Contains(stderr, "-note") {
		t.Errorf("list -h shows the add flag -note:\n%s", stderr)
	}
}

func TestSuppressionsErrorsNameNextStep(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	webhookPort := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(webhookPort.Close)

	cases := []struct {
		name, url, want string
	}{
		{"not running", "http://" + closedAddr, "mailbridge suppressor"},
		{"no scheme", closedAddr, "http://127.0.0.1:8081"},
		{"webhook port", webhookPort.URL, "MAILBRIDGE_ADMIN_ADDR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("MAILBRIDGE_ADMIN_URL", c.url)
			code, _, stderr := runCLI("suppressions", "list")
			if code != exitError {
				t.Errorf("exit %d, want %d", code, exitError)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("error does not mention %q: %s", c.want, stderr)
			}
		})
	}
}

func TestSuppressionsGetEmptyAddress(t *testing.T) {
	t.Setenv("MAILBRIDGE_ADMIN_URL", "http://127.0.0.1:1")
	code, _, stderr := runCLI("suppressions", "get", " ")
	if code != exitUsage {
		t.Errorf("get with an empty address exited %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr, "the address is empty") {
		t.Errorf("error %q does not say the address is empty", stderr)
	}
}
