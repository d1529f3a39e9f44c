package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
	"github.com/mailbridge/mailbridge/pkg/bounce"
)

// maxPublishConnections bounds MAILBRIDGE_PUBLISH_CONNECTIONS. Each one is
// a socket and a reader goroutine, and two were no faster than one on two
// cores.
const maxPublishConnections = 64

// Allowed values of the range checks, shared by their messages.
const (
	positiveDuration = "a positive duration such as 30s"
	zeroOrDuration   = "a duration such as 30m, or 0 to turn it off"
	positiveCount    = "1 or more"
	zeroOrCount      = "0 or more"
)

// validate checks the ranges of serve's numeric and duration variables,
// those of the ingress and the stream included. BUFFER_MAX_BYTES is
// checked only when the buffer is on.
func (c serveConfig) validate() error {
	err := firstError(
		app.CheckAtLeast("SHUTDOWN_TIMEOUT", c.ShutdownTimeout, time.Millisecond, positiveDuration),
		app.CheckAtLeast("READ_HEADER_TIMEOUT", c.ReadHeaderTimeout, 0, "a duration such as 10s"),
		app.CheckAtLeast("READ_TIMEOUT", c.ReadTimeout, 0, "a duration such as 30s"),
		checkPublishConnections(c.PublishConnections),
		c.IngressConfig.Validate(),
		c.StreamConfig.Validate(),
		app.NATSConfig(c.NATSConfig).Validate(),
	)
	if err == nil && c.NATSConfig.URL == "" && c.EmbeddedMaxStore > 0 && c.StreamMaxBytes > c.EmbeddedMaxStore {
		// JetStream reserves the stream's max bytes when it creates the
		// stream, and rejects a stream larger than its max store.
		err = fmt.Errorf("%s_STREAM_MAX_BYTES %d is larger than %s_EMBEDDED_JETSTREAM_MAX_STORE_BYTES %d: JetStream rejects the stream, so lower the first or raise the second", app.EnvPrefix, c.StreamMaxBytes, app.EnvPrefix, c.EmbeddedMaxStore)
	}
	if err != nil || c.OnUnavailable != onUnavailableBuffer {
		return err
	}
	return app.CheckAtLeast("BUFFER_MAX_BYTES", c.BufferMaxBytes, 1, "a positive number of bytes such as 1073741824")
}

// validate checks the ranges of the suppression list's numeric and
// duration variables.
func (s SuppressorSettings) validate() error {
	return firstError(
		app.CheckAtLeast("SUPPRESSION_SOFT_THRESHOLD", s.SoftThreshold, 1, positiveCount),
		app.CheckAtLeast("SUPPRESSION_SOFT_WINDOW", s.SoftWindow, time.Second, "a positive duration such as 168h"),
		app.CheckAtLeast("SUPPRESSION_DEFERRAL_THRESHOLD", s.DeferralThreshold, 0, "0 or more, where 0 never counts deferrals"),
		app.CheckAtLeast("SUPPRESSION_ACK_WAIT", s.AckWait, time.Second, "a duration of 1s or more such as 30s"),
		app.CheckAtLeast("SUPPRESSION_MAX_DELIVER", s.MaxDeliver, 1, positiveCount),
		checkSenderReasons(s.SenderReasons),
	)
}

// checkPublishConnections checks MAILBRIDGE_PUBLISH_CONNECTIONS.
func checkPublishConnections(n int) error {
	if n < 1 || n > maxPublishConnections {
		return fmt.Errorf("%s_PUBLISH_CONNECTIONS %d is out of range: use 1 to %d", app.EnvPrefix, n, maxPublishConnections)
	}
	return nil
}

// checkSenderReasons checks that every reason in
// MAILBRIDGE_SUPPRESSION_SENDER_REASONS is a bounce reason. A misspelt one
// would match nothing, so that bounces for that reason would count against
// the recipient.
func checkSenderReasons(reasons []string) error {
	for _, reason := range reasons {
		if !bounce.Reason(reason).Valid() {
			known := bounce.Reasons()
			names := make([]string, len(known))
			for i, name := range known {
				names[i] = name.String()
			}
			return fmt.Errorf("%s_SUPPRESSION_SENDER_REASONS has the unknown reason %q: use reasons from %s",
				app.EnvPrefix, reason, strings.Join(names, ", "))
		}
	}
	return nil
}

// validate checks the ranges of the alerter's numeric and duration
// variables. The rates are checked by alert.Rules.Validate.
func (ac AlertConfig) validate() error {
	return firstError(
		app.CheckAtLeast("ALERT_HARD_BOUNCE_WINDOW", ac.HardBounceWindow, time.Second, "a positive duration such as 24h"),
		app.CheckAtLeast("ALERT_HARD_BOUNCE_MIN_SENT", ac.HardBounceMinVolume, 0, zeroOrCount),
		app.CheckAtLeast("ALERT_DOMAIN_FAILURE_WINDOW", ac.DomainFailureWindow, time.Second, "a positive duration such as 1h"),
		app.CheckAtLeast("ALERT_DOMAIN_FAILURE_MIN_SENT", ac.DomainFailureMinVolume, 0, zeroOrCount),
		app.CheckAtLeast("ALERT_DEFERRAL_WINDOW", ac.DeferralWindow, time.Second, "a positive duration such as 1h"),
		app.CheckAtLeast("ALERT_DEFERRAL_MIN_ATTEMPTS", ac.DeferralMinVolume, 0, zeroOrCount),
		app.CheckAtLeast("ALERT_SILENCE_AFTER", ac.SilenceAfter, 0, zeroOrDuration),
		app.CheckAtLeast("ALERT_SILENCE_CRITICAL_AFTER", ac.SilenceCriticalAfter, 0, zeroOrDuration),
		app.CheckAtLeast("ALERT_COOLDOWN", ac.Cooldown, 0, "a duration of 0 or more such as 4h"),
		app.CheckAtLeast("ALERT_NOTIFY_TIMEOUT", ac.NotifyTimeout, time.Millisecond, "a positive duration such as 10s"),
		app.CheckAtLeast("ALERT_NOTIFY_ATTEMPTS", ac.NotifyAttempts, 1, positiveCount),
		app.CheckAtLeast("ALERT_EVALUATE_INTERVAL", ac.EvaluateInterval, time.Second, "a duration of 1s or more such as 30s"),
		checkHTTPURL("MAILBRIDGE_ALERT_SLACK_URL", ac.SlackURL),
		checkHTTPURL("MAILBRIDGE_ALERT_WEBHOOK_URL", ac.WebhookURL),
	)
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
