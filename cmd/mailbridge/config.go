package main

import (
	"bytes"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/mailbridge/mailbridge/cmd/internal/app"
)

// envPrefix is the prefix of every environment variable.
const envPrefix = app.EnvPrefix

// NATSConfig is how every subcommand reaches NATS. Its fields are those of
// app.NATSConfig, which the Lambda function reads too.
type NATSConfig app.NATSConfig

// The other configuration blocks that every command shares live in
// cmd/internal/app, so that the Lambda function reads them the same way.
type (
	// StreamConfig is the stream and its subjects.
	StreamConfig = app.StreamConfig
	// LogConfig is the logger's configuration.
	LogConfig = app.LogConfig
)

// serveConfig is the configuration of "mailbridge serve".
type serveConfig struct {
	HTTPAddr           string        `envconfig:"HTTP_ADDR" default:":8080" desc:"listen address of the webhook ingress"`
	ShutdownTimeout    time.Duration `envconfig:"SHUTDOWN_TIMEOUT" default:"30s" desc:"how long a stop waits for webhooks in flight"`
	PublishConnections int           `envconfig:"PUBLISH_CONNECTIONS" default:"1" desc:"NATS connections the ingress publishes over, 1 to 64; concurrent webhooks are spread across them (more may help on machines with more cores)"`

	ReadHeaderTimeout time.Duration `envconfig:"READ_HEADER_TIMEOUT" default:"10s" desc:"how long a client may take to send the request headers"`
	ReadTimeout       time.Duration `envconfig:"READ_TIMEOUT" default:"30s" desc:"how long a client may take to send the whole request, body included"`

	app.IngressConfig
	NATSConfig
	StreamConfig
	BufferConfig
	LogConfig
}

// loadConfig reads the environment into cfg, a pointer to a config struct.
func loadConfig(cfg any) error { return app.LoadConfig(cfg) }

// writeVariables writes one line per environment variable of cfg with its
// default and meaning.
func writeVariables(w io.Writer, cfg any) error { return app.WriteVariables(w, cfg) }

// splitURLs turns a comma-separated list into a NATS server list.
func splitURLs(list string) string { return app.SplitURLs(list) }

// warnUnknownVariables logs a warning for each variable in environ that
// starts with MAILBRIDGE_ but that no command reads, such as a misspelt
// MAILBRIDGE_WEBHOOK_APIKEY, which would otherwise leave the setting at
// its default without a word.
func warnUnknownVariables(logger *slog.Logger, environ []string) {
	for _, name := range unknownVariables(environ) {
		logger.Warn("unknown environment variable ignored: check its spelling in 'mailbridge help'", slog.String("variable", name))
	}
}

// unknownVariables returns the names in environ, as from os.Environ, that
// start with MAILBRIDGE_ and that none of the commands' configurations
// has, sorted.
func unknownVariables(environ []string) []string {
	var keys bytes.Buffer
	for _, cfg := range allConfigs() {
		if err := envconfig.Usagef(app.EnvPrefix, cfg, &keys, "{{range .}}{{usage_key .}}\n{{end}}"); err != nil {
			return nil
		}
	}
	known := map[string]bool{}
	for _, key := range strings.Fields(keys.String()) {
		known[key] = true
	}
	var unknown []string
	for _, entry := range environ {
		name, _, _ := strings.Cut(entry, "=")
		// The example consumer in examples/hardfailures reads its own
		// variables, often from the same environment.
		if strings.HasPrefix(name, app.EnvPrefix+"_HARDFAILURES_") {
			continue
		}
		if strings.HasPrefix(name, app.EnvPrefix+"_") && !known[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	return unknown
}

// allConfigs returns serve's configuration and that of each help section:
// every variable that help lists.
func allConfigs() []any {
	configs := []any{&serveConfig{}}
	for _, section := range helpSections {
		configs = append(configs, section.config)
	}
	return configs
}
