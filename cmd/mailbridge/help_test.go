package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
)

// envVariables returns every variable name and default tag of a config
// struct, walking its embedded structs.
func envVariables(typ reflect.Type) map[string]string {
	out := map[string]string{}
	for i := range typ.NumField() {
		field := typ.Field(i)
		if field.Anonymous && field.Type.Kind() == reflect.Struct {
			for name, def := range envVariables(field.Type) {
				out[name] = def
			}
			continue
		}
		if name := field.Tag.Get("envconfig"); name != "" {
			out[envPrefix+"_"+name] = field.Tag.Get("default")
		}
	}
	return out
}

func TestHelpListsEveryVariable(t *testing.T) {
	t.Parallel()
	var stdout bytes.Buffer
	if err := runHelp(context.Background(), nil, nil, &stdout, &stdout); err != nil {
		t.Fatal(err)
	}
	help := stdout.String()

	variables := envVariables(reflect.TypeOf(serveConfig{}))
	if len(variables) < 18 {
		t.Fatalf("found %d variables in serveConfig, want at least 18", len(variables))
	}
	for name, def := range variables {
		line := ""
		for _, l := range strings.Split(help, "\n") {
			if strings.Fields(l + " x")[0] == name {
				line = l
				break
			}
		}
		if line == "" {
			t.Errorf("help does not list %s", name)
			continue
		}
		if def != "" && !strings.Contains(line, " "+def+" ") {
			t.Errorf("help line of %s does not show its default %q: %s", name, def, line)
		}
		if len(strings.Fields(line)) < 3 {
			t.Errorf("help line of %s has no description: %s", name, line)
		}
	}
}

func TestHelpFlagRunsHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, nil, &stdout, &stderr); code != exitOK {
		t.Errorf("exit code = %d, want %d; stderr %s", code, exitOK, stderr.String())
	}
	if !strings.Contains(stdout.String(), "MAILBRIDGE_NATS_URL") {
		t.Errorf("--help output lacks the variables:\n%s", stdout.String())
	}
}
