package ingress_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden from the current output")

// golden is what one vendor example stores: the message's subject, its
// headers and its data.
type golden struct {
	NATSSubject string            `json:"nats_subject"`
	Headers     map[string]string `json:"headers"`
	Data        json.RawMessage   `json:"data"`
}

// marshalGolden writes g indented, with <, > and & left as they are so the
// file reads like the message.
func marshalGolden(t *testing.T, g golden) []byte {
	t.Helper()
	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(g); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func goldenOf(t *testing.T, msg *jetstream.RawStreamMsg) golden {
	t.Helper()
	g := golden{NATSSubject: msg.Subject, Headers: map[string]string{}, Data: msg.Data}
	for name, values := range msg.Header {
		if len(values) != 1 {
			t.Errorf("header %s has %d values, want 1", name, len(values))
		}
		g.Headers[name] = values[0]
	}
	return g
}

// goldenMu serializes -update writes, since several encodings of one
// example produce the same file.
var goldenMu sync.Mutex

func TestVendorExamplesMatchGoldens(t *testing.T) {
	t.Parallel()
	for _, name := range exampleNames(t) {
		t.Run(strings.TrimSuffix(name, ".json"), func(t *testing.T) {
			t.Parallel()
			goldenPath := filepath.Join("..", "..", "testdata", "golden", name)
			ids := make([]string, len(encodings))
			for i, enc := range encodings {
				t.Run(enc.name, func(t *testing.T) {
					b := setup(t, nil)
					contentType, body := enc.encode(t, readExample(t, name))
					if result := b.post(t, contentType, body, nil).result(t); result.Accepted != 1 || result.Duplicates != 0 || result.Rejected != 0 {
						t.Errorf("result = %+v, want 1 accepted", result)
					}
					msgs := b.stored(t)
					if len(msgs) != 1 {
						t.Fatalf("stored %d messages, want 1", len(msgs))
					}
					got := marshalGolden(t, goldenOf(t, msgs[0]))

					goldenMu.Lock()
					if *update && enc.name == "json" {
						if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
							t.Fatal(err)
						}
					}
					goldenMu.Unlock()
					want, err := os.ReadFile(goldenPath)
					if err != nil {
						t.Fatalf("%v (run go test ./pkg/ingress -run Goldens -update to write it)", err)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("message differs from %s\ngot:\n%s\nwant:\n%s", goldenPath, got, want)
					}

					ev, err := mailevent.Decode(msgs[0].Header, msgs[0].Data)
					if err != nil {
						t.Fatalf("decode stored message: %v", err)
					}
					if err := ev.Validate(); err != nil {
						t.Error(err)
					}
					if err := schemas.Validate(ev.DataSchema, ev.Data); err != nil {
						t.Errorf("data does not match %s: %v", ev.DataSchema, err)
					}
					ids[i] = ev.ID

					// The same webhook again is a duplicate, not a new event.
					if result := b.post(t, contentType, body, nil).result(t); result.Duplicates != 1 || result.Accepted != 0 {
						t.Errorf("second post result = %+v, want 1 duplicate", result)
					}
					if n := len(b.stored(t)); n != 1 {
						t.Errorf("stored %d messages after the second post, want 1", n)
					}
				})
			}
			for i, enc := range encodings {
				if ids[i] != ids[0] {
					t.Errorf("event id of the %s post = %q, of the %s post = %q, want equal", enc.name, ids[i], encodings[0].name, ids[0])
				}
			}
		})
	}
}
