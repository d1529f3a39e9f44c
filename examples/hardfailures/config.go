package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// config is the example's configuration: environment variables with the
// prefix MAILBRIDGE_, overridden by flags.
type config struct {
	NATSURL       string        `envconfig:"NATS_URL" default:"nats://127.0.0.1:4222" desc:"NATS server URLs, comma-separated"`
	Stream        string        `envconfig:"STREAM_NAME" default:"MAIL" desc:"JetStream stream that stores the events"`
	SubjectPrefix string        `envconfig:"SUBJECT_PREFIX" default:"mail" desc:"first subject token(s) of every event"`
	Durable       string        `envconfig:"HARDFAILURES_DURABLE" default:"hardfailures" desc:"durable consumer name"`
	Output        string        `envconfig:"HARDFAILURES_OUTPUT" default:"hardfailures.csv" desc:"CSV file that rows are appended to"`
	Bucket        string        `envconfig:"HARDFAILURES_BUCKET" default:"hardfailures-written" desc:"KV bucket of the event ids already written"`
	Remember      time.Duration `envconfig:"HARDFAILURES_REMEMBER" default:"720h" desc:"how long the bucket keeps an event id; set it to at least the stream's max age"`
	Since         string        `envconfig:"HARDFAILURES_SINCE" desc:"RFC 3339 time to start from when the durable is new; empty starts at the beginning of the stream"`

	since time.Time
}

// parseConfig reads the environment, then the flags in args.
func parseConfig(args []string, stderr io.Writer) (config, error) {
	var cfg config
	if err := envconfig.Process("MAILBRIDGE", &cfg); err != nil {
		return cfg, fmt.Errorf("environment: %w", err)
	}

	fs := flag.NewFlagSet("hardfailures", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.NATSURL, "nats-url", cfg.NATSURL, "NATS server URLs, comma-separated (MAILBRIDGE_NATS_URL)")
	fs.StringVar(&cfg.Stream, "stream", cfg.Stream, "stream that stores the events (MAILBRIDGE_STREAM_NAME)")
	fs.StringVar(&cfg.SubjectPrefix, "prefix", cfg.SubjectPrefix, "first subject token(s) of every event (MAILBRIDGE_SUBJECT_PREFIX)")
	fs.StringVar(&cfg.Durable, "durable", cfg.Durable, "durable consumer name (MAILBRIDGE_HARDFAILURES_DURABLE)")
	fs.StringVar(&cfg.Output, "output", cfg.Output, "CSV file that rows are appended to (MAILBRIDGE_HARDFAILURES_OUTPUT)")
	fs.StringVar(&cfg.Bucket, "bucket", cfg.Bucket, "KV bucket of the event ids already written (MAILBRIDGE_HARDFAILURES_BUCKET)")
	fs.DurationVar(&cfg.Remember, "remember", cfg.Remember, "how long the bucket keeps an event id (MAILBRIDGE_HARDFAILURES_REMEMBER)")
	fs.StringVar(&cfg.Since, "since", cfg.Since, "RFC 3339 start time for a new durable, such as 2026-01-01T00:00:00Z (MAILBRIDGE_HARDFAILURES_SINCE)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: hardfailures [flags]

Appends every hard failure in mailbridge's stream to a CSV file.

Examples:
  hardfailures -output hard.csv
  hardfailures -nats-url nats://nats-1:4222 -since 2026-01-01T00:00:00Z

Flags (each also read from the environment variable in brackets):
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		// The flag package has printed the error and the usage.
		return cfg, errUsage
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}

	if cfg.Since != "" {
		since, err := time.Parse(time.RFC3339, cfg.Since)
		if err != nil {
			return cfg, fmt.Errorf("%w: -since %q is not an RFC 3339 time such as 2026-01-01T00:00:00Z", errUsage, cfg.Since)
		}
		cfg.since = since
	}
	if cfg.Output == "" {
		return cfg, fmt.Errorf("%w: -output is empty: name the CSV file", errUsage)
	}
	return cfg, nil
}
