package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/cmcapi"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/replay"
)

// ErrInvalidConfig is wrapped by Run's error for a configuration that
// cannot be used.
var ErrInvalidConfig = errors.New("invalid backfill configuration")

// Config configures Run.
type Config struct {
	// JS reads and writes the stream. Required.
	JS jetstream.JetStream

	// Stream is the stream name. Required.
	Stream string

	// API reads CMC's records. Required.
	API *cmcapi.Client

	// Builder maps records to events, as the ingress does. Its Location is
	// the time zone of the dates. Required.
	Builder *mailevent.Builder

	// Mode is the CloudEvents content mode on NATS. Defaults to binary.
	Mode mailevent.Mode

	// Date is the day to backfill, in CMC's yyyy-mm-dd form. Required.
	Date string

	// Hour, when not nil, narrows the backfill to one hour (0 to 23) of
	// Date.
	Hour *int

	// FieldNames renames the API's record fields to the webhook's.
	// Defaults to APIFieldNames.
	FieldNames map[string]string

	// DryRun counts what would be published without publishing.
	DryRun bool

	// ClockSkew is how long before the day's start the stream is searched
	// for the events it holds, to allow for CMC's clock running ahead of
	// the bridge's. Defaults to 5 minutes.
	ClockSkew time.Duration

	// Logger receives a Warn line per record that cannot be mapped.
	// Defaults to discarding.
	Logger *slog.Logger

	// Now returns the current time, to reject a future date. Defaults to
	// time.Now.
	Now func() time.Time
}

// Summary is the outcome of a Run.
type Summary struct {
	// Deliveries and Bounces count the records CMC returned.
	Deliveries int
	Bounces    int
	// Unmappable counts the records that could not become an event.
	Unmappable int
	// AlreadyStored counts the events the stream held before the run.
	AlreadyStored int
	// Published counts the events published, or that a dry run would
	// publish.
	Published int
	// Duplicates counts the published events that JetStream dropped
	// because an event with the same id arrived during the run.
	Duplicates int
	DryRun     bool
}

// String returns the summary as one line for the operator.
func (s Summary) String() string {
	verb := "published"
	if s.DryRun {
		verb = "dry run: would publish"
	}
	return fmt.Sprintf("%s %d events (CMC returned %d deliveries and %d bounces: %d already in the stream, %d unmappable, %d dropped as duplicates)",
		verb, s.Published, s.Deliveries, s.Bounces, s.AlreadyStored, s.Unmappable, s.Duplicates)
}

// candidate is an event built from a record, on its way to the stream.
type candidate struct {
	event   mailevent.Event
	subject string
}

// Run backfills the day. It reads every delivery and bounce record of
// Date (and Hour) from the API, one page at a time, and builds each event.
// Then it reads the ids the stream holds from the day's start on and
// publishes the other events with their ids as Nats-Msg-Id.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	summary := Summary{DryRun: cfg.DryRun}
	start, err := cfg.validate()
	if err != nil {
		return summary, err
	}

	// Read and map the records.
	query := cmcapi.Query{Date: cfg.Date, Hour: cfg.Hour}
	var events []candidate
	for _, kind := range []cmcapi.Kind{cmcapi.KindDeliveries, cmcapi.KindBounces} {
		n, err := cfg.API.ListAll(ctx, kind, query, func(records []json.RawMessage) error {
			for _, raw := range records {
				ev, ok := cfg.build(kind, raw)
				if !ok {
					summary.Unmappable++
					continue
				}
				events = append(events, ev)
			}
			return nil
		})
		if kind == cmcapi.KindDeliveries {
			summary.Deliveries = n
		} else {
			summary.Bounces = n
		}
		if err != nil {
			return summary, err
		}
	}
	if len(events) == 0 {
		return summary, nil
	}

	// Find the events the stream holds already.
	stored, err := storedIDs(ctx, cfg, start.Add(-cfg.ClockSkew))
	if err != nil {
		return summary, err
	}
	missing := events[:0]
	for _, c := range events {
		if stored[c.event.ID] {
			summary.AlreadyStored++
			continue
		}
		// A record listed twice by the API is published once.
		stored[c.event.ID] = true
		missing = append(missing, c)
	}

	if cfg.DryRun {
		summary.Published = len(missing)
		return summary, nil
	}
	published, duplicates, err := publish(ctx, cfg, missing)
	summary.Published, summary.Duplicates = published, duplicates
	return summary, err
}

