package suppression

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/stream"
)

// maxAttempts bounds the compare-and-set attempts of one change.
const maxAttempts = 32

// Store is the suppression list in a JetStream key-value bucket.
type Store struct {
	kv     jetstream.KeyValue
	cfg    Config
	policy Policy
	pub    publisher
}

// NewStore creates the bucket, or updates it to cfg when it exists, and
// returns the list stored in it.
func NewStore(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      c.Bucket,
		Description: "mailbridge suppression list: one record per recipient address",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("create or update bucket %s: %w", c.Bucket, stream.JetStreamHint(err))
	}
	return &Store{
		kv:     kv,
		cfg:    c,
		policy: c.Policy,
		pub:    publisher{js: js, prefix: c.SubjectPrefix, mode: c.Mode},
	}, nil
}

// Bucket returns the key-value bucket of the list.
func (s *Store) Bucket() jetstream.KeyValue { return s.kv }

// Record returns the record of an address, suppressed or not, and its
// revision. It returns jetstream.ErrKeyNotFound when there is none.
func (s *Store) Record(ctx context.Context, address Address) (*Record, uint64, error) {
	entry, err := s.kv.Get(ctx, address.Key())
	if err != nil {
		return nil, 0, err
	}
	var rec Record
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return nil, 0, fmt.Errorf("decode record %s: %w", entry.Key(), err)
	}
	return &rec, entry.Revision(), nil
}

// Get returns the suppression of an address. It returns ErrNotSuppressed
// when the address is not on the list.
func (s *Store) Get(ctx context.Context, address Address) (Suppression, error) {
	rec, _, err := s.Record(ctx, address)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return Suppression{}, ErrNotSuppressed
	case err != nil:
		return Suppression{}, fmt.Errorf("get suppression: %w", err)
	case !rec.Suppressed:
		return Suppression{}, ErrNotSuppressed
	}
	return rec.View(), nil
}

// modify reads the record of an address, lets change edit it and writes
// it back if change returns a kind of change, all under compare-and-set:
// when another writer changed the record in between, it starts again with
// the new record. It returns the record as written, or as read when
// change returned "", with the kind of change and the new revision.
func (s *Store) modify(ctx context.Context, address Address, change func(rec *Record) string) (*Record, string, uint64, error) {
	key := address.Key()
	for range maxAttempts {
		rec, revision, err := s.Record(ctx, address)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			rec, revision, err = &Record{}, 0, nil
		}
		if err != nil {
			return nil, "", 0, err
		}

		kind := change(rec)
		if kind == "" {
			return rec, "", revision, nil
		}
		value, err := json.Marshal(rec)
		if err != nil {
			return nil, "", 0, fmt.Errorf("encode record: %w", err)
		}

		var written uint64
		if revision == 0 {
			written, err = s.kv.Create(ctx, key, value)
		} else {
			written, err = s.kv.Update(ctx, key, value, revision)
		}
		switch {
		case err == nil:
			s.cfg.Metrics.change(kind)
			return rec, kind, written, nil
		case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
			continue
		default:
			return nil, "", 0, fmt.Errorf("write record: %w", err)
		}
	}
	return nil, "", 0, fmt.Errorf("%w: %d attempts", ErrConflict, maxAttempts)
}

// apiCause names a change made through the API by the record revision it
// wrote.
func apiCause(revision uint64) string {
	return "api:" + strconv.FormatUint(revision, 10)
}

// publishAPIChange publishes the change event of a change made through the
// API. The list has changed already, so a failure is logged rather than
// returned.
func (s *Store) publishAPIChange(ctx context.Context, kind string, rec *Record, revision uint64) {
	if err := s.pub.publish(ctx, kind, rec, apiCause(revision), s.cfg.Now()); err != nil {
		// NOTE: the change is on the list but missing from the stream's
		// history; nothing publishes it again.
		s.cfg.Logger.ErrorContext(ctx, "suppression change event not published",
			slog.String("change", kind), slog.String("domain", rec.Address.Domain()), slog.Any("error", err))
	}
}

// Add puts an address on the list by hand, or changes the reason and note
// of one already on it. It returns the suppression and whether the
// address was newly suppressed.
func (s *Store) Add(ctx context.Context, address Address, reason, note string) (Suppression, bool, error) {
	if reason == "" {
		reason = ReasonManual
	}
	now := s.cfg.Now()
	rec, kind, revision, err := s.modify(ctx, address, func(rec *Record) string {
		if rec.Suppressed && rec.Reason == reason && rec.Note == note {
			return ""
		}
		kind := ChangeUpdated
		if !rec.Suppressed {
			kind = ChangeAdded
			rec.SuppressedAt = now
			rec.Source = SourceManual
			rec.Hard = true
		} else if rec.Source == SourceBounce && rec.Reason != reason {
			// The reason is now the operator's, which later bounces keep.
			rec.Source = SourceManual
		}
		if rec.FirstSeen.IsZero() {
			rec.FirstSeen = now
		}
		rec.LastSeen = laterOf(rec.LastSeen, now)
		rec.Address = address
		rec.Suppressed, rec.Reason, rec.Note = true, reason, note
		rec.LastEventID, rec.LastEventSubject, rec.LastChange = "", "", kind
		return kind
	})
	if err != nil {
		return Suppression{}, false, fmt.Errorf("add suppression: %w", err)
	}
	if kind != "" {
		s.publishAPIChange(ctx, kind, rec, revision)
		s.cfg.Logger.InfoContext(ctx, "suppression changed by the api",
			slog.String("change", kind), slog.String("domain", address.Domain()), slog.String("reason", reason))
	}
	return rec.View(), kind == ChangeAdded, nil
}

// Remove takes an address off the list. The record stays without its
// failures, so that the events already applied to it stay applied, and
// events from before the removal are ignored from then on. It returns
// ErrNotSuppressed when the address is not on the list.
func (s *Store) Remove(ctx context.Context, address Address) error {
	now := s.cfg.Now()
	rec, kind, revision, err := s.modify(ctx, address, func(rec *Record) string {
		if !rec.Suppressed {
			return ""
		}
		rec.Suppressed, rec.Reason, rec.Hard, rec.Note = false, "", false, ""
		rec.SuppressedAt = time.Time{}
		rec.ClearedAt = now
		rec.Recent, rec.SoftCount = nil, 0
		rec.LastEventID, rec.LastEventSubject, rec.LastChange = "", "", ChangeRemoved
		return ChangeRemoved
	})
	if err != nil {
		return fmt.Errorf("remove suppression: %w", err)
	}
	if kind == "" {
		return ErrNotSuppressed
	}
	s.publishAPIChange(ctx, kind, rec, revision)
	s.cfg.Logger.InfoContext(ctx, "suppression changed by the api",
		slog.String("change", kind), slog.String("domain", address.Domain()))
	return nil
}
