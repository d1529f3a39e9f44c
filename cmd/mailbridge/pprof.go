package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// debugConfig is the opt-in profiling listener of serve.
type debugConfig struct {
	PprofAddr string `envconfig:"PPROF_ADDR" desc:"loopback host:port of a Go pprof listener (/debug/pprof/) for profiling under load, such as 127.0.0.1:6060; empty (the default) starts none"`
}

func init() {
	helpSections = append(helpSections, helpSection{title: "Profiling", config: &debugConfig{}})
}

// startPprof starts the pprof listener when MAILBRIDGE_PPROF_ADDR is set.
// It accepts loopback addresses only, because the profiles expose the
// process's memory contents and cost CPU while they run. The returned
// function stops the listener.
func startPprof(logger *slog.Logger) (stop func(), err error) {
	var cfg debugConfig
	if err := loadConfig(&cfg); err != nil {
		return nil, err
	}
	if cfg.PprofAddr == "" {
		return func() {}, nil
	}
	host, _, err := net.SplitHostPort(cfg.PprofAddr)
	if err != nil {
		return nil, fmt.Errorf("MAILBRIDGE_PPROF_ADDR %q is invalid: use host:port, such as 127.0.0.1:6060", cfg.PprofAddr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("MAILBRIDGE_PPROF_ADDR %q is not a loopback address: use 127.0.0.1 or [::1]", cfg.PprofAddr)
	}
	listener, err := net.Listen("tcp", cfg.PprofAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on MAILBRIDGE_PPROF_ADDR %s: %w", cfg.PprofAddr, err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("pprof listener stopped", slog.Any("error", err))
		}
	}()
	logger.Warn("pprof listener started: profiling endpoints are open on loopback", slog.String("pprof_addr", listener.Addr().String()))

	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
