package main

import (
	"fmt"
	"time"

	"github.com/mailbridge/mailbridge/pkg/bounce"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// newBuilder returns the event builder for cfg.
func newBuilder(cfg serveConfig) (*mailevent.Builder, error) {
	if err := mailevent.ValidatePrefix(cfg.StreamConfig.SubjectPrefix); err != nil {
		return nil, fmt.Errorf("MAILBRIDGE_SUBJECT_PREFIX: %w", err)
	}
	loc, err := time.LoadLocation(cfg.CMCTimezone)
	if err != nil {
		return nil, fmt.Errorf("MAILBRIDGE_CMC_TIMEZONE %q is not a time zone name such as Asia/Tokyo: %w", cfg.CMCTimezone, err)
	}
	return &mailevent.Builder{
		Subjects:   mailevent.Subjects{Prefix: cfg.StreamConfig.SubjectPrefix},
		Location:   loc,
		Classify:   bounce.EventClassification,
		ParseCodes: bounce.ParseCodes,
	}, nil
}

// streamSettings returns the stream configuration.
func streamSettings(c StreamConfig) stream.Config {
	return stream.Config{
		Name:            c.StreamName,
		Subjects:        []string{c.SubjectPrefix + ".>"},
		Replicas:        c.StreamReplicas,
		MaxAge:          c.StreamMaxAge,
		MaxBytes:        c.StreamMaxBytes,
		DuplicateWindow: c.DuplicateWindow,
	}
}
