package main

import (
	"context"
	"errors"
	"fmt"

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
