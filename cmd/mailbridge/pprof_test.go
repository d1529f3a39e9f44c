package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"regexp"
	"testing"
)

func TestPprofRejectsNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "10.1.2.3:6060", "example.jp:6060", "6060"} {
		t.Setenv("MAILBRIDGE_PPROF_ADDR", addr)
		if stop, err := startPprof(slog.New(slog.DiscardHandler)); err == nil {
			stop()
			t.Errorf("MAILBRIDGE_PPROF_ADDR=%s started a listener", addr)
		}
	}
}

func TestPprofServesProfiles(t *testing.T) {
	t.Setenv("MAILBRIDGE_PPROF_ADDR", "127.0.0.1:0")
	var logs bytes.Buffer
	stop, err := startPprof(slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("start pprof: %v", err)
	}
	defer stop()

	addr := regexp.MustCompile(`pprof_addr=(\S+)`).FindStringSubmatch(logs.String())
	if addr == nil {
		t.Fatalf("no pprof_addr in the log: %s", logs.String())
	}
	resp, err := http.Get("http://" + addr[1] + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatalf("get heap profile: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("heap profile status = %d, want 200", resp.StatusCode)
	}
}

func TestPprofOffByDefault(t *testing.T) {
	t.Setenv("MAILBRIDGE_PPROF_ADDR", "")
	var logs bytes.Buffer
	stop, err := startPprof(slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("start pprof: %v", err)
	}
	stop()
	if logs.Len() != 0 {
		t.Errorf("pprof logged without MAILBRIDGE_PPROF_ADDR: %s", logs.String())
	}
}
