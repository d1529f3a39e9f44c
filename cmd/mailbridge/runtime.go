package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// runtimeConfig tunes the Go runtime of serve.
type runtimeConfig struct {
	GCPercent string `envconfig:"GC_PERCENT" default:"auto" desc:"Go garbage collector target percentage of serve (as GOGC): auto is 400 with MAILBRIDGE_NATS_URL set and 100 with the embedded NATS server, unless GOGC is set; 0 leaves the runtime's own setting"`
}

func init() {
	helpSections = append(helpSections, helpSection{title: "Go runtime", config: &runtimeConfig{}})
}

// Garbage collector targets of MAILBRIDGE_GC_PERCENT=auto.
//
// The ingress alone allocates per request and keeps little alive, so the
// collector's default of 100 runs it often for a small heap. 400 cut the
// CPU time per event by about a sixth in `mailbridge bench` with 100-event
// batches, for a peak RSS of about 50 MiB instead of 30 MiB (2-core
// machine). With the embedded NATS server, the heap also contains
// JetStream's caches and the message ids of the duplicate window. At tens
// of thousands of events a second these reach hundreds of MiB, and 400
// would let the process grow to five times that.
const (
	gcPercentExternal = 400
	gcPercentEmbedded = 100
)

// tuneRuntime applies MAILBRIDGE_GC_PERCENT. embedded is true when serve
// runs the NATS server in its own process.
func tuneRuntime(logger *slog.Logger, embedded bool) error {
	var cfg runtimeConfig
	if err := loadConfig(&cfg); err != nil {
		return err
	}
	_, gogcSet := os.LookupEnv("GOGC")
	percent, err := gcPercent(cfg.GCPercent, embedded, gogcSet)
	if err != nil {
		return err
	}
	if percent > 0 {
		previous := debug.SetGCPercent(percent)
		logger.Debug("gc percent set", slog.Int("gc_percent", percent), slog.Int("previous", previous))
	}
	return nil
}

// gcPercent parses a MAILBRIDGE_GC_PERCENT value. It returns zero to
// leave the runtime's setting, which auto does when GOGC is set.
func gcPercent(value string, embedded, gogcSet bool) (int, error) {
	value = strings.TrimSpace(value)
	switch {
	case value != "" && !strings.EqualFold(value, "auto"):
		percent, err := strconv.Atoi(value)
		if err != nil || percent < 0 {
			return 0, fmt.Errorf("MAILBRIDGE_GC_PERCENT %q is invalid: use auto, 0 or a positive percentage such as 200", value)
		}
		return percent, nil
	case gogcSet:
		return 0, nil
	case embedded:
		return gcPercentEmbedded, nil
	default:
		return gcPercentExternal, nil
	}
}
