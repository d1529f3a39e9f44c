package app

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// EnvPrefix is the prefix of every environment variable.
const EnvPrefix = "MAILBRIDGE"

// NATSConfig is how every command reaches NATS.
type NATSConfig struct {
	URL      string `envconfig:"NATS_URL" desc:"NATS server or cluster URLs, comma-separated; when empty, serve starts an embedded server and the other commands connect to EMBEDDED_NATS_ADDR"`
	Creds    string `envconfig:"NATS_CREDS" desc:"path of a NATS credentials (.creds) file"`
	NKeyFile string `envconfig:"NATS_NKEY_FILE" desc:"path of an NKey seed file"`
	TLSCA    string `envconfig:"NATS_TLS_CA" desc:"path of a PEM CA bundle that signs the NATS servers' certificates"`
	TLSCert  string `envconfig:"NATS_TLS_CERT" desc:"path of a PEM client certificate for mutual TLS"`
	TLSKey   string `envconfig:"NATS_TLS_KEY" desc:"path of the PEM key of NATS_TLS_CERT"`

	EmbeddedAddr string `envconfig:"EMBEDDED_NATS_ADDR" default:"127.0.0.1:4222" desc:"client address of the embedded NATS server (host:port); port -1 listens nowhere"`
	DataDir      string `envconfig:"DATA_DIR" default:"./data" desc:"directory of the embedded server's JetStream store"`
	// EmbeddedMaxStore is passed to the embedded server as JetStream's max
	// store.
	EmbeddedMaxStore int64 `envconfig:"EMBEDDED_JETSTREAM_MAX_STORE_BYTES" default:"0" desc:"JetStream's max store of the embedded server in bytes; over it webhooks are answered 503 until events are removed; 0 lets nats-server size it from the disk space free at start"`

	// RetryConnect keeps trying a NATS_URL that is unreachable at start
	// instead of failing. It is set by code, not by the environment.
	RetryConnect bool `ignored:"true"`
}

// StreamConfig is the stream and its subjects.
type StreamConfig struct {
	StreamName      string        `envconfig:"STREAM_NAME" default:"MAIL" desc:"JetStream stream that stores the events"`
	SubjectPrefix   string        `envconfig:"SUBJECT_PREFIX" default:"mail" desc:"first subject token(s) of every event, as in mail.deliveries.failed"`
	StreamReplicas  int           `envconfig:"STREAM_REPLICAS" default:"1" desc:"stream replicas (3 on a three-node cluster)"`
	StreamMaxAge    time.Duration `envconfig:"STREAM_MAX_AGE" default:"720h" desc:"events older than this are removed from the stream; 0 keeps them"`
	StreamMaxBytes  int64         `envconfig:"STREAM_MAX_BYTES" default:"0" desc:"maximum stream size in bytes, 0 for no limit; when full, webhooks are answered 503 rather than old events dropped"`
	DuplicateWindow time.Duration `envconfig:"DUPLICATE_WINDOW" default:"2m" desc:"how long JetStream drops a repeated event id"`
}

// LogConfig is the logger's configuration.
type LogConfig struct {
	Level  string `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	Format string `envconfig:"LOG_FORMAT" default:"text" desc:"text or json"`
}

// IngressConfig is the webhook ingress's configuration, the same for
// "mailbridge serve" and the Lambda function.
type IngressConfig struct {
	CMCTimezone          string        `envconfig:"CMC_TIMEZONE" default:"Asia/Tokyo" desc:"time zone of CMC's created field, as set in the CMC webhook"`
	WebhookBasicUser     string        `envconfig:"WEBHOOK_BASIC_USER" desc:"HTTP Basic user that CMC must send"`
	WebhookBasicPassword string        `envconfig:"WEBHOOK_BASIC_PASSWORD" desc:"HTTP Basic password that CMC must send"`
	WebhookAPIKey        string        `envconfig:"WEBHOOK_API_KEY" desc:"API key that CMC must send as Authorization: Bearer or as the api_key field"`
	MaxBodyBytes         int64         `envconfig:"MAX_BODY_BYTES" default:"4194304" desc:"largest webhook body in bytes, counted after gzip decompression"`
	PublishTimeout       time.Duration `envconfig:"PUBLISH_TIMEOUT" default:"5s" desc:"how long a webhook waits for JetStream to store its events before it is answered 503"`
	CloudEventsMode      string        `envconfig:"CLOUDEVENTS_MODE" default:"binary" desc:"CloudEvents content mode on NATS: binary (ce- headers) or structured (application/cloudevents+json)"`
}

// LoadConfig reads the MAILBRIDGE_ environment variables into cfg, a
// pointer to a config struct.
// A value that does not parse is named with its variable and the syntax
// to use.
func LoadConfig(cfg any) error {
	err := envconfig.Process(EnvPrefix, cfg)
	var parseErr *envconfig.ParseError
	if errors.As(err, &parseErr) {
		return fmt.Errorf("configuration: %w", describeParseError(parseErr))
	}
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return nil
}

// describeParseError rewords envconfig's error for a value that does not
// parse as the field's type, which names Go types and strconv functions.
func describeParseError(e *envconfig.ParseError) error {
	var want string
	switch e.TypeName {
	case "time.Duration":
		want = "is not a duration: use Go syntax such as 5s, 2m or 720h"
	case "bool":
		want = "is not a boolean: use true or false"
	case "int", "int64", "int32", "uint", "uint64", "uint32":
		if strings.HasSuffix(e.KeyName, "_BYTES") {
			want = "is not a whole number of bytes such as 4194304"
		} else {
			want = "is not a whole number such as 3"
		}
	case "float64", "float32":
		want = "is not a number such as 0.5"
	default:
		return fmt.Errorf("%s %q is invalid: %w", e.KeyName, e.Value, e.Err)
	}
	return fmt.Errorf("%s %q %s", e.KeyName, e.Value, want)
}

// WriteVariables writes one line per environment variable of cfg with its
// default and meaning.
func WriteVariables(w io.Writer, cfg any) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	format := "{{range .}}  {{usage_key .}}\t{{usage_default .}}\t{{usage_description .}}\n{{end}}"
	if err := envconfig.Usagef(EnvPrefix, cfg, tw, format); err != nil {
		return err
	}
	return tw.Flush()
}

// SplitURLs turns a comma-separated list into a NATS server list.
func SplitURLs(list string) string {
	parts := strings.Split(list, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return strings.Join(parts, ",")
}
