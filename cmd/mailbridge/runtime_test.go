package main

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

func TestTuneRuntimeSetsGCPercent(t *testing.T) {
	original := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(original) })

	t.Setenv("MAILBRIDGE_GC_PERCENT", "250")
	if err := tuneRuntime(slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("GC percent = %d, want 250", got)
	}

	t.Setenv("MAILBRIDGE_GC_PERCENT", "0")
	if err := tuneRuntime(slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent = %d after MAILBRIDGE_GC_PERCENT=0, want the runtime's 100 kept", got)
	}
}
