package mailevent_test

import (
	"encoding/json"
	"path"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/schemas"
)

// untypedMembers are the schema members that a data struct leaves in the
// raw data on purpose, by schema file.
var untypedMembers = map[string][]string{
	// Block types only the members of CMC's REST block records.
	"data/block.json": {"to"},
}

// schemaMember is one property of a data schema, with its $ref resolved.
type schemaMember struct {
	types  []string // JSON types; an enum of strings counts as "string"
	object *objectSchema
}

// objectSchema is the flattened properties of an object schema.
type objectSchema struct {
	file       string
	properties map[string]schemaMember
}

// loadObjectSchema reads file from the embedded schemas and merges the
// properties of the schema it refers to with $ref.
func loadObjectSchema(t *testing.T, file string) *objectSchema {
	t.Helper()
	raw, err := schemas.Files.ReadFile(file)
	if err != nil {
		t.Fatalf("read schema %s: %v", file, err)
	}
	var doc struct {
		Ref        string                     `json:"$ref"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse schema %s: %v", file, err)
	}

	out := &objectSchema{file: file, properties: make(map[string]schemaMember)}
	if doc.Ref != "" {
		base := loadObjectSchema(t, path.Join(path.Dir(file), doc.Ref))
		for name, member := range base.properties {
			out.properties[name] = member
		}
	}
	for name, rawMember := range doc.Properties {
		out.properties[name] = parseMember(t, file, name, rawMember)
	}
	return out
}

func parseMember(t *testing.T, file, name string, raw json.RawMessage) schemaMember {
	t.Helper()
	var m struct {
		Ref  string            `json:"$ref"`
		Type json.RawMessage   `json:"type"`
		Enum []json.RawMessage `json:"enum"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: member %s: %v", file, name, err)
	}
	var member schemaMember
	switch {
	case m.Ref != "":
		member.types = []string{"object"}
		member.object = loadObjectSchema(t, path.Join(path.Dir(file), m.Ref))
	case len(m.Type) > 0 && m.Type[0] == '[':
		if err := json.Unmarshal(m.Type, &member.types); err != nil {
			t.Fatalf("%s: member %s: type: %v", file, name, err)
		}
	case len(m.Type) > 0:
		var one string
		if err := json.Unmarshal(m.Type, &one); err != nil {
			t.Fatalf("%s: member %s: type: %v", file, name, err)
		}
		member.types = []string{one}
	case len(m.Enum) > 0 && m.Enum[0][0] == '"':
		member.types = []string{"string"}
	default:
		t.Fatalf("%s: member %s has no type, enum of strings or $ref that this test reads", file, name)
	}
	sort.Strings(member.types)
	return member
}

// structMembers returns the JSON members of a struct type by name,
// following embedded structs as encoding/json does.
func structMembers(typ reflect.Type) map[string]reflect.StructField {
	out := make(map[string]reflect.StructField)
	for i := range typ.NumField() {
		field := typ.Field(i)
		if field.Anonymous && field.Type.Kind() == reflect.Struct {
			for name, inner := range structMembers(field.Type) {
				out[name] = inner
			}
			continue
		}
		name, _, _ := strings.Cut(field.Tag.Get("json"), ",")
		if name == "-" || !field.IsExported() {
			continue
		}
		if name == "" {
			name = field.Name
		}
		out[name] = field
	}
	return out
}

// jsonTypes returns the JSON types a Go field type decodes from, sorted.
func jsonTypes(typ reflect.Type) []string {
	var types []string
	if typ.Kind() == reflect.Pointer {
		types = append(types, "null")
		typ = typ.Elem()
	}
	switch typ.Kind() {
	case reflect.String:
		types = append(types, "string")
	case reflect.Bool:
		types = append(types, "boolean")
	case reflect.Int, reflect.Int64, reflect.Int32:
		types = append(types, "integer")
	case reflect.Struct:
		types = append(types, "object")
	default:
		types = append(types, typ.Kind().String())
	}
	sort.Strings(types)
	return types
}

// compareStruct reports every member that typ and schema do not agree on.
func compareStruct(t *testing.T, typ reflect.Type, schema *objectSchema) {
	t.Helper()
	fields := structMembers(typ)
	for name, field := range fields {
		member, ok := schema.properties[name]
		if !ok {
			t.Errorf("%s.%s (json %q) is not a member of %s", typ.Name(), field.Name, name, schema.file)
			continue
		}
		got := jsonTypes(field.Type)
		want := slices.Clone(member.types)
		// An optional object may be absent, which a pointer models as nil.
		if member.object != nil && field.Type.Kind() == reflect.Pointer {
			want = append(want, "null")
			sort.Strings(want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s.%s decodes JSON %v, but %s says %s is %v", typ.Name(), field.Name, got, schema.file, name, want)
		}
		if member.object != nil {
			inner := field.Type
			if inner.Kind() == reflect.Pointer {
				inner = inner.Elem()
			}
			compareStruct(t, inner, member.object)
		}
	}
	for name := range schema.properties {
		if _, ok := fields[name]; ok || slices.Contains(untypedMembers[schema.file], name) {
			continue
		}
		t.Errorf("%s member %s has no field in %s", schema.file, name, typ.Name())
	}
}

func TestDataStructsMatchSchemas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		typ  reflect.Type
	}{
		{"data/delivery.json", reflect.TypeFor[mailevent.Delivery]()},
		{"data/bounce.json", reflect.TypeFor[mailevent.Bounce]()},
		{"data/block.json", reflect.TypeFor[mailevent.Block]()},
		{"data/classification.json", reflect.TypeFor[mailevent.Classification]()},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			compareStruct(t, tt.typ, loadObjectSchema(t, tt.file))
		})
	}
}
