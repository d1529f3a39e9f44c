package app

import (
	"fmt"
	"time"
)

// maxStreamReplicas is the largest replica count JetStream accepts.
const maxStreamReplicas = 5

// CheckAtLeast returns an error naming the variable (without the
// MAILBRIDGE_ prefix) when value is below minimum. allowed describes the
// valid values for the message, such as "a positive duration such as 5s".
func CheckAtLeast[T int | int64 | time.Duration](variable string, value, minimum T, allowed string) error {
	if value < minimum {
		return fmt.Errorf("%s_%s %v is out of range: use %s", EnvPrefix, variable, value, allowed)
	}
	return nil
}

// firstError returns the first error that is not nil.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Validate returns an error naming the first numeric or duration variable
// out of its range. Without it, pkg/ingress would replace a negative value
// with its default without a word.
func (c IngressConfig) Validate() error {
	return firstError(
		CheckAtLeast("MAX_BODY_BYTES", c.MaxBodyBytes, 1, "a positive number of bytes such as 4194304"),
		CheckAtLeast("PUBLISH_TIMEOUT", c.PublishTimeout, time.Millisecond, "a positive duration such as 5s"),
	)
}

// Validate returns an error naming the first numeric variable out of its
// range.
func (c NATSConfig) Validate() error {
	return CheckAtLeast("EMBEDDED_JETSTREAM_MAX_STORE_BYTES", c.EmbeddedMaxStore, 0, "a number of bytes, or 0 for nats-server's default")
}

// Validate returns an error naming the first numeric or duration variable
// out of its range.
func (c StreamConfig) Validate() error {
	err := firstError(
		CheckAtLeast("STREAM_REPLICAS", c.StreamReplicas, 1, "1 to 5 (3 on a three-node cluster)"),
		CheckAtLeast("STREAM_MAX_AGE", c.StreamMaxAge, 0, "a duration such as 720h, or 0 to keep events"),
		CheckAtLeast("STREAM_MAX_BYTES", c.StreamMaxBytes, 0, "a number of bytes, or 0 for no limit"),
		CheckAtLeast("DUPLICATE_WINDOW", c.DuplicateWindow, time.Second, "a positive duration such as 2m"),
	)
	switch {
	case err != nil:
		return err
	case c.StreamReplicas > maxStreamReplicas:
		return fmt.Errorf("%s_STREAM_REPLICAS %d is out of range: use 1 to %d, the most JetStream allows", EnvPrefix, c.StreamReplicas, maxStreamReplicas)
	case c.StreamMaxAge > 0 && c.DuplicateWindow > c.StreamMaxAge:
		return fmt.Errorf("%s_DUPLICATE_WINDOW %s is longer than %s_STREAM_MAX_AGE %s: JetStream rejects the stream, so shorten the window", EnvPrefix, c.DuplicateWindow, EnvPrefix, c.StreamMaxAge)
	}
	return nil
}
