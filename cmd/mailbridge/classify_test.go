package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

func TestClassifyCommandWritesOneVerdictPerLine(t *testing.T) {
	input := strings.Join([]string{
		"550 5.1.1 <user@example.jp>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)",
		"550 5.7.1 Service unavailable, client host blocked using a block list",
		"452 4.2.2 Mailbox full",
	}, "\n") + "\n"
	var stdout, stderr bytes.Buffer

	code := run([]string{"classify"}, strings.NewReader(input), &stdout, &stderr)

	if code != exitOK {
		t.Fatalf("exit code = %d, want %d; stderr: %s", code, exitOK, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("output lines = %d, want 3:\n%s", len(lines), stdout.String())
	}
	want := []struct {
		reason   string
		hard     bool
		smtpCode string
		enhanced string
	}{
		{"userunknown", true, "550", "5.1.1"},
		{"blocked", false, "550", "5.7.1"},
		{"mailboxfull", false, "452", "4.2.2"},
	}
	for i, line := range lines {
		var got struct {
			Reason         string `json:"reason"`
			Hard           bool   `json:"hard"`
			SMTPCode       string `json:"smtp_code"`
			EnhancedStatus string `json:"enhanced_status"`
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", i+1, err, line)
		}
		if got.Reason != want[i].reason {
			t.Errorf("line %d reason = %q, want %q", i+1, got.Reason, want[i].reason)
		}
		if got.Hard != want[i].hard {
			t.Errorf("line %d hard = %v, want %v", i+1, got.Hard, want[i].hard)
		}
		if got.SMTPCode != want[i].smtpCode {
			t.Errorf("line %d smtp_code = %q, want %q", i+1, got.SMTPCode, want[i].smtpCode)
		}
		if got.EnhancedStatus != want[i].enhanced {
			t.Errorf("line %d enhanced_status = %q, want %q", i+1, got.EnhancedStatus, want[i].enhanced)
		}
	}
}

func TestClassifyCommandUsesBounceCode(t *testing.T) {
	var stdout, stderr bytes.Buffer

	code := run([]string{"classify", "--bounce-code", "1"}, strings.NewReader("host unknown\n"), &stdout, &stderr)

	if code != exitOK {
		t.Fatalf("exit code = %d; stderr: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"reason":"hostunknown"`) {
		t.Errorf("output = %s, want reason hostunknown", stdout.String())
	}
}

func TestClassifyCommandRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"classify", "--bounce-code", "two"},
		{"classify", "--bounce-code", "12"},
		{"classify", "--bounce-code", "0"},
		{"classify", "--status", "bounced"},
		{"classify", "extra"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(args, strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage {
			t.Errorf("%q: exit code = %d, want %d", args, code, exitUsage)
		}
		if stderr.Len() == 0 {
			t.Errorf("%q: stderr is empty, want an error message", args)
		}
	}
}

func TestClassifyBounceCodeOutOfRange(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"classify", "--bounce-code", "12"}, strings.NewReader("host unknown\n"), &stdout, &stderr)

	if code != exitUsage {
		t.Errorf("exit code = %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "use 1 to 11 or 99") {
		t.Errorf("stderr = %q, want the valid codes", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing classified", stdout.String())
	}
}

func TestBuilderClassifiesFailures(t *testing.T) {
	builder, err := newBuilder(serveConfig{IngressConfig: app.IngressConfig{CMCTimezone: "Asia/Tokyo"}, StreamConfig: StreamConfig{SubjectPrefix: "mail"}})
	if err != nil {
		t.Fatalf("newBuilder: %v", err)
	}
	cases := []struct {
		file           string
		wantClassified bool
	}{
		{"deliveries-failed.json", true},
		{"bounces-user-unknown.json", true},
		{"bounces-host-unknown.json", true},
		{"deliveries-succeeded.json", false},
		{"deliveries-queued.json", false},
	}
	for _, tc := range cases {
		body, err := os.ReadFile("../../testdata/cmc/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		batch, err := cmc.Decode("application/json", body, cmc.Limits{})
		if err != nil {
			t.Fatalf("%s: decode: %v", tc.file, err)
		}
		ev, _, err := builder.Build(batch.EventType, batch.ServerComposition, batch.Entries[0])
		if err != nil {
			t.Fatalf("%s: build: %v", tc.file, err)
		}
		var data mailevent.Message
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatalf("%s: data: %v", tc.file, err)
		}
		if (data.Classification != nil) != tc.wantClassified {
			t.Errorf("%s: classification = %+v, want present: %v", tc.file, data.Classification, tc.wantClassified)
		}
		if tc.file == "bounces-user-unknown.json" && data.Classification != nil {
			if data.Classification.Reason != "userunknown" || !data.Classification.Hard {
				t.Errorf("%s: classification = %+v, want userunknown hard", tc.file, *data.Classification)
			}
			if data.SMTPCode != "550" || data.EnhancedStatus != "5.1.1" {
				t.Errorf("%s: codes = %q %q, want 550 5.1.1", tc.file, data.SMTPCode, data.EnhancedStatus)
			}
		}
	}
}

func TestClassifyCommandLongLineKeepsEarlierVerdicts(t *testing.T) {
	input := "550 5.1.1 User unknown\n" + strings.Repeat("x", 2<<20) + "\n"
	var stdout, stderr bytes.Buffer

	code := run([]string{"classify"}, strings.NewReader(input), &stdout, &stderr)

	if code != exitError {
		t.Errorf("exit code = %d, want %d", code, exitError)
	}
	if !strings.Contains(stdout.String(), `"reason":"userunknown"`) {
		t.Errorf("stdout = %q, want the verdict of line 1", stdout.String())
	}
	if !strings.Contains(stderr.String(), "line 2") {
		t.Errorf("stderr = %q, want the number of the long line", stderr.String())
	}
}
