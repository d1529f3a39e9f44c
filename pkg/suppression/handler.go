package suppression

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mailbridge/mailbridge/pkg/consumer"
)

// HandleEvent applies one bounce or delivery event to the record of its
// recipient, with the consumer kit's Handler signature. It returns a
// Permanent error for an event whose data or recipient cannot be read,
// and other errors for failures that a redelivery may fix.
//
// An event whose id the record has applied already changes nothing. On a
// redelivery, the change event of the earlier delivery is published again,
// because that delivery may have failed after writing the record. The
// change event's id makes JetStream drop the copy if it was stored.
func (s *Store) HandleEvent(ctx context.Context, msg *consumer.Msg) error {
	outcome, err := s.handleEvent(ctx, msg)
	s.cfg.Metrics.event(outcome)
	return err
}

// handleEvent does the work of HandleEvent and returns its outcome for
// the metrics.
func (s *Store) handleEvent(ctx context.Context, msg *consumer.Msg) (string, error) {
	obs, err := observe(&msg.Event, msg.Subject, msg.Stored)
	if err != nil {
		return OutcomeInvalid, consumer.Permanent(err)
	}
	if obs.kind == observeNothing {
		return OutcomeIgnored, nil
	}

	rec, kind, _, err := s.modify(ctx, obs.address, func(rec *Record) string {
		return s.policy.apply(rec, &obs)
	})
	if err != nil {
		return OutcomeFailed, fmt.Errorf("apply event %s: %w", obs.eventID, err)
	}
	outcome := OutcomeChanged
	if kind == "" {
		outcome = OutcomeUnchanged
	}
	if kind == "" && msg.Delivered > 1 && rec.LastEventID == obs.eventID && rec.LastChange != "" {
		kind = rec.LastChange
	}
	if kind == "" {
		return outcome, nil
	}
	if err := s.pub.publish(ctx, kind, rec, obs.eventID, obs.time); err != nil {
		return OutcomeFailed, err
	}

	level := slog.LevelDebug
	if kind == ChangeAdded {
		level = slog.LevelInfo
	}
	s.cfg.Logger.LogAttrs(ctx, level, "suppression changed by an event",
		slog.String("change", kind),
		slog.String("domain", obs.address.Domain()),
		slog.String("reason", rec.Reason),
		slog.Bool("hard", rec.Hard),
		slog.Int("soft_count", rec.SoftCount),
		slog.String("event_id", obs.eventID))
	return outcome, nil
}
