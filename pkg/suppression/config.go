package suppression

import (
	"errors"
	"log/slog"
	"time"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// DefaultBucket is the default name of the key-value bucket.
const DefaultBucket = "suppressions"

// Config configures a Store.
type Config struct {
	// Bucket is the key-value bucket of the list, created when missing.
	// Defaults to DefaultBucket.
	Bucket string

	// Replicas is the number of copies of the bucket in a cluster; use the
	// stream's. Defaults to 1.
	Replicas int

	// SubjectPrefix is the first subject token(s) of the change events, as
	// of every other event. Defaults to "mail".
	SubjectPrefix string

	// Mode is the CloudEvents content mode of the change events. Defaults
	// to binary.
	Mode mailevent.Mode

	// Policy decides which failures suppress an address.
	Policy Policy

	// Now returns the time of changes made through the API. Defaults to
	// time.Now.
	Now func() time.Time

	// Metrics counts the changes and the events handled. Nil counts
	// nothing.
	Metrics *Metrics

	// Logger receives a line per change and per event that cannot be
	// applied. Defaults to a logger that discards everything.
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = mailevent.DefaultPrefix
	}
	if err := mailevent.ValidatePrefix(c.SubjectPrefix); err != nil {
		return c, err
	}
	if c.Mode == "" {
		c.Mode = mailevent.ModeBinary
	}
	if c.Mode != mailevent.ModeBinary && c.Mode != mailevent.ModeStructured {
		return c, errors.New("suppression: Mode must be binary or structured")
	}
	c.Policy = c.Policy.withDefaults()
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// FilterSubjects returns the subjects that the suppression consumer reads
// under a prefix: every bounce and the failed, deferred and succeeded
// deliveries.
func FilterSubjects(prefix string) []string {
	s := mailevent.Subjects{Prefix: prefix}
	return []string{
		s.Bounces(),
		s.Delivery(mailevent.StatusFailed),
		s.Delivery(mailevent.StatusDeferred),
		s.Delivery(mailevent.StatusSucceeded),
	}
}
