package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// NATSConfig configures a NATSTarget.
type NATSConfig struct {
	// Conn and JS are the connection to publish on. Required.
	Conn *nats.Conn
	JS   jetstream.JetStream

	// Prefix is the subject prefix the events are published under, such
	// as "replay.mail". Required.
	Prefix string

	// SourcePrefix is the prefix of the stored subjects that Prefix
	// replaces: mail.bounces.user_unknown becomes
	// replay.mail.bounces.user_unknown. A subject outside SourcePrefix
	// gets Prefix in front. Required.
	SourcePrefix string

	// SourceStream is the stream being read. Publishing to a subject it
	// stores would replay the replay, so NewNATSTarget refuses that.
	SourceStream string

	// AllowCoreNATS lets the target publish with core NATS when no stream
	// stores the new subjects. Then only the subscribers connected at the
	// time receive the events, and the others lose them. Without it,
	// NewNATSTarget returns ErrNoTargetStream in that case.
	AllowCoreNATS bool

	// Window is how many publishes may wait for their pub acks or a
	// flush at once. Defaults to 1024.
	Window int
}

// NATSTarget publishes each stored message unchanged under a new prefix,
// with the CloudEvent id as Nats-Msg-Id. When a stream stores the new
// subjects, it publishes through JetStream and waits for the pub acks, so
// the stream drops events it already has. Otherwise, when AllowCoreNATS is
// set, it publishes with core NATS.
type NATSTarget struct {
	cfg       NATSConfig
	jetStream bool
	window    []pendingPublish
	delivered uint64
}

type pendingPublish struct {
	seq    uint64
	future jetstream.PubAckFuture
}

// NewNATSTarget checks cfg and looks up the stream, if any, that stores
// the new subjects.
func NewNATSTarget(ctx context.Context, cfg NATSConfig) (*NATSTarget, error) {
	if err := mailevent.ValidatePrefix(cfg.Prefix); err != nil {
		return nil, fmt.Errorf("%w: target %w", ErrInvalidConfig, err)
	}
	if cfg.Prefix == cfg.SourcePrefix || strings.HasPrefix(cfg.Prefix+".", cfg.SourcePrefix+".") {
		return nil, fmt.Errorf("%w: target prefix %q is within the source prefix %q: choose a prefix such as replay.%s",
			ErrInvalidConfig, cfg.Prefix, cfg.SourcePrefix, cfg.SourcePrefix)
	}
	if cfg.Window <= 0 {
		cfg.Window = 1024
	}

	t := &NATSTarget{cfg: cfg}
	name, err := cfg.JS.StreamNameBySubject(ctx, cfg.Prefix+".>")
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound) && !cfg.AllowCoreNATS:
		return nil, fmt.Errorf("%w: no stream stores %s.>, so the events would reach only the subscribers connected now", ErrNoTargetStream, cfg.Prefix)
	case errors.Is(err, jetstream.ErrStreamNotFound):
	case err != nil:
		return nil, fmt.Errorf("look up the stream of %s.>: %w", cfg.Prefix, err)
	case name == cfg.SourceStream:
		return nil, fmt.Errorf("%w: stream %s stores %s.>, so the replay would read its own events: choose another prefix",
			ErrInvalidConfig, name, cfg.Prefix)
	default:
		t.jetStream = true
	}
	return t, nil
}

// JetStream reports whether the target publishes through JetStream.
func (t *NATSTarget) JetStream() bool { return t.jetStream }

// Send publishes the event and, once Window publishes wait, waits for
// them.
func (t *NATSTarget) Send(ctx context.Context, item *Item) error {
	msg := &nats.Msg{Subject: t.subject(item.NATSSubject), Header: make(nats.Header, len(item.Header)+1), Data: item.Data}
	for name, values := range item.Header {
		// Expectations such as Nats-Expected-Stream: MAIL, which the
		// ingress sets, hold for the source stream, not for the target.
		if strings.HasPrefix(strings.ToLower(name), "nats-expected-") {
			continue
		}
		msg.Header[name] = values
	}
	msg.Header[mailevent.HeaderMsgID] = []string{item.Event.ID}

	if t.jetStream {
		future, err := t.cfg.JS.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("publish %s: %w", msg.Subject, err)
		}
		t.window = append(t.window, pendingPublish{seq: item.Sequence, future: future})
	} else {
		if err := t.cfg.Conn.PublishMsg(msg); err != nil {
			return fmt.Errorf("publish %s: %w", msg.Subject, err)
		}
		t.window = append(t.window, pendingPublish{seq: item.Sequence})
	}
	if len(t.window) >= t.cfg.Window {
		return t.wait(ctx)
	}
	return nil
}

// Close waits for the publishes still in flight.
func (t *NATSTarget) Close(ctx context.Context) error { return t.wait(ctx) }

// Delivered returns the sequence up to which every publish was
// acknowledged by JetStream or flushed to the server.
func (t *NATSTarget) Delivered() uint64 { return t.delivered }

func (t *NATSTarget) wait(ctx context.Context) error {
	if len(t.window) == 0 {
		return nil
	}
	if !t.jetStream {
		if err := t.cfg.Conn.FlushWithContext(ctx); err != nil {
			return fmt.Errorf("flush publishes: %w", err)
		}
		t.delivered = t.window[len(t.window)-1].seq
		t.window = t.window[:0]
		return nil
	}
	for i, p := range t.window {
		select {
		case <-p.future.Ok():
			t.delivered = p.seq
		case err := <-p.future.Err():
			t.window = append(t.window[:0], t.window[i+1:]...)
			return fmt.Errorf("pub ack for %s: %w", p.future.Msg().Subject, err)
		case <-ctx.Done():
			t.window = append(t.window[:0], t.window[i:]...)
			return fmt.Errorf("wait for %d pub acks: %w", len(t.window), ctx.Err())
		}
	}
	t.window = t.window[:0]
	return nil
}

// subject maps a stored subject under the new prefix.
func (t *NATSTarget) subject(stored string) string {
	if rest, ok := strings.CutPrefix(stored, t.cfg.SourcePrefix+"."); ok {
		return t.cfg.Prefix + "." + rest
	}
	return t.cfg.Prefix + "." + stored
}
