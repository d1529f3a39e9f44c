package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/replay"
)

const tailUsage = `Usage: mailbridge tail [flags] [subject filter ...]

Follows the stream live and prints one line per event: time (in
MAILBRIDGE_CMC_TIMEZONE, Asia/Tokyo by default), type,
recipient, classification (reason/hard or reason/soft) and the reason text,
shortened. Messages that are not CloudEvents, such as rejected records, get
a line too. Stop it with Ctrl-C.

Examples:
  mailbridge tail
  mailbridge tail 'mail.bounces.>' mail.deliveries.failed
  mailbridge tail --since 2023-01-25T09:00:00+09:00 --json

Flags:
`

func runTail(ctx context.Context, args []string, _ io.Reader, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("tail", flag.ContinueOnError)
	flags.SetOutput(stderr)
	jsonLines := flags.Bool("json", false, "print each CloudEvent as JSON (structured content mode) instead of a readable line")
	since := flags.String("since", "", "start with the events stored at or after this time (RFC 3339 or a date) instead of the next one")
	flags.Usage = func() {
		fmt.Fprint(stderr, tailUsage)
		flags.PrintDefaults()
	}
	// Flags may also follow the subject filters, as in
	// "tail 'mail.bounces.>' --since 2023-01-25".
	subjects, err := parseInterspersed(flags, args)
	if err != nil {
		return err
	}

	var cfg readConfig
	if err := loadConfig(&cfg); err != nil {
		return err
	}
	logger, err := newLogger(cfg.LogConfig, stderr)
	if err != nil {
		return err
	}
	loc, err := loadLocation(cfg.CMCTimezone)
	if err != nil {
		return err
	}
	start, err := parseTime("since", *since, loc)
	if err != nil {
		return err
	}
	if len(subjects) == 0 {
		subjects = []string{cfg.SubjectPrefix + ".>"}
	}

	nc, err := connectClient(cfg.NATSConfig, "mailbridge tail", logger)
	if err != nil {
		return err
	}
	defer closeClient(nc)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	stored, err := streamSubjects(ctx, js, cfg.StreamName)
	if err != nil {
		return err
	}
	if err := checkFilters(subjects, cfg.StreamName, stored, cfg.SubjectPrefix); err != nil {
		return err
	}

	return replay.Tail(ctx, replay.TailConfig{
		JS: js, Stream: cfg.StreamName, Subjects: subjects, Since: start,
		JSON: *jsonLines, Prefix: cfg.SubjectPrefix, Location: loc,
	}, stdout, stderr)
}
