package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestFlagErrorPrintsOneMessage(t *testing.T) {
	t.Parallel()
	for _, command := range []string{"serve", "replay", "tail", "suppressor", "alerter"} {
		var stdout, stderr bytes.Buffer
		code := run([]string{command, "--no-such-flag"}, strings.NewReader(""), &stdout, &stderr)
		if code != exitUsage {
			t.Errorf("%s --no-such-flag exited %d, want %d", command, code, exitUsage)
		}
		want := "mailbridge " + command + ": flag provided but not defined: -no-such-flag\n" +
			"Run 'mailbridge " + command + " -h' for its usage and 'mailbridge help' for the environment variables.\n"
		if got := stderr.String(); got != want {
			t.Errorf("%s --no-such-flag printed %q, want only %q", command, got, want)
		}
	}
}

func TestCommandHelpFlagExitsZero(t *testing.T) {
	t.Parallel()
	for _, command := range []string{"serve", "replay", "tail", "backfill", "suppressor", "alerter", "classify"} {
		for _, flag := range []string{"-h", "--help"} {
			var stdout, stderr bytes.Buffer
			code := run([]string{command, flag}, strings.NewReader(""), &stdout, &stderr)
			if code != exitOK {
				t.Errorf("%s %s exited %d, want 0", command, flag, code)
			}
			usage := stderr.String()
			if !strings.HasPrefix(usage, "Usage: mailbridge "+command) {
				t.Errorf("%s %s printed %q, want the command's usage", command, flag, usage)
			}
			if strings.Count(usage, "Usage:") != 1 {
				t.Errorf("%s %s printed the usage %d times, want once", command, flag, strings.Count(usage, "Usage:"))
			}
		}
	}
}

func TestClientHintsAtRandomEmbeddedPort(t *testing.T) {
	for _, command := range []string{"replay", "tail"} {
		t.Run(command, func(t *testing.T) {
			t.Setenv("MAILBRIDGE_NATS_URL", "")
			t.Setenv("MAILBRIDGE_EMBEDDED_NATS_ADDR", "127.0.0.1:0")
			var stdout, stderr bytes.Buffer
			code := run([]string{command}, strings.NewReader(""), &stdout, &stderr)
			if code != exitError {
				t.Errorf("%s exited %d, want %d", command, code, exitError)
			}
			message := stderr.String()
			for _, want := range []string{"MAILBRIDGE_EMBEDDED_NATS_ADDR 127.0.0.1:0", "set MAILBRIDGE_NATS_URL", "client_addr"} {
				if !strings.Contains(message, want) {
					t.Errorf("%s error %q does not contain %q", command, message, want)
				}
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		_, err := connectClient(NATSConfig{EmbeddedAddr: "127.0.0.1:-1"}, "test", discardLogger())
		if err == nil || !strings.Contains(err.Error(), "set MAILBRIDGE_NATS_URL") {
			t.Errorf("connect with no embedded listener = %v, want the MAILBRIDGE_NATS_URL hint", err)
		}
	})
}

func TestHelpCommandShowsCommandUsage(t *testing.T) {
	t.Parallel()
	for _, command := range []string{"tail", "replay", "classify"} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"help", command}, strings.NewReader(""), &stdout, &stderr)
		if code != exitOK {
			t.Errorf("help %s exited %d, want 0", command, code)
		}
		if usage := stdout.String(); !strings.HasPrefix(usage, "Usage: mailbridge "+command) {
			t.Errorf("help %s printed %q on standard output, want the command's usage", command, usage)
		}
	}

	var stdout bytes.Buffer
	if code := run([]string{"help", "version"}, strings.NewReader(""), &stdout, &bytes.Buffer{}); code != exitOK {
		t.Errorf("help version exited %d, want 0", code)
	}
	if !strings.Contains(stdout.String(), "Commands:") {
		t.Errorf("help version printed %q, want the general help", stdout.String())
	}
}

func TestSuppressionsFlagErrorNamesSubcommand(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	code := run([]string{"suppressions", "list", "--bogus"}, strings.NewReader(""), &bytes.Buffer{}, &stderr)
	if code != exitUsage {
		t.Errorf("suppressions list --bogus exited %d, want %d", code, exitUsage)
	}
	if !strings.Contains(stderr.String(), "Run 'mailbridge suppressions list -h'") {
		t.Errorf("stderr = %q, want the hint to name suppressions list -h", stderr.String())
	}
}
