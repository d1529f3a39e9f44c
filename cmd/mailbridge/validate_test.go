package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/internal/natstest"
)

func TestComponentConfigValidateRanges(t *testing.T) {
	t.Parallel()
	var alertDefaults AlertConfig
	if err := loadConfig(&alertDefaults); err != nil {
		t.Fatal(err)
	}
	if err := alertDefaults.validate(); err != nil {
		t.Fatalf("alerter defaults: %v", err)
	}
	settings := testSuppressorSettings()
	if err := settings.validate(); err != nil {
		t.Fatalf("suppressor settings: %v", err)
	}

	tests := []struct {
		name     string
		validate func() error
		variable string // empty when the value is valid
	}{
		{"zero soft threshold", func() error { s := settings; s.SoftThreshold = 0; return s.validate() }, "MAILBRIDGE_SUPPRESSION_SOFT_THRESHOLD"},
		{"zero soft window", func() error { s := settings; s.SoftWindow = 0; return s.validate() }, "MAILBRIDGE_SUPPRESSION_SOFT_WINDOW"},
		{"negative deferral threshold", func() error { s := settings; s.DeferralThreshold = -1; return s.validate() }, "MAILBRIDGE_SUPPRESSION_DEFERRAL_THRESHOLD"},
		{"zero deferral threshold", func() error { s := settings; s.DeferralThreshold = 0; return s.validate() }, ""},
		{"zero ack wait", func() error { s := settings; s.AckWait = 0; return s.validate() }, "MAILBRIDGE_SUPPRESSION_ACK_WAIT"},
		{"zero max deliver", func() error { s := settings; s.MaxDeliver = 0; return s.validate() }, "MAILBRIDGE_SUPPRESSION_MAX_DELIVER"},
		{"zero hard bounce window", func() error { a := alertDefaults; a.HardBounceWindow = 0; return a.validate() }, "MAILBRIDGE_ALERT_HARD_BOUNCE_WINDOW"},
		{"negative domain window", func() error { a := alertDefaults; a.DomainFailureWindow = -time.Hour; return a.validate() }, "MAILBRIDGE_ALERT_DOMAIN_FAILURE_WINDOW"},
		{"zero deferral window", func() error { a := alertDefaults; a.DeferralWindow = 0; return a.validate() }, "MAILBRIDGE_ALERT_DEFERRAL_WINDOW"},
		{"negative min sent", func() error { a := alertDefaults; a.HardBounceMinVolume = -1; return a.validate() }, "MAILBRIDGE_ALERT_HARD_BOUNCE_MIN_SENT"},
		{"negative silence", func() error { a := alertDefaults; a.SilenceAfter = -time.Minute; return a.validate() }, "MAILBRIDGE_ALERT_SILENCE_AFTER"},
		{"negative cooldown", func() error { a := alertDefaults; a.Cooldown = -time.Hour; return a.validate() }, "MAILBRIDGE_ALERT_COOLDOWN"},
		{"zero notify timeout", func() error { a := alertDefaults; a.NotifyTimeout = 0; return a.validate() }, "MAILBRIDGE_ALERT_NOTIFY_TIMEOUT"},
		{"zero notify attempts", func() error { a := alertDefaults; a.NotifyAttempts = 0; return a.validate() }, "MAILBRIDGE_ALERT_NOTIFY_ATTEMPTS"},
		{"zero evaluate interval", func() error { a := alertDefaults; a.EvaluateInterval = 0; return a.validate() }, "MAILBRIDGE_ALERT_EVALUATE_INTERVAL"},
		{"zero shutdown timeout", func() error { c := testServeConfig(t); c.ShutdownTimeout = 0; return c.validate() }, "MAILBRIDGE_SHUTDOWN_TIMEOUT"},
		{"negative read timeout", func() error { c := testServeConfig(t); c.ReadTimeout = -time.Second; return c.validate() }, "MAILBRIDGE_READ_TIMEOUT"},
		{"negative body size in serve", func() error { c := testServeConfig(t); c.MaxBodyBytes = -1; return c.validate() }, "MAILBRIDGE_MAX_BODY_BYTES"},
		{"zero replicas in serve", func() error { c := testServeConfig(t); c.StreamReplicas = 0; return c.validate() }, "MAILBRIDGE_STREAM_REPLICAS"},
		{"negative buffer size", func() error {
			c := testServeConfig(t)
			c.OnUnavailable, c.BufferMaxBytes = onUnavailableBuffer, -1
			return c.validate()
		}, "MAILBRIDGE_BUFFER_MAX_BYTES"},
		{"buffer size unused without buffer", func() error { c := testServeConfig(t); c.BufferMaxBytes = -1; return c.validate() }, ""},
		{"zero publish connections", func() error { c := testServeConfig(t); c.PublishConnections = 0; return c.validate() }, "MAILBRIDGE_PUBLISH_CONNECTIONS"},
		{"100000 publish connections", func() error { c := testServeConfig(t); c.PublishConnections = 100000; return c.validate() }, "MAILBRIDGE_PUBLISH_CONNECTIONS"},
		{"64 publish connections", func() error { c := testServeConfig(t); c.PublishConnections = 64; return c.validate() }, ""},
		{"misspelt sender reason", func() error { s := settings; s.SenderReasons = []string{"blocked", "nonsense"}; return s.validate() }, "MAILBRIDGE_SUPPRESSION_SENDER_REASONS"},
		{"sender reason with a space", func() error { s := settings; s.SenderReasons = []string{"blocked", " rejected"}; return s.validate() }, "MAILBRIDGE_SUPPRESSION_SENDER_REASONS"},
		{"known sender reasons", func() error { s := settings; s.SenderReasons = []string{"blocked", "rejected"}; return s.validate() }, ""},
		{"negative max store", func() error { c := testServeConfig(t); c.EmbeddedMaxStore = -1; return c.validate() }, "MAILBRIDGE_EMBEDDED_JETSTREAM_MAX_STORE_BYTES"},
		{"stream larger than max store", func() error {
			c := testServeConfig(t)
			c.EmbeddedMaxStore, c.StreamMaxBytes = 1<<20, 2<<20
			return c.validate()
		}, "MAILBRIDGE_STREAM_MAX_BYTES"},
		{"stream within max store", func() error {
			c := testServeConfig(t)
			c.EmbeddedMaxStore, c.StreamMaxBytes = 2<<20, 1<<20
			return c.validate()
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.validate()
			if tt.variable == "" {
				if err != nil {
					t.Errorf("valid value rejected: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one naming %s", tt.variable)
			}
			if !strings.Contains(err.Error(), tt.variable) {
				t.Errorf("error %q does not name %s", err, tt.variable)
			}
		})
	}
}

func TestServeRejectsNegativePublishTimeout(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	cfg := defaultServeConfig(t, srv.URL())
	cfg.PublishTimeout = -time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := serve(ctx, cfg, testLogger(t), nil)
	if err == nil || !strings.Contains(err.Error(), "MAILBRIDGE_PUBLISH_TIMEOUT") {
		t.Errorf("serve with a negative publish timeout = %v, want an error naming MAILBRIDGE_PUBLISH_TIMEOUT", err)
	}
}

func TestUnknownVariablesFound(t *testing.T) {
	t.Parallel()
	environ := []string{
		"MAILBRIDGE_WEBHOOK_API_KEY=secret",
		"MAILBRIDGE_WEBHOOK_APIKEY=secret",
		"MAILBRIDGE_ALERT_SLACK_URL=http://127.0.0.1:1/hook",
		"MAILBRIDGE_ADMIN_TOKEN=t",
		"MAILBRIDGE_CMC_API_KEY=k",
		"MAILBRIDGE_NAT_URL=nats://127.0.0.1:4222",
		"MAILBRIDGE_HARDFAILURES_OUTPUT=hard.csv",
		"PATH=/usr/bin",
		"GOGC=100",
	}
	got := unknownVariables(environ)
	want := []string{"MAILBRIDGE_NAT_URL", "MAILBRIDGE_WEBHOOK_APIKEY"}
	if !slices.Equal(got, want) {
		t.Errorf("unknownVariables = %q, want %q", got, want)
	}
}
