package ingress_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/pkg/ingress"
)

func TestSummaryLineCountsWebhooks(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.handler.LogSummaries(ctx, 20*time.Millisecond)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	for _, name := range exampleNames(t) {
		b.post(t, "application/json", readExample(t, name), nil).result(t)
	}
	if resp := b.post(t, "application/json", []byte(`{"event_type":`), nil); resp.status != http.StatusBadRequest {
		t.Fatalf("broken body: status %d, want 400", resp.status)
	}

	// The six webhooks may be split over two lines: add up every summary.
	var requests, failed, accepted int
	waitFor(t, 5*time.Second, "summary lines counting 6 webhooks", func() bool {
		requests, failed, accepted = 0, 0, 0
		for _, line := range strings.Split(b.logs.String(), "\n") {
			if !strings.Contains(line, `msg="webhooks handled"`) {
				continue
			}
			if !strings.Contains(line, "level=INFO") {
				t.Fatalf("summary line is not at Info: %s", line)
			}
			requests += intField(t, line, "requests")
			failed += intField(t, line, "failed")
			accepted += intField(t, line, "accepted")
		}
		return requests >= 6
	})
	if requests != 6 || failed != 1 || accepted != 5 {
		t.Errorf("summaries count %d requests, %d failed, %d accepted; want 6, 1, 5\n%s", requests, failed, accepted, b.logs)
	}
}

func TestSummaryWrittenAtStop(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.handler.LogSummaries(ctx, time.Hour)
	}()
	b.post(t, "application/json", readExample(t, exampleNames(t)[0]), nil).result(t)
	cancel()
	<-done
	if !strings.Contains(b.logs.String(), `msg="webhooks handled" requests=1 `) {
		t.Errorf("no summary of the last webhook at stop:\n%s", b.logs)
	}
}

// intField returns the integer value of key=N in a text log line.
func intField(t *testing.T, line, key string) int {
	t.Helper()
	_, rest, ok := strings.Cut(line, " "+key+"=")
	if !ok {
		t.Fatalf("no %s in %s", key, line)
	}
	value, _, _ := strings.Cut(rest, " ")
	n := 0
	for _, c := range value {
		if c < '0' || c > '9' {
			t.Fatalf("%s=%s is not a count in %s", key, value, line)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestLogEveryWebhookAtInfo(t *testing.T) {
	t.Parallel()
	for _, every := range []bool{false, true} {
		b := setup(t, func(c *ingress.Config) { c.LogEveryWebhook = every })
		b.post(t, "application/json", readExample(t, exampleNames(t)[0]), nil).result(t)

		atInfo := strings.Contains(b.logs.String(), `level=INFO msg="webhook handled"`)
		atDebug := strings.Contains(b.logs.String(), `level=DEBUG msg="webhook handled"`)
		if atInfo != every || atDebug == every {
			t.Errorf("LogEveryWebhook %v: line at Info %v, at Debug %v\n%s", every, atInfo, atDebug, b.logs)
		}
	}
}

func TestFailureLinesLimited(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	b := setup(t, func(c *ingress.Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	const requests = 20
	for range requests {
		if status := b.get(t); status != http.StatusMethodNotAllowed {
			t.Fatalf("GET: status %d, want 405", status)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.handler.LogSummaries(ctx, time.Hour)

	// Every failure is either logged or counted as left out.
	logged, omitted := 0, 0
	for _, line := range strings.Split(logs.String(), "\n") {
		switch {
		case strings.Contains(line, `msg="webhook handled"`):
			logged++
			if strings.Contains(line, " omitted_lines=") {
				omitted += intField(t, line, "omitted_lines")
			}
		case strings.Contains(line, `msg="webhooks handled"`) && strings.Contains(line, " omitted_lines="):
			omitted += intField(t, line, "omitted_lines")
		}
	}
	if logged == 0 || logged >= requests {
		t.Errorf("%d lines for %d failed webhooks, want at least one and fewer than %d:\n%s", logged, requests, requests, logs)
	}
	if logged+omitted != requests {
		t.Errorf("%d lines logged and %d left out, want %d in all:\n%s", logged, omitted, requests, logs)
	}
}

func TestFailureLinesLimitedPerStatus(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	b := setup(t, func(c *ingress.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.Auth = ingress.Auth{APIKey: testAPIKey}
	})
	body := readExample(t, exampleNames(t)[0])
	for range 20 {
		if resp := b.post(t, "application/json", body, http.Header{"Authorization": {"Bearer wrong"}}); resp.status != http.StatusUnauthorized {
			t.Fatalf("wrong key: status %d, want 401", resp.status)
		}
	}
	resp := b.post(t, "application/json", []byte(`{"event_type":`), http.Header{"Authorization": {"Bearer " + testAPIKey}})
	if resp.status != http.StatusBadRequest {
		t.Fatalf("cut-off body: status %d, want 400", resp.status)
	}

	if !strings.Contains(logs.String(), "status=400") {
		t.Errorf("the 400 after a flood of 401s was not logged:\n%s", logs)
	}
}

func TestFailureLinesAllLoggedWithLogEveryWebhook(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	b := setup(t, func(c *ingress.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.LogEveryWebhook = true
	})
	const requests = 20
	for range requests {
		b.get(t)
	}

	if n := strings.Count(logs.String(), `msg="webhook handled"`); n != requests {
		t.Errorf("%d lines for %d failed webhooks, want one each:\n%s", n, requests, logs)
	}
}
