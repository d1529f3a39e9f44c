package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// streamSubjects returns the subjects that the stream replay and tail read
// stores, and names MAILBRIDGE_STREAM_NAME when no stream has that name.
func streamSubjects(ctx context.Context, js jetstream.JetStream, name string) ([]string, error) {
	stream, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("stream %s not found: check MAILBRIDGE_STREAM_NAME (the default is MAIL) and that mailbridge serve has run", name)
	}
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", name, err)
	}
	return stream.CachedInfo().Config.Subjects, nil
}

// checkFilters returns a usage error for a subject filter that matches no
// subject the stream stores, which would read nothing, or wait forever in
// tail. When the filter with the subject prefix in front would match, the
// error suggests that.
func checkFilters(filters []string, streamName string, stored []string, prefix string) error {
	for _, filter := range filters {
		if overlapsAny(filter, stored) {
			continue
		}
		hint := ""
		if withPrefix := prefix + "." + filter; overlapsAny(withPrefix, stored) {
			hint = fmt.Sprintf(": did you mean %s?", withPrefix)
		}
		return fmt.Errorf("%w: subject filter %q matches no subject of stream %s, which stores %s%s",
			errUsage, filter, streamName, strings.Join(stored, " "), hint)
	}
	return nil
}

// overlapsAny reports whether some subject matches both filter and one
// of stored.
func overlapsAny(filter string, stored []string) bool {
	for _, s := range stored {
		if server.SubjectsCollide(filter, s) {
			return true
		}
	}
	return false
}