// validate applies the defaults and returns the start of the period.
func (cfg *Config) validate() (time.Time, error) {
	if cfg.JS == nil || cfg.Stream == "" || cfg.API == nil || cfg.Builder == nil {
		return time.Time{}, fmt.Errorf("%w: JetStream, stream name, API client and builder are required", ErrInvalidConfig)
	}
	if cfg.Mode == "" {
		cfg.Mode = mailevent.ModeBinary
	}
	if cfg.FieldNames == nil {
		cfg.FieldNames = APIFieldNames
	}
	if cfg.ClockSkew <= 0 {
		cfg.ClockSkew = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return PeriodStart(cfg.Date, cfg.Hour, cfg.Builder.Location, cfg.Now())
}

// PeriodStart checks a backfill's date (yyyy-mm-dd) and optional hour,
// read in loc (UTC when nil), and returns the start of the period. It
// returns an error wrapping ErrInvalidConfig for a malformed date, an
// hour outside 0 to 23, or a period that starts after now.
func PeriodStart(date string, hour *int, loc *time.Location, now time.Time) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	start, err := time.ParseInLocation(time.DateOnly, date, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: date %q is not a date such as 2023-01-25", ErrInvalidConfig, date)
	}
	if hour != nil {
		if *hour < 0 || *hour > 23 {
			return time.Time{}, fmt.Errorf("%w: hour %d is not between 0 and 23", ErrInvalidConfig, *hour)
		}
		start = start.Add(time.Duration(*hour) * time.Hour)
	}
	if start.After(now) {
		return time.Time{}, fmt.Errorf("%w: %s is in the future in %s, and CMC lists only past records", ErrInvalidConfig, start.Format("2006-01-02 15:04"), loc)
	}
	return start, nil
}

// build maps one API record to its event, as the webhook would have.
func (cfg *Config) build(kind cmcapi.Kind, raw json.RawMessage) (candidate, bool) {
	eventType := cmc.EventTypeDeliveries
	if kind == cmcapi.KindBounces {
		eventType = cmc.EventTypeBounces
	}
	record, err := renameFields(raw, cfg.FieldNames)
	if err == nil {
		var ev mailevent.Event
		var subject string
		ev, subject, err = cfg.Builder.Build(eventType, cfg.API.ServerComposition(), record)
		if err == nil {
			err = ev.Validate()
		}
		if err == nil {
			return candidate{event: ev, subject: subject}, true
		}
	}
	cfg.Logger.Warn("cmc record cannot be mapped to a CloudEvent",
		slog.String("event_type", string(eventType)), slog.Any("error", err))
	return candidate{}, false
}

// storedIDs reads the ids of the deliveries and bounces stored from since
// on, headers only.
func storedIDs(ctx context.Context, cfg Config, since time.Time) (map[string]bool, error) {
	subjects := cfg.Builder.Subjects
	ids := make(map[string]bool)
	r := replay.Range{
		Stream:      cfg.Stream,
		Filters:     []string{subjects.Deliveries(), subjects.Bounces()},
		StartTime:   since,
		HeadersOnly: true,
	}
	err := replay.ReadRange(ctx, cfg.JS, r, func(msg jetstream.Msg, _ *jetstream.MsgMetadata) error {
		header := msg.Headers()
		id := header.Get(mailevent.HeaderMsgID)
		if id == "" {
			id = header.Get("ce-id")
		}
		if id != "" {
			ids[id] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the ids in the stream: %w", err)
	}
	return ids, nil
}

// publishWindow is how many publishes wait for their pub acks at once.
const publishWindow = 512

// publish stores the events and waits for every pub ack.
func publish(ctx context.Context, cfg Config, events []candidate) (published, duplicates int, err error) {
	for start := 0; start < len(events); start += publishWindow {
		chunk := events[start:min(start+publishWindow, len(events))]
		futures := make([]jetstream.PubAckFuture, len(chunk))
		for i := range chunk {
			msg := mailevent.Encode(&chunk[i].event, chunk[i].subject, cfg.Mode)
			futures[i], err = cfg.JS.PublishMsgAsync(msg, jetstream.WithExpectStream(cfg.Stream))
			if err != nil {
				return published, duplicates, fmt.Errorf("publish %s: %w", msg.Subject, err)
			}
		}
		for _, future := range futures {
			select {
			case ack := <-future.Ok():
				if ack.Duplicate {
					duplicates++
				} else {
					published++
				}
			case err := <-future.Err():
				return published, duplicates, fmt.Errorf("pub ack for %s: %w", future.Msg().Subject, err)
			case <-ctx.Done():
				return published, duplicates, fmt.Errorf("wait for pub acks: %w", ctx.Err())
			}
		}
	}
	return published, duplicates, nil
}
