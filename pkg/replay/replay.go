package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// Config configures Run.
type Config struct {
	// JS reads the stream. Required.
	JS jetstream.JetStream

	// Stream is the stream name. Required.
	Stream string

	// Selection chooses the events.
	Selection Selection

	// Target receives the events. Required unless DryRun is set. Run
	// closes it.
	Target Target

	// DryRun counts the selected events without sending them.
	DryRun bool

	// Rate caps the events sent per second. Zero sends as fast as the
	// target takes them.
	Rate float64

	// Progress receives a progress bar, redrawn in place. Nil draws none;
	// pass a terminal only.
	Progress io.Writer

	// Logger receives warnings. Defaults to discarding.
	Logger *slog.Logger

	// Now returns the current time, for the rates. Defaults to time.Now.
	Now func() time.Time
}

// Summary is the outcome of a Run.
type Summary struct {
	// Read counts the messages read from the stream.
	Read uint64
	// Selected counts the CloudEvents that matched the selection: the
	// ones sent, or the ones a dry run would send.
	Selected uint64
	// Sent counts the events handed to the target. Some of them may not
	// be delivered when the run stopped early.
	Sent uint64
	// Filtered counts the CloudEvents that did not match the selection.
	Filtered uint64
	// NotCloudEvents counts the messages that are not CloudEvents, such as
	// records kept on the rejected subject. They are never sent.
	NotCloudEvents uint64
	// LastSequence is the stream sequence up to which every selected event
	// was delivered. A run started again with FromSeq LastSequence+1
	// neither skips nor repeats an event. Zero when none was delivered.
	LastSequence uint64
	// ResumeSeq is the FromSeq that goes on after a run that stopped
	// early, on a target failure or when ctx ended: no selected event
	// before it is left undelivered. Zero when the run was complete.
	ResumeSeq uint64
	// DryRun is set when nothing was sent on purpose.
	DryRun   bool
	Duration time.Duration
}

// String returns the summary as one line for the operator.
func (s Summary) String() string {
	var b strings.Builder
	switch {
	case s.DryRun:
		fmt.Fprintf(&b, "dry run: would send %s", plural(s.Selected, "event"))
	case s.ResumeSeq != 0:
		fmt.Fprintf(&b, "stopped after queuing %s for the target", plural(s.Sent, "event"))
	default:
		fmt.Fprintf(&b, "sent %s", plural(s.Sent, "event"))
	}
	fmt.Fprintf(&b, " in %s (read %s: %d filtered out, %d not CloudEvents",
		s.Duration.Round(time.Millisecond), plural(s.Read, "message"), s.Filtered, s.NotCloudEvents)
	if secs := s.Duration.Seconds(); secs > 0 {
		fmt.Fprintf(&b, ", %.0f messages/s", float64(s.Read)/secs)
	}
	b.WriteString(")")
	switch {
	case s.DryRun:
	case s.ResumeSeq != 0 && s.LastSequence == 0:
		fmt.Fprintf(&b, "; the first selected event was not delivered: resume with --from-seq %d", s.ResumeSeq)
	case s.ResumeSeq != 0:
		fmt.Fprintf(&b, "; every event up to sequence %d was delivered: resume with --from-seq %d", s.LastSequence, s.ResumeSeq)
	case s.LastSequence != 0:
		fmt.Fprintf(&b, "; last sequence sent %d (resume with --from-seq %d)", s.LastSequence, s.LastSequence+1)
	}
	return b.String()
}

// plural returns n and noun, with an s unless n is 1.
func plural(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Run reads the selection from the stream in stream order with an ordered
// consumer and sends each selected CloudEvent to the target. It stops at
// the last message stored when it began, at the first target failure
// (a *TargetError), or when ctx ends; in every case it closes the target
// and returns the summary so far.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	summary := Summary{DryRun: cfg.DryRun}
	if cfg.JS == nil || cfg.Stream == "" {
		return summary, fmt.Errorf("%w: JetStream and stream name are required", ErrInvalidConfig)
	}
	if cfg.Target == nil && !cfg.DryRun {
		return summary, fmt.Errorf("%w: a target is required unless it is a dry run", ErrInvalidConfig)
	}
	if err := cfg.Selection.Validate(); err != nil {
		return summary, err
	}
	if cfg.DryRun {
		cfg.Target = nil
	}

	var limiter *rate.Limiter
	if cfg.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(cfg.Rate), max(1, int(cfg.Rate/10)))
	}
	var bar *progress
	if cfg.Progress != nil {
		bar = startProgress(cfg.Progress, cfg.Now, cfg.DryRun)
	}

	// Read and send.
	start := cfg.Now()
	match := newMatcher(&cfg.Selection)
	r := cfg.Selection.streamRange(cfg.Stream)
	if bar != nil {
		r.Started = bar.total.Store
	}
	// A target that writes stored messages itself saves decoding each one
	// into an Event, when neither a filter nor the rate needs the Event
	// first.
	direct, _ := cfg.Target.(messageSender)
	decodeFirst := direct == nil || !match.selectsAll() || limiter != nil
	readErr := ReadRange(ctx, cfg.JS, r, func(msg jetstream.Msg, meta *jetstream.MsgMetadata) error {
		summary.Read++
		if bar != nil {
			bar.done.Add(1)
		}
		var ev mailevent.Event
		if decodeFirst {
			var err error
			if ev, err = mailevent.Decode(msg.Headers(), msg.Data()); err != nil {
				summary.NotCloudEvents++
				return nil
			}
			if !match.match(&ev) {
				summary.Filtered++
				return nil
			}
			if cfg.Target == nil {
				summary.Selected++
				if bar != nil {
					bar.sent.Add(1)
				}
				return nil
			}
			if limiter != nil {
				if err := limiter.Wait(ctx); err != nil {
					return err
				}
			}
		}

		if direct != nil {
			isCloudEvent, err := direct.sendMessage(meta.Sequence.Stream, msg.Headers(), msg.Data())
			if !isCloudEvent {
				summary.NotCloudEvents++
				return nil
			}
			summary.Selected++
			if err != nil {
				return err
			}
			summary.Sent++
			if bar != nil {
				bar.sent.Add(1)
			}
			return nil
		}
		summary.Selected++
		item := &Item{Sequence: meta.Sequence.Stream, NATSSubject: msg.Subject(), Header: msg.Headers(), Data: msg.Data(), Event: ev}
		if err := cfg.Target.Send(ctx, item); err != nil {
			return err
		}
		summary.Sent++
		if bar != nil {
			bar.sent.Add(1)
		}
		return nil
	})

	// Close the target even after an interruption, so that what was
	// handed over is delivered and counted.
	var closeErr error
	if cfg.Target != nil {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		closeErr = cfg.Target.Close(closeCtx)
		cancel()
		summary.LastSequence = cfg.Target.Delivered()
		if readErr != nil || closeErr != nil {
			summary.ResumeSeq = max(summary.LastSequence+1, cfg.Selection.FromSeq)
		}
	}
	if bar != nil {
		bar.finish()
	}
	summary.Duration = cfg.Now().Sub(start)

	// A target failure explains a send error better than the send error.
	var targetErr *TargetError
	if errors.As(closeErr, &targetErr) || readErr == nil {
		return summary, closeErr
	}
	return summary, readErr
}
