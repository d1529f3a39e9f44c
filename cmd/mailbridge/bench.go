package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/loadgen"
)

// benchConfig is what bench reads from the environment: where the bridge
// and NATS are, and which stream and subjects to count.
type benchConfig struct {
	HTTPAddr string `envconfig:"HTTP_ADDR" default:":8080" desc:"listen address of the webhook ingress; bench's default --url"`
	NATSConfig
	StreamConfig
}

// localWebhookURL returns the webhook URL of a bridge on this machine that
// listens on addr, as MAILBRIDGE_HTTP_ADDR gives it. Without a fixed port
// it is the default port 8080.
func localWebhookURL(addr string) string {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" || port == "0" {
		addr = "127.0.0.1:8080"
	}
	return localURL(addr) + ingress.WebhookPath
}

// checkReachable connects to the host and port of target, so that a run
// against no bridge stops instead of counting refused connections. It
// tries for up to wait, so that a bridge started just before has time to
// listen.
func checkReachable(ctx context.Context, target string, wait time.Duration) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	deadline := time.Now().Add(wait)
	dialer := net.Dialer{Timeout: 2 * time.Second}
	for {
		conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
		if err == nil {
			return conn.Close()
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

const benchUsage = `Usage: mailbridge bench [flags]

Posts generated CMC webhook batches to a running mailbridge and reports
events stored per second, requests per second, latency percentiles,
errors by HTTP status and the bridge's peak memory. With a NATS URL it
also checks that the stream gained exactly the events the bridge accepted.
The run ends after --count requests or --duration, whichever comes first.

Examples:
  mailbridge bench --duration 20s --concurrency 8 --batch 100
  mailbridge bench --count 200000 --batch 1 --concurrency 32 --pid 4242
  mailbridge bench --duration 20s --batch 1 --rate 10000 --encoding form
  mailbridge bench --nats-bench-flags bench.ceiling   # for bench/compare.sh

Flags:
`

func runBench(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	var cfg benchConfig
	if err := loadConfig(&cfg); err != nil {
		return err
	}

	flags := flag.NewFlagSet("bench", flag.ContinueOnError)
	flags.SetOutput(stderr)
	target := flags.String("url", localWebhookURL(cfg.HTTPAddr), "webhook URL of the bridge (default from MAILBRIDGE_HTTP_ADDR)")
	allowRemote := flags.Bool("allow-remote", false, "allow a --url or --nats-url host that is not loopback")
	concurrency := flags.Int("concurrency", 8, "requests in flight at once, one keep-alive connection each")
	batch := flags.Int("batch", 100, "records per request")
	encodingName := flags.String("encoding", "json", "body encoding: json or form")
	count := flags.Int("count", 0, "requests to send; 0 sends until --duration ends")
	duration := flags.Duration("duration", 0, "how long to send; with --count, the run ends at whichever comes first (default 10m when only --count is set)")
	rate := flags.Float64("rate", 0, "requests started per second; 0 sends as fast as --concurrency allows")
	timeout := flags.Duration("timeout", 30*time.Second, "timeout of one request")
	metricsURL := flags.String("metrics-url", "", "Prometheus endpoint of the bridge to sample process_resident_memory_bytes from (default: /metrics on the --url host; \"none\" disables)")
	pid := flags.Int("pid", 0, "process id of the bridge on this machine; its VmHWM replaces the /metrics sampling, and its CPU time per event is reported")
	natsURL := flags.String("nats-url", cfg.NATSConfig.clientURL(), "NATS URL used to count the stream's events before and after; \"none\" skips the check")
	streamName := flags.String("stream", cfg.StreamConfig.StreamName, "stream to count")
	prefix := flags.String("subject-prefix", cfg.StreamConfig.SubjectPrefix, "subject prefix of the events to count")
	runID := flags.String("run-id", "", "text in every message id (default: random)")
	shapeSubject := flags.String("nats-bench-flags", "", "instead of a run, print one per line the nats bench js pub flags that publish to this subject, in nats bench's stream benchstream, messages shaped like the stream's: as many subjects, the same headers, the same average size")
	httpClient := flags.String("http-client", "lean", "client for http:// URLs: lean, a minimal HTTP/1.1 client that leaves more CPU to the bridge, or net/http to compare; https:// URLs always use net/http")
	flags.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("%w: bench takes no arguments, got %q", errUsage, flags.Args())
	}

	if *shapeSubject != "" {
		return printNATSBenchFlags(ctx, cfg, *natsURL, *allowRemote, *streamName, *prefix, *shapeSubject, stdout)
	}

	encoding, err := loadgen.ParseEncoding(*encodingName)
	if err != nil {
		return fmt.Errorf("%w: --encoding: %v", errUsage, err)
	}
	if *httpClient != "lean" && *httpClient != "net/http" {
		return fmt.Errorf("%w: --http-client %q is invalid: use lean or net/http", errUsage, *httpClient)
	}
	if *count <= 0 && *duration <= 0 {
		return fmt.Errorf("%w: set --count, --duration or both, so that the run ends", errUsage)
	}
	if !*allowRemote {
		if err := loadgen.CheckLoopback(*target); err != nil {
			return fmt.Errorf("%w: --url: %v (pass --allow-remote to send load elsewhere)", errUsage, err)
		}
	}
	if err := checkReachable(ctx, *target, 5*time.Second); err != nil {
		return fmt.Errorf("--url %s: no bridge reachable after 5s: %w (start mailbridge serve, or point --url or MAILBRIDGE_HTTP_ADDR at it)", *target, err)
	}

	run := loadgen.Config{
		URL:            *target,
		AllowRemote:    *allowRemote,
		Concurrency:    *concurrency,
		BatchSize:      *batch,
		Encoding:       encoding,
		Count:          *count,
		Duration:       *duration,
		Rate:           *rate,
		RequestTimeout: *timeout,
		RunID:          *runID,
	}
	if *httpClient == "net/http" {
		run.Client = loadgen.NewHTTPClient(*concurrency, *timeout)
	}

	// Memory: the kernel's peak for a local pid, else /metrics samples.
	switch {
	case *pid > 0:
		run.Memory = loadgen.ProcStatus{PID: *pid}
		run.CPU = loadgen.ProcStatus{PID: *pid}
	case *metricsURL == "none":
	case *metricsURL != "":
		run.Memory = loadgen.MetricsRSS{URL: *metricsURL}
	default:
		u, err := url.Parse(*target)
		if err != nil {
			return fmt.Errorf("%w: --url: %v", errUsage, err)
		}
		run.Memory = loadgen.MetricsRSS{URL: u.Scheme + "://" + u.Host + "/metrics"}
	}

	// Stream check.
	if *natsURL != "none" {
		if !*allowRemote {
			if err := loadgen.CheckLoopback(*natsURL); err != nil {
				return fmt.Errorf("%w: --nats-url: %v (pass --allow-remote, or --nats-url none to skip the stream check)", errUsage, err)
			}
		}
		nc, js, err := connectBench(cfg, *natsURL)
		if err != nil {
			return fmt.Errorf("%w (use --nats-url none to skip the stream check)", err)
		}
		defer nc.Close()
		run.Counter = loadgen.StreamCounter{JS: js, Stream: *streamName, Filters: loadgen.EventFilters(*prefix)}
	}

	report, err := loadgen.Run(ctx, run)
	if report != nil {
		if werr := report.Write(stdout); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	if n := report.ErrorCount(); n > 0 {
		return fmt.Errorf("%d of %d requests failed", n, report.Requests)
	}
	if report.StreamChecked && !report.StreamMatches() {
		return fmt.Errorf("stream %s gained %d events but the bridge accepted %d",
			*streamName, int64(report.StreamAfter)-int64(report.StreamBefore), report.Accepted)
	}
	return nil
}

// connectBench connects to NATS at url. It tries to reconnect 30 times,
// about a second apart, so that the stream check outlasts a restart of the
// bridge with its embedded server.
func connectBench(cfg benchConfig, url string) (*nats.Conn, jetstream.JetStream, error) {
	cfg.NATSConfig.URL = url
	opts, err := cfg.NATSConfig.options("mailbridge bench", slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, nil, err
	}
	nc, err := nats.Connect(splitURLs(url), append(opts, nats.MaxReconnects(30))...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// printNATSBenchFlags prints, one per line, the nats bench flags that
// publish messages shaped like the stream's.
func printNATSBenchFlags(ctx context.Context, cfg benchConfig, natsURL string, allowRemote bool, streamName, prefix, subject string, stdout io.Writer) error {
	if natsURL == "none" {
		return fmt.Errorf("%w: --nats-bench-flags reads the stream, so --nats-url cannot be none", errUsage)
	}
	if !allowRemote {
		if err := loadgen.CheckLoopback(natsURL); err != nil {
			return fmt.Errorf("%w: --nats-url: %v (pass --allow-remote)", errUsage, err)
		}
	}

	nc, js, err := connectBench(cfg, natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	shape, err := loadgen.SampleShape(ctx, js, streamName, loadgen.EventFilters(prefix), 1000)
	if err != nil {
		return err
	}

	for _, arg := range shape.NATSBenchArgs(subject, "benchstream") {
		if _, err := fmt.Fprintln(stdout, arg); err != nil {
			return err
		}
	}
	return nil
}
