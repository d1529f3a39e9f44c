// Package schemas holds mailbridge's JSON Schemas (draft 2020-12) and its
// AsyncAPI document, embedded in the binary, and validates JSON against
// them.
//
// The data schemas describe the data of each CloudEvent type. Their $id is
// the event's dataschema attribute, so a consumer validates an event's data
// with Validate(ev.DataSchema, ev.Data). The webhook schemas describe the
// bodies that Customers Mail Cloud posts.
package schemas

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Base is the start of every schema $id. The rest of an $id is the file's
// path in this directory.
const Base = "https://github.com/mailbridge/mailbridge/schemas/"

// The $id of each schema.
const (
	// Delivery is the data of the delivery event types.
	Delivery = Base + "data/delivery.json"
	// Bounce is the data of the bounce event type.
	Bounce = Base + "data/bounce.json"
	// Block is the data of the block event type.
	Block = Base + "data/block.json"
	// Classification is the classification member of the data.
	Classification = Base + "data/classification.json"

	// WebhookV1 is a JSON webhook body with version 1 record names.
	WebhookV1 = Base + "webhook/v1.json"
	// WebhookV2 is a JSON webhook body with version 2 record names.
	WebhookV2 = Base + "webhook/v2.json"
	// WebhookForm is the decoded fields of a form or multipart webhook.
	WebhookForm = Base + "webhook/form.json"
)

// AsyncAPIPath is the path of the AsyncAPI 3.0 document in Files.
const AsyncAPIPath = "asyncapi.yaml"

// Files holds the schema files and the AsyncAPI document.
//
//go:embed data/*.json webhook/*.json asyncapi.yaml
var Files embed.FS

var (
	compileOnce sync.Once
	compiled    map[string]*jsonschema.Schema
	compileErr  error
)

// Validate checks the JSON document data against the schema with the given
// $id. It returns an error wrapping ErrUnknownSchema for an $id that is
// not one of the embedded schemas, ErrInvalidJSON when data is not JSON,
// and an error wrapping ErrInvalid that lists every violation otherwise.
func Validate(schemaID string, data []byte) error {
	compileOnce.Do(func() { compiled, compileErr = compileAll() })
	if compileErr != nil {
		return compileErr
	}
	schema, ok := compiled[schemaID]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownSchema, schemaID)
	}

	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidJSON, err)
	}
	if err := schema.Validate(doc); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// IDs returns the $id of every embedded JSON Schema.
func IDs() ([]string, error) {
	var ids []string
	err := fs.WalkDir(Files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".json") {
			ids = append(ids, Base+path)
		}
		return nil
	})
	return ids, err
}

// compileAll compiles every embedded schema. References between them
// resolve inside Files, so compiling never reaches the network.
func compileAll() (map[string]*jsonschema.Schema, error) {
	ids, err := IDs()
	if err != nil {
		return nil, fmt.Errorf("list schemas: %w", err)
	}

	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft2020)
	compiler.AssertContent()
	for _, id := range ids {
		raw, err := Files.ReadFile(strings.TrimPrefix(id, Base))
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", id, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("parse schema %s: %w", id, err)
		}
		if err := compiler.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", id, err)
		}
	}

	out := make(map[string]*jsonschema.Schema, len(ids))
	for _, id := range ids {
		schema, err := compiler.Compile(id)
		if err != nil {
			return nil, fmt.Errorf("compile schema %s: %w", id, err)
		}
		out[id] = schema
	}
	return out, nil
}
