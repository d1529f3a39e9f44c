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
	if err := tuneRuntime(slog.New(slog.DiscardHandler), false); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("GC percent = %d, want 250", got)
	}

	t.Setenv("MAILBRIDGE_GC_PERCENT", "0")
	if err := tuneRuntime(slog.New(slog.DiscardHandler), false); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent = %d after MAILBRIDGE_GC_PERCENT=0, want the runtime's 100 kept", got)
	}
}

func TestTuneRuntimeAutoFollowsMode(t *testing.T) {
	original := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(original) })
	t.Setenv("MAILBRIDGE_GC_PERCENT", "auto")

	for _, tc := range []struct {
		embedded bool
		want     int
	}{
		{embedded: false, want: gcPercentExternal},
		{embedded: true, want: gcPercentEmbedded},
	} {
		debug.SetGCPercent(123)
		if err := tuneRuntime(slog.New(slog.DiscardHandler), tc.embedded); err != nil {
			t.Fatal(err)
		}
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("embedded %v: GC percent = %d, want %d", tc.embedded, got, tc.want)
		}
	}
}

func TestGCPercentRejectsInvalid(t *testing.T) {
	t.Parallel()
	for _, value := range []string{"-1", "fast", "4OO"} {
		if _, err := gcPercent(value, false, false); err == nil {
			t.Errorf("gcPercent(%q) = nil error, want one naming MAILBRIDGE_GC_PERCENT", value)
		}
	}
}

func TestTuneRuntimeAutoKeepsGOGC(t *testing.T) {
	original := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(original) })
	t.Setenv("MAILBRIDGE_GC_PERCENT", "auto")
	t.Setenv("GOGC", "50")

	debug.SetGCPercent(50) // as the runtime does at start with GOGC=50
	if err := tuneRuntime(slog.New(slog.DiscardHandler), false); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(100); got != 50 {
		t.Errorf("GC percent = %d with GOGC=50 and auto, want GOGC's 50 kept", got)
	}
}
