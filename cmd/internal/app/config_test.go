package app

import (
	"strings"
	"testing"
)

func TestLoadConfigNamesUnparsableValue(t *testing.T) {
	cases := []struct {
		variable, value, want string
	}{
		{"MAILBRIDGE_PUBLISH_TIMEOUT", "5", `MAILBRIDGE_PUBLISH_TIMEOUT "5" is not a duration: use Go syntax such as 5s, 2m or 720h`},
		{"MAILBRIDGE_MAX_BODY_BYTES", "4MB", `MAILBRIDGE_MAX_BODY_BYTES "4MB" is not a whole number of bytes such as 4194304`},
		{"MAILBRIDGE_STREAM_REPLICAS", "three", `MAILBRIDGE_STREAM_REPLICAS "three" is not a whole number such as 3`},
		{"MAILBRIDGE_FLAG", "yes please", `MAILBRIDGE_FLAG "yes please" is not a boolean: use true or false`},
		{"MAILBRIDGE_RATIO", "half", `MAILBRIDGE_RATIO "half" is not a number such as 0.5`},
	}
	for _, c := range cases {
		t.Run(c.variable, func(t *testing.T) {
			t.Setenv(c.variable, c.value)
			var cfg struct {
				IngressConfig
				StreamConfig
				Flag  bool    `envconfig:"FLAG"`
				Ratio float64 `envconfig:"RATIO"`
			}
			err := LoadConfig(&cfg)
			if err == nil {
				t.Fatalf("no error for %s=%s", c.variable, c.value)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "strconv") || strings.Contains(err.Error(), "envconfig.Process") {
				t.Errorf("error %q still shows the parser's internals", err)
			}
		})
	}
}
