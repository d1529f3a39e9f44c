package schemas_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/ingress"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/schemas"
)

// vendorExamples returns the vendor's example bodies by file name.
func vendorExamples(t *testing.T) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("../testdata/cmc/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 5 {
		t.Fatalf("found %d vendor examples, want 5", len(paths))
	}
	out := make(map[string][]byte, len(paths))
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(path)] = data
	}
	return out
}

// toVersion1 rewrites a version 2 JSON body with version 1 record names.
func toVersion1(t *testing.T, body []byte) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	eventType := doc["event_type"].(string)
	records := doc["event"].(map[string]any)[eventType].([]any)
	for _, r := range records {
		record := r.(map[string]any)
		record["envelopeFrom"] = record["returnPath"]
		record["envelopeTo"] = record["to"]
		delete(record, "returnPath")
		delete(record, "to")
		delete(record, "apiData")
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// toFormFields returns the decoded fields of a form post of a JSON body,
// as the form schema describes them.
func toFormFields(t *testing.T, body []byte) []byte {
	t.Helper()
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for name, raw := range doc {
		if name == "event" {
			fields[name] = string(raw)
			continue
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		fields[name] = s
	}
	out, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVendorExamplesMatchWebhookSchemas(t *testing.T) {
	t.Parallel()
	for name, body := range vendorExamples(t) {
		t.Run(name, func(t *testing.T) {
			if err := schemas.Validate(schemas.WebhookV2, body); err != nil {
				t.Errorf("version 2 body: %v", err)
			}
			if err := schemas.Validate(schemas.WebhookV1, body); err == nil {
				t.Error("version 2 body matches the version 1 schema")
			}

			v1 := toVersion1(t, body)
			if err := schemas.Validate(schemas.WebhookV1, v1); err != nil {
				t.Errorf("version 1 body: %v", err)
			}
			if err := schemas.Validate(schemas.WebhookV2, v1); err == nil {
				t.Error("version 1 body matches the version 2 schema")
			}

			for version, b := range map[string][]byte{"v2": body, "v1": v1} {
				if err := schemas.Validate(schemas.WebhookForm, toFormFields(t, b)); err != nil {
					t.Errorf("form fields of the %s body: %v", version, err)
				}
			}
		})
	}
}

func TestWebhookSchemasRejectBadBodies(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, schema, body string
	}{
		{"unknown event_type", schemas.WebhookV2,
			`{"event_type":"opens","event":{"opens":[]}}`},
		{"list named for another event_type", schemas.WebhookV2,
			`{"event_type":"bounces","event":{"deliveries":[]}}`},
		{"record without to", schemas.WebhookV2,
			`{"event_type":"deliveries","event":{"deliveries":[{"created":"2023-01-25 14:03:06","status":"queued"}]}}`},
		{"bounce code not a number", schemas.WebhookV2,
			`{"event_type":"bounces","event":{"bounces":[{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"two"}]}}`},
		{"created not a time", schemas.WebhookV2,
			`{"event_type":"deliveries","event":{"deliveries":[{"created":"yesterday","to":"a@example.jp","status":"queued"}]}}`},
		{"event not an object", schemas.WebhookV2,
			`{"event_type":"deliveries","event":[1]}`},
		{"form event not JSON", schemas.WebhookForm,
			`{"event_type":"deliveries","event":"{\"deliveries\": ["}`},
		{"form event records wrong", schemas.WebhookForm,
			`{"event_type":"deliveries","event":"{\"deliveries\":[{\"status\":\"queued\"}]}"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := schemas.Validate(tc.schema, []byte(tc.body))
			if !errors.Is(err, schemas.ErrInvalid) {
				t.Errorf("Validate = %v, want an error wrapping ErrInvalid", err)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	t.Parallel()
	if err := schemas.Validate(schemas.Base+"data/nothing.json", []byte(`{}`)); !errors.Is(err, schemas.ErrUnknownSchema) {
		t.Errorf("unknown $id: %v, want ErrUnknownSchema", err)
	}
	if err := schemas.Validate(schemas.Delivery, []byte(`{"created":`)); !errors.Is(err, schemas.ErrInvalidJSON) {
		t.Errorf("truncated JSON: %v, want ErrInvalidJSON", err)
	}
}

func TestSchemaIDsMatchFilesAndDataschemas(t *testing.T) {
	t.Parallel()
	ids, err := schemas.IDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		raw, err := schemas.Files.ReadFile(strings.TrimPrefix(id, schemas.Base))
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if head.ID != id {
			t.Errorf("$id of %s = %q, want %q", strings.TrimPrefix(id, schemas.Base), head.ID, id)
		}
		if head.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("$schema of %s = %q, want draft 2020-12", id, head.Schema)
		}
	}

	dataschemas := map[string]string{
		mailevent.SchemaDelivery: schemas.Delivery,
		mailevent.SchemaBounce:   schemas.Bounce,
		mailevent.SchemaBlock:    schemas.Block,
	}
	for dataschema, id := range dataschemas {
		if dataschema != id {
			t.Errorf("mailevent dataschema %q != schema $id %q", dataschema, id)
		}
		if !slices.Contains(ids, dataschema) {
			t.Errorf("dataschema %q has no schema file", dataschema)
		}
	}
}

// classify replaces the bounce classifier in these tests. It gives every failure
// the verdict of an unknown user, which is enough to put a classification
// member into the data.
func classify(diagnostic, bounceCode, deliveryStatus string) mailevent.Classification {
	return mailevent.Classification{Reason: "userunknown", Hard: deliveryStatus != "deferred", SMTPCode: "550", EnhancedStatus: "5.1.1"}
}

func newBuilder(t *testing.T) *mailevent.Builder {
	t.Helper()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	return &mailevent.Builder{
		Subjects: mailevent.Subjects{Prefix: mailevent.DefaultPrefix},
		Location: tokyo,
		Classify: classify,
	}
}

func TestBuiltEventDataMatchesDataschema(t *testing.T) {
	t.Parallel()
	builder := newBuilder(t)
	extra := map[string]cmc.EventType{
		"deferred delivery": cmc.EventTypeDeliveries,
		"unknown status":    cmc.EventTypeDeliveries,
		"unknown bounce":    cmc.EventTypeBounces,
		"block with email":  cmc.EventTypeBlocks,
		"block with to":     cmc.EventTypeBlocks,
		"unknown fields":    cmc.EventTypeDeliveries,
	}
	records := map[string]string{
		"deferred delivery": `{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"deferred","reason":"421 4.7.0 try again later"}`,
		"unknown status":    `{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"bounced"}`,
		"unknown bounce":    `{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"42"}`,
		"block with email":  `{"created":"2023-01-25 14:03:06","email":"a@example.jp","status":"blocked","id":"17","occurred":"2023-01-25 14:00:00"}`,
		"block with to":     `{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"1"}`,
		"unknown fields":    `{"created":"2023-01-25 14:03:06","to":"a@example.jp","status":"queued","tags":["a",1],"classification":"x"}`,
	}

	check := func(t *testing.T, eventType cmc.EventType, raw json.RawMessage) {
		ev, _, err := builder.Build(eventType, "pro", raw)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		if err := schemas.Validate(ev.DataSchema, ev.Data); err != nil {
			t.Errorf("data of %s does not match %s: %v\ndata: %s", ev.Type, ev.DataSchema, err, ev.Data)
		}
	}

	for name, body := range vendorExamples(t) {
		t.Run(name, func(t *testing.T) {
			batch, err := cmc.Decode("application/json", body, cmc.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			for _, raw := range batch.Entries {
				check(t, batch.EventType, raw)
			}
		})
	}
	for name, record := range records {
		t.Run(name, func(t *testing.T) {
			check(t, extra[name], json.RawMessage(record))
		})
	}
}

func TestDataSchemasRejectBadData(t *testing.T) {
	t.Parallel()
	builder := newBuilder(t)
	body, err := os.ReadFile("../testdata/cmc/bounces-user-unknown.json")
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cmc.Decode("application/json", body, cmc.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ev, _, err := builder.Build(batch.EventType, batch.ServerComposition, batch.Entries[0])
	if err != nil {
		t.Fatal(err)
	}

	edits := map[string]func(map[string]any){
		"classification reason not a sisimai name": func(d map[string]any) {
			d["classification"].(map[string]any)["reason"] = "nosuchuser"
		},
		"classification hard not a boolean": func(d map[string]any) {
			d["classification"].(map[string]any)["hard"] = "yes"
		},
		"enhanced status not a code": func(d map[string]any) { d["enhanced_status"] = "5.1" },
		"bounce name invented":       func(d map[string]any) { d["bounce_name"] = "gone" },
		"recipient missing":          func(d map[string]any) { delete(d, "to") },
		"bounce code a string":       func(d map[string]any) { d["bounce_code"] = "2" },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			var data map[string]any
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				t.Fatal(err)
			}
			edit(data)
			changed, err := json.Marshal(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := schemas.Validate(schemas.Bounce, changed); !errors.Is(err, schemas.ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid for %s", err, changed)
			}
		})
	}
}

// asyncAPI is the part of the AsyncAPI document that the test reads.
type asyncAPI struct {
	AsyncAPI string `yaml:"asyncapi"`
	Channels map[string]struct {
		Address  string         `yaml:"address"`
		Messages map[string]any `yaml:"messages"`
	} `yaml:"channels"`
	Operations map[string]struct {
		Action  string `yaml:"action"`
		Channel struct {
			Ref string `yaml:"$ref"`
		} `yaml:"channel"`
	} `yaml:"operations"`
	Components struct {
		Messages map[string]yaml.Node `yaml:"messages"`
	} `yaml:"components"`
}

func TestAsyncAPINamesEverySubjectAndType(t *testing.T) {
	t.Parallel()
	raw, err := schemas.Files.ReadFile(schemas.AsyncAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc asyncAPI
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("asyncapi.yaml is not YAML: %v", err)
	}
	if doc.AsyncAPI != "3.0.0" {
		t.Errorf("asyncapi = %q, want 3.0.0", doc.AsyncAPI)
	}

	// Every channel address, with the prefix parameter filled in, as a
	// pattern where other parameters match one token.
	var addresses []*regexp.Regexp
	for name, channel := range doc.Channels {
		if len(channel.Messages) == 0 {
			t.Errorf("channel %s has no message", name)
		}
		pattern := regexp.QuoteMeta(strings.ReplaceAll(channel.Address, "{prefix}", "mail"))
		pattern = regexp.MustCompile(`\\\{[a-z]+\\\}`).ReplaceAllString(pattern, `[^.]+`)
		addresses = append(addresses, regexp.MustCompile("^"+pattern+"$"))
	}
	subjects := mailevent.Subjects{Prefix: "mail"}
	want := []string{subjects.Rejected(), subjects.Block("blocked"), subjects.Block("?")}
	for _, status := range []string{"queued", "succeeded", "failed", "deferred", "bounced"} {
		want = append(want, subjects.Delivery(status))
	}
	for _, code := range mailevent.BounceCodes {
		want = append(want, subjects.Bounce(code.Code))
	}
	want = append(want, subjects.Bounce("0"))
	for _, subject := range want {
		found := slices.ContainsFunc(addresses, func(re *regexp.Regexp) bool { return re.MatchString(subject) })
		if !found {
			t.Errorf("no channel for subject %s", subject)
		}
	}

	// Every operation names a channel that exists.
	for name, op := range doc.Operations {
		channel := strings.TrimPrefix(op.Channel.Ref, "#/channels/")
		if _, ok := doc.Channels[channel]; !ok || op.Action != "receive" {
			t.Errorf("operation %s: action %q on channel %q, want receive on a listed channel", name, op.Action, op.Channel.Ref)
		}
	}

	// Every CloudEvent type and every rejected header is named.
	messages := string(raw[strings.Index(string(raw), "\ncomponents:"):])
	for _, eventType := range mailevent.Types() {
		if !strings.Contains(messages, "const: "+eventType+"\n") {
			t.Errorf("no message with ce-type %s", eventType)
		}
	}
	headers := []string{
		ingress.HeaderRejectReason, ingress.HeaderContentType, ingress.HeaderReceivedAt,
		ingress.HeaderRequestID, ingress.HeaderTruncated, ingress.HeaderEventType,
		ingress.HeaderServerComposition, ingress.HeaderEntryIndex, mailevent.HeaderMsgID,
	}
	for _, header := range headers {
		if !strings.Contains(messages, header+":") {
			t.Errorf("rejected message does not list header %s", header)
		}
	}

	// Payload references point at embedded schemas.
	for _, ref := range regexp.MustCompile(`\$ref: '\./([^']+)'`).FindAllStringSubmatch(string(raw), -1) {
		if _, err := schemas.Files.ReadFile(ref[1]); err != nil {
			t.Errorf("payload $ref %s: %v", ref[1], err)
		}
	}
}
