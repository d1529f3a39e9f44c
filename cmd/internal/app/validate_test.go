package app

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidateRanges(t *testing.T) {
	t.Parallel()
	ingress := IngressConfig{MaxBodyBytes: 4 << 20, PublishTimeout: 5 * time.Second}
	streamCfg := StreamConfig{StreamReplicas: 1, StreamMaxAge: 720 * time.Hour, DuplicateWindow: 2 * time.Minute}
	if err := ingress.Validate(); err != nil {
		t.Fatalf("defaults of the ingress: %v", err)
	}
	if err := streamCfg.Validate(); err != nil {
		t.Fatalf("defaults of the stream: %v", err)
	}

	tests := []struct {
		name     string
		validate func() error
		variable string // empty when the value is valid
	}{
		{"negative body size", func() error { c := ingress; c.MaxBodyBytes = -1; return c.Validate() }, "MAILBRIDGE_MAX_BODY_BYTES"},
		{"zero body size", func() error { c := ingress; c.MaxBodyBytes = 0; return c.Validate() }, "MAILBRIDGE_MAX_BODY_BYTES"},
		{"negative publish timeout", func() error { c := ingress; c.PublishTimeout = -time.Second; return c.Validate() }, "MAILBRIDGE_PUBLISH_TIMEOUT"},
		{"zero publish timeout", func() error { c := ingress; c.PublishTimeout = 0; return c.Validate() }, "MAILBRIDGE_PUBLISH_TIMEOUT"},
		{"zero replicas", func() error { c := streamCfg; c.StreamReplicas = 0; return c.Validate() }, "MAILBRIDGE_STREAM_REPLICAS"},
		{"negative replicas", func() error { c := streamCfg; c.StreamReplicas = -3; return c.Validate() }, "MAILBRIDGE_STREAM_REPLICAS"},
		{"six replicas", func() error { c := streamCfg; c.StreamReplicas = 6; return c.Validate() }, "MAILBRIDGE_STREAM_REPLICAS"},
		{"five replicas", func() error { c := streamCfg; c.StreamReplicas = 5; return c.Validate() }, ""},
		{"negative max age", func() error { c := streamCfg; c.StreamMaxAge = -time.Hour; return c.Validate() }, "MAILBRIDGE_STREAM_MAX_AGE"},
		{"zero max age keeps events", func() error { c := streamCfg; c.StreamMaxAge = 0; return c.Validate() }, ""},
		{"negative max bytes", func() error { c := streamCfg; c.StreamMaxBytes = -1; return c.Validate() }, "MAILBRIDGE_STREAM_MAX_BYTES"},
		{"zero duplicate window", func() error { c := streamCfg; c.DuplicateWindow = 0; return c.Validate() }, "MAILBRIDGE_DUPLICATE_WINDOW"},
		{"window over max age", func() error { c := streamCfg; c.StreamMaxAge = time.Minute; return c.Validate() }, "MAILBRIDGE_DUPLICATE_WINDOW"},
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
			if !strings.Contains(err.Error(), "use ") && !strings.Contains(err.Error(), "shorten") {
				t.Errorf("error %q does not say which values are allowed", err)
			}
		})
	}
}

func TestNewIngressRejectsNegativeBodySize(t *testing.T) {
	t.Parallel()
	ingress := IngressConfig{CMCTimezone: "Asia/Tokyo", MaxBodyBytes: -1, PublishTimeout: 5 * time.Second}
	streamCfg := StreamConfig{SubjectPrefix: "mail", StreamReplicas: 1, DuplicateWindow: 2 * time.Minute}
	if _, err := NewIngress(ingress, streamCfg, IngressDeps{}); err == nil || !strings.Contains(err.Error(), "MAILBRIDGE_MAX_BODY_BYTES") {
		t.Errorf("NewIngress with a negative body size = %v, want an error naming MAILBRIDGE_MAX_BODY_BYTES", err)
	}
}
