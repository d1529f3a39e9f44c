package main

import (
	"log/slog"
	"runtime/debug"
)

// runtimeConfig tunes the Go runtime of serve.
type runtimeConfig struct {
	GCPercent int `envconfig:"GC_PERCENT" default:"400" desc:"Go garbage collector target percentage (as GOGC); 0 leaves the runtime's own setting, which follows GOGC"`
}

func init() {
	helpSections = append(helpSections, helpSection{title: "Go runtime", config: &runtimeConfig{}})
}

// tuneRuntime applies MAILBRIDGE_GC_PERCENT. The ingress allocates per
// request and keeps little alive, so the collector's default of 100 runs
// it often for a small heap. 400 cut the CPU time per event by about a
// sixth in `mailbridge bench` with 100-event batches, for a peak RSS of
// about 50 MiB instead of 30 MiB (bench/steps.sh, 2-core machine).
func tuneRuntime(logger *slog.Logger) error {
	var cfg runtimeConfig
	if err := loadConfig(&cfg); err != nil {
		return err
	}
	if cfg.GCPercent > 0 {
		previous := debug.SetGCPercent(cfg.GCPercent)
		logger.Debug("gc percent set", slog.Int("gc_percent", cfg.GCPercent), slog.Int("previous", previous))
	}
	return nil
}
