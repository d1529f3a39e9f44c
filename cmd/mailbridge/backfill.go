package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/backfill"
	"github.com/mailbridge/mailbridge/pkg/cmcapi"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// cmcAPIConfig is the connection to CMC's REST API that backfill uses.
type cmcAPIConfig struct {
	APIUser           string        `envconfig:"CMC_API_USER" desc:"CMC API user (api_user) for backfill"`
	APIKey            string        `envconfig:"CMC_API_KEY" desc:"CMC API key (api_key) for backfill; never logged"`
	APIURL            string        `envconfig:"CMC_API_URL" default:"https://api.smtps.jp" desc:"base URL of CMC's REST API"`
	APITimeout        time.Duration `envconfig:"CMC_API_TIMEOUT" default:"60s" desc:"timeout of one CMC API request"`
	ServerComposition string        `envconfig:"CMC_SERVER_COMPOSITION" desc:"CMC server composition to backfill, such as pro; --server-composition overrides it"`
}

func init() {
	helpSections = append(helpSections, helpSection{title: "backfill (CMC REST API)", config: &cmcAPIConfig{}})
}

const backfillUsage = `Usage: mailbridge backfill --date YYYY-MM-DD [--hour H] [flags]

Reads one day's deliveries and bounces (or one hour's) from CMC's REST
API, page by page, maps each record to the CloudEvent the webhook would
have produced, with the same id, and publishes only the events the stream
does not hold yet. Running it again publishes nothing new. CMC asks for
about one poll a day.

The date is read in MAILBRIDGE_CMC_TIMEZONE. Credentials come from
MAILBRIDGE_CMC_API_USER and MAILBRIDGE_CMC_API_KEY.

Examples:
  mailbridge backfill --date 2023-01-25 --dry-run
  mailbridge backfill --date 2023-01-25 --hour 14

Flags:
`

func runBackfill(ctx context.Context, args []string, _ io.Reader, _, stderr io.Writer) error {
	flags := flag.NewFlagSet("backfill", flag.ContinueOnError)
	flags.SetOutput(stderr)
	date := flags.String("date", "", "day to backfill, as YYYY-MM-DD (required)")
	hour := flags.Int("hour", -1, "backfill only this hour of the day, 0 to 23")
	composition := flags.String("server-composition", "", "CMC server composition (default: MAILBRIDGE_CMC_SERVER_COMPOSITION)")
	dryRun := flags.Bool("dry-run", false, "count what would be published, and publish nothing")
	flags.Usage = func() {
		fmt.Fprint(stderr, backfillUsage)
		flags.PrintDefaults()
	}
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("%w: backfill takes no arguments, got %q", errUsage, flags.Args())
	}
	if *date == "" {
		return fmt.Errorf("%w: --date is required, such as --date 2023-01-25", errUsage)
	}

	// The events must match the ingress's, so backfill builds them with
	// serve's configuration.
	var cfg serveConfig
	if err := loadConfig(&cfg); err != nil {
		return err
	}
	var apiCfg cmcAPIConfig
	if err := loadConfig(&apiCfg); err != nil {
		return err
	}
	if *composition != "" {
		apiCfg.ServerComposition = *composition
	}
	logger, err := newLogger(cfg.LogConfig, stderr)
	if err != nil {
		return err
	}
	builder, err := newBuilder(cfg)
	if err != nil {
		return err
	}
	mode, err := mailevent.ParseMode(cfg.CloudEventsMode)
	if err != nil {
		return fmt.Errorf("MAILBRIDGE_CLOUDEVENTS_MODE: %w", err)
	}

	// Check the period before the credentials and NATS, so that a typo in
	// --date is a usage error even where NATS cannot be reached.
	var hourPtr *int
	if *hour != -1 {
		hourPtr = hour
	}
	if _, err := backfill.PeriodStart(*date, hourPtr, builder.Location, time.Now()); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}

	api, err := cmcapi.New(cmcapi.Config{
		BaseURL: apiCfg.APIURL, APIUser: apiCfg.APIUser, APIKey: apiCfg.APIKey,
		ServerComposition: apiCfg.ServerComposition, HTTPClient: &http.Client{Timeout: apiCfg.APITimeout},
	})
	if err != nil {
		return fmt.Errorf("%w: set MAILBRIDGE_CMC_API_USER, MAILBRIDGE_CMC_API_KEY and MAILBRIDGE_CMC_SERVER_COMPOSITION (or --server-composition)", err)
	}

	nc, err := connectClient(cfg.NATSConfig, "mailbridge backfill", logger)
	if err != nil {
		return err
	}
	defer closeClient(nc)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}

	runCfg := backfill.Config{
		JS: js, Stream: cfg.StreamName, API: api, Builder: builder, Mode: mode,
		Date: *date, Hour: hourPtr, DryRun: *dryRun, Logger: logger,
	}
	summary, err := backfill.Run(ctx, runCfg)
	if errors.Is(err, backfill.ErrInvalidConfig) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err != nil {
		// The counts of a run that failed part way would read as a result.
		return err
	}
	fmt.Fprintln(stderr, "backfill:", summary)
	return nil
}
