package main

// Checks of the deployment files under deploy/ and the Dockerfile. No
// container engine runs in CI, so these tests parse the files and compare
// what they name (subcommands, MAILBRIDGE_ variables, ports, routes and
// references between objects) with "mailbridge help" and with each other.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = "../.."

// helpReference is what "mailbridge help" prints: the subcommands and the
// environment variables with their defaults.
type helpReference struct {
	commands  map[string]bool
	variables map[string]bool
	defaults  map[string]string
}

func loadHelpReference(t *testing.T) helpReference {
	t.Helper()
	var out bytes.Buffer
	if err := runHelp(context.Background(), nil, nil, &out, io.Discard); err != nil {
		t.Fatalf("help: %v", err)
	}
	ref := helpReference{commands: map[string]bool{}, variables: map[string]bool{}, defaults: map[string]string{}}

	inCommands := false
	variable := regexp.MustCompile(`^\s+(MAILBRIDGE_[A-Z0-9_]+)\b`)
	scanner := bufio.NewScanner(&out)
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case line == "Commands:":
			inCommands = true
		case inCommands && strings.TrimSpace(line) == "":
			inCommands = false
		case inCommands:
			ref.commands[strings.Fields(line)[0]] = true
		}
		if m := variable.FindStringSubmatch(line); m != nil {
			ref.variables[m[1]] = true
		}
	}
	if len(ref.commands) == 0 || len(ref.variables) == 0 {
		t.Fatalf("help output lists %d commands and %d variables:\n%s", len(ref.commands), len(ref.variables), out.String())
	}

	// The defaults come from the same structs that help prints.
	for _, cfg := range allConfigs() {
		collectDefaults(reflect.TypeOf(cfg).Elem(), ref.defaults)
	}
	return ref
}

// collectDefaults records the default tag of every envconfig field of t,
// following embedded structs as envconfig does.
func collectDefaults(t reflect.Type, defaults map[string]string) {
	for i := 0; i < t.NumField(); i++ {
		field := t.Field(i)
		if field.Anonymous && field.Type.Kind() == reflect.Struct {
			collectDefaults(field.Type, defaults)
			continue
		}
		if key := field.Tag.Get("envconfig"); key != "" {
			defaults[envPrefix+"_"+key] = field.Tag.Get("default")
		}
	}
}

// listenPorts returns the ports of every *_ADDR variable, from env where it
// is set and from the defaults otherwise. A port can only be served when
// one of these names it. The set is the same for every subcommand, so a
// port of another subcommand's listener would pass too.
func (ref helpReference) listenPorts(env map[string]string) map[string]bool {
	ports := map[string]bool{}
	for name, value := range ref.defaults {
		if !strings.HasSuffix(name, "_ADDR") {
			continue
		}
		if v, ok := env[name]; ok {
			value = v
		}
		if _, port, err := net.SplitHostPort(value); err == nil && port != "" {
			ports[port] = true
		}
	}
	return ports
}

// checkVariables reports every name in env that is not a variable of
// mailbridge help. The standard OTEL_ variables are read by the
// OpenTelemetry SDK, so they are allowed too.
func (ref helpReference) checkVariables(t *testing.T, where string, env map[string]string) {
	t.Helper()
	for name := range env {
		if strings.HasPrefix(name, "OTEL_") {
			continue
		}
		if !ref.variables[name] {
			t.Errorf("%s: variable %s is not listed by mailbridge help", where, name)
		}
	}
}

func (ref helpReference) checkCommand(t *testing.T, where string, args []string) {
	t.Helper()
	if len(args) == 0 {
		t.Errorf("%s: no subcommand given", where)
		return
	}
	if !ref.commands[args[0]] {
		t.Errorf("%s: subcommand %q is not one of mailbridge help's commands", where, args[0])
	}
}

func readRepoFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// yamlDocuments decodes every document of a YAML file.
func yamlDocuments(t *testing.T, path string) []map[string]any {
	t.Helper()
	decoder := yaml.NewDecoder(bytes.NewReader(readRepoFile(t, path)))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := decoder.Decode(&doc)
		if err == io.EOF {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// yamlDig walks nested maps and lists along keys; an int key indexes a list.
func yamlDig(v any, keys ...any) any {
	for _, key := range keys {
		switch k := key.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			list, ok := v.([]any)
			if !ok || k >= len(list) {
				return nil
			}
			v = list[k]
		}
	}
	return v
}

func yamlString(v any, keys ...any) string {
	s, _ := yamlDig(v, keys...).(string)
	return s
}

func yamlList(v any, keys ...any) []any {
	list, _ := yamlDig(v, keys...).([]any)
	return list
}

func yamlMap(v any, keys ...any) map[string]any {
	m, _ := yamlDig(v, keys...).(map[string]any)
	return m
}

// yamlStrings turns a YAML list of scalars into strings.
func yamlStrings(list []any) []string {
	var out []string
	for _, item := range list {
		out = append(out, yamlScalar(item))
	}
	return out
}

// yamlScalar writes a YAML scalar as the text it was written with.
func yamlScalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func TestDockerfileRunsRealCommand(t *testing.T) {
	t.Parallel()
	ref := loadHelpReference(t)
	dockerfile := string(readRepoFile(t, "Dockerfile"))

	instruction := func(name string) []string {
		var lines []string
		for _, line := range strings.Split(dockerfile, "\n") {
			if rest, ok := strings.CutPrefix(line, name+" "); ok {
				lines = append(lines, strings.TrimSpace(rest))
			}
		}
		return lines
	}
	execForm := func(name string) []string {
		lines := instruction(name)
		if len(lines) != 1 {
			t.Fatalf("Dockerfile has %d %s instructions, want 1", len(lines), name)
		}
		var args []string
		if err := json.Unmarshal([]byte(lines[0]), &args); err != nil {
			t.Fatalf("%s %s is not in exec form: %v", name, lines[0], err)
		}
		return args
	}

	if entrypoint := execForm("ENTRYPOINT"); !slices.Equal(entrypoint, []string{"/mailbridge"}) {
		t.Errorf("ENTRYPOINT = %q, want [/mailbridge]", entrypoint)
	}
	ref.checkCommand(t, "Dockerfile CMD", execForm("CMD"))

	env := map[string]string{}
	for _, line := range instruction("ENV") {
		name, value, _ := strings.Cut(line, "=")
		env[name] = value
	}
	ref.checkVariables(t, "Dockerfile ENV", env)
	if env["MAILBRIDGE_DATA_DIR"] != "/data" {
		t.Errorf("ENV MAILBRIDGE_DATA_DIR = %q, want /data, the VOLUME", env["MAILBRIDGE_DATA_DIR"])
	}

	ports := ref.listenPorts(env)
	for _, line := range instruction("EXPOSE") {
		for _, port := range strings.Fields(line) {
			if !ports[port] {
				t.Errorf("EXPOSE %s: no MAILBRIDGE_*_ADDR default listens there", port)
			}
		}
	}
	if user := instruction("USER"); len(user) != 1 || strings.HasPrefix(user[0], "0") || strings.HasPrefix(user[0], "root") {
		t.Errorf("USER = %q, want one non-root user", user)
	}

	// The build must name the command's package and set main.version.
	if !strings.Contains(dockerfile, "./cmd/mailbridge") || !strings.Contains(dockerfile, "-X main.version=") {
		t.Error("Dockerfile does not build ./cmd/mailbridge with -X main.version=")
	}
	if !strings.Contains(dockerfile, "CGO_ENABLED=0") {
		t.Error("Dockerfile does not build a static binary with CGO_ENABLED=0")
	}
}

// composeService is one service of compose.yaml.
type composeService struct {
	name  string
	def   map[string]any
	env   map[string]string
	ports []string // container ports of expose and ports
}

func composeServices(t *testing.T) map[string]*composeService {
	t.Helper()
	docs := yamlDocuments(t, "deploy/compose/compose.yaml")
	if len(docs) != 1 {
		t.Fatalf("compose.yaml has %d documents, want 1", len(docs))
	}
	services := map[string]*composeService{}
	for name, raw := range yamlMap(docs[0], "services") {
		def, _ := raw.(map[string]any)
		s := &composeService{name: name, def: def, env: map[string]string{}}
		for key, value := range yamlMap(def, "environment") {
			s.env[key] = yamlScalar(value)
		}
		for _, port := range yamlStrings(yamlList(def, "expose")) {
			s.ports = append(s.ports, port)
		}
		for _, mapping := range yamlStrings(yamlList(def, "ports")) {
			parts := strings.Split(mapping, ":")
			s.ports = append(s.ports, parts[len(parts)-1])
		}
		services[name] = s
	}
	return services
}

func isMailbridgeService(def map[string]any) bool {
	return strings.HasPrefix(yamlString(def, "image"), "mailbridge:") || yamlDig(def, "build") != nil
}

func TestComposeNamesWhatExists(t *testing.T) {
	t.Parallel()
	ref := loadHelpReference(t)
	services := composeServices(t)
	dir := "deploy/compose"

	var natsNodes, mailbridgeServices []string
	for name, s := range services {
		where := "compose service " + name
		if isMailbridgeService(s.def) {
			mailbridgeServices = append(mailbridgeServices, name)
			ref.checkCommand(t, where, yamlStrings(yamlList(s.def, "command")))
			ref.checkVariables(t, where, s.env)
			ports := ref.listenPorts(s.env)
			for _, port := range s.ports {
				if !ports[port] {
					t.Errorf("%s: port %s is not where any MAILBRIDGE_*_ADDR listens", where, port)
				}
			}
			if s.env["MAILBRIDGE_NATS_URL"] == "" {
				t.Errorf("%s: MAILBRIDGE_NATS_URL is not set, so it would not use the cluster", where)
			}
			if s.env["MAILBRIDGE_STREAM_REPLICAS"] != "3" {
				t.Errorf("%s: MAILBRIDGE_STREAM_REPLICAS = %q, want 3", where, s.env["MAILBRIDGE_STREAM_REPLICAS"])
			}
		}
		if strings.HasPrefix(yamlString(s.def, "image"), "nats:") {
			natsNodes = append(natsNodes, name)
		}

		// Files mounted from the repository exist.
		for _, volume := range yamlStrings(yamlList(s.def, "volumes")) {
			source := strings.Split(volume, ":")[0]
			if strings.HasPrefix(source, ".") {
				if _, err := os.Stat(filepath.Join(repoRoot, dir, source)); err != nil {
					t.Errorf("%s: mounted file %s: %v", where, source, err)
				}
			}
		}
	}

	// The parts the deployment promises.
	for _, want := range []struct{ command string }{{"serve"}, {"suppressor"}, {"alerter"}} {
		found := false
		for _, name := range mailbridgeServices {
			if cmd := yamlStrings(yamlList(services[name].def, "command")); len(cmd) > 0 && cmd[0] == want.command {
				found = true
			}
		}
		if !found {
			t.Errorf("no compose service runs mailbridge %s", want.command)
		}
	}
	if ingress := services["ingress"]; ingress == nil || yamlScalar(yamlDig(ingress.def, "deploy", "replicas")) != "2" {
		t.Error("compose service ingress does not run 2 replicas")
	}

	// The cluster: three nodes, each routing to all three.
	slices.Sort(natsNodes)
	if len(natsNodes) != 3 {
		t.Fatalf("compose runs %d NATS servers (%v), want 3", len(natsNodes), natsNodes)
	}
	natsConf := string(readRepoFile(t, dir+"/nats.conf"))
	var routed []string
	for _, m := range regexp.MustCompile(`nats-route://([\w-]+):6222`).FindAllStringSubmatch(natsConf, -1) {
		routed = append(routed, m[1])
	}
	slices.Sort(routed)
	if !slices.Equal(routed, natsNodes) {
		t.Errorf("nats.conf routes to %v, want the NATS services %v", routed, natsNodes)
	}
	if !strings.Contains(natsConf, "jetstream") {
		t.Error("nats.conf does not enable JetStream")
	}
	for _, url := range strings.Split(services["ingress"].env["MAILBRIDGE_NATS_URL"], ",") {
		host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(url), "nats://"), ":4222")
		if !slices.Contains(natsNodes, host) {
			t.Errorf("MAILBRIDGE_NATS_URL names %s, which is no NATS service", url)
		}
	}

	// The proxy and Prometheus reach services on ports they serve.
	checkTarget := func(file, host, port string) {
		s := services[host]
		if s == nil {
			t.Errorf("%s: %s is no compose service", file, host)
			return
		}
		if !slices.Contains(s.ports, port) {
			t.Errorf("%s: service %s does not expose port %s", file, host, port)
		}
	}
	nginx := string(readRepoFile(t, dir+"/nginx.conf"))
	for _, m := range regexp.MustCompile(`server\s+([\w-]+):(\d+);`).FindAllStringSubmatch(nginx, -1) {
		checkTarget("nginx.conf", m[1], m[2])
	}
	prom := yamlDocuments(t, dir+"/prometheus.yml")[0]
	for _, job := range yamlList(prom, "scrape_configs") {
		for _, sd := range yamlList(job, "dns_sd_configs") {
			for _, name := range yamlStrings(yamlList(sd, "names")) {
				checkTarget("prometheus.yml", name, yamlScalar(yamlDig(sd, "port")))
			}
		}
		for _, static := range yamlList(job, "static_configs") {
			for _, target := range yamlStrings(yamlList(static, "targets")) {
				host, port, _ := net.SplitHostPort(target)
				checkTarget("prometheus.yml", host, port)
			}
		}
	}
}

// k8sObjects are the objects of the kustomization, by kind and name.
type k8sObjects map[string]map[string]map[string]any

func loadKustomization(t *testing.T) k8sObjects {
	t.Helper()
	dir := "deploy/kubernetes"
	kustomization := yamlDocuments(t, dir+"/kustomization.yaml")[0]
	objects := k8sObjects{}
	for _, resource := range yamlStrings(yamlList(kustomization, "resources")) {
		for _, doc := range yamlDocuments(t, dir+"/"+resource) {
			kind, name := yamlString(doc, "kind"), yamlString(doc, "metadata", "name")
			if kind == "" || name == "" {
				t.Errorf("%s: an object without kind or metadata.name", resource)
				continue
			}
			if objects[kind] == nil {
				objects[kind] = map[string]map[string]any{}
			}
			objects[kind][name] = doc
		}
	}
	return objects
}

// selectorMatches reports whether a selector's matchLabels (or a Service's plain
// selector) select pods with labels.
func selectorMatches(selector map[string]any, labels map[string]any) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func TestKubernetesNamesWhatExists(t *testing.T) {
	t.Parallel()
	ref := loadHelpReference(t)
	objects := loadKustomization(t)

	config := map[string]string{}
	for name, cm := range objects["ConfigMap"] {
		for key, value := range yamlMap(cm, "data") {
			config[key] = yamlScalar(value)
		}
		ref.checkVariables(t, "ConfigMap "+name, config)
	}
	for name, secret := range objects["Secret"] {
		keys := map[string]string{}
		for key := range yamlMap(secret, "stringData") {
			keys[key] = ""
		}
		ref.checkVariables(t, "Secret "+name, keys)
	}

	commands := map[string]bool{}
	for name, deployment := range objects["Deployment"] {
		where := "Deployment " + name
		podLabels := yamlMap(deployment, "spec", "template", "metadata", "labels")
		if !selectorMatches(yamlMap(deployment, "spec", "selector", "matchLabels"), podLabels) {
			t.Errorf("%s: selector does not match its pod labels", where)
		}
		for _, c := range yamlList(deployment, "spec", "template", "spec", "containers") {
			container, _ := c.(map[string]any)
			where := where + " container " + yamlString(container, "name")
			args := yamlStrings(yamlList(container, "args"))
			ref.checkCommand(t, where, args)
			if len(args) > 0 {
				commands[args[0]] = true
			}

			// The environment the container gets: the ConfigMaps, then env.
			env := map[string]string{}
			for _, from := range yamlList(container, "envFrom") {
				cmName := yamlString(from, "configMapRef", "name")
				if cmName == "" {
					continue
				}
				cm := objects["ConfigMap"][cmName]
				if cm == nil {
					t.Errorf("%s: envFrom names ConfigMap %s, which is not in the kustomization", where, cmName)
				}
				for key, value := range yamlMap(cm, "data") {
					env[key] = yamlScalar(value)
				}
			}
			for _, e := range yamlList(container, "env") {
				name := yamlString(e, "name")
				env[name] = yamlScalar(yamlDig(e, "value"))
				if ref := yamlDig(e, "valueFrom", "secretKeyRef"); ref != nil {
					secret := objects["Secret"][yamlString(ref, "name")]
					optional, _ := yamlDig(ref, "optional").(bool)
					_, hasKey := yamlMap(secret, "stringData")[yamlString(ref, "key")]
					if !optional && !hasKey {
						t.Errorf("%s: %s reads key %s of Secret %s, which has no such key", where, name, yamlString(ref, "key"), yamlString(ref, "name"))
					}
				}
			}
			ref.checkVariables(t, where, env)

			// Ports are served, and probes use declared ports.
			listen := ref.listenPorts(env)
			named := map[string]bool{}
			for _, p := range yamlList(container, "ports") {
				port := yamlScalar(yamlDig(p, "containerPort"))
				if !listen[port] {
					t.Errorf("%s: containerPort %s is not where any MAILBRIDGE_*_ADDR listens", where, port)
				}
				named[yamlString(p, "name")] = true
				named[port] = true
			}
			for _, probe := range []string{"livenessProbe", "readinessProbe", "startupProbe"} {
				get := yamlDig(container, probe, "httpGet")
				if get == nil {
					continue
				}
				if port := yamlScalar(yamlDig(get, "port")); !named[port] {
					t.Errorf("%s: %s uses port %s, which the container does not declare", where, probe, port)
				}
				if path := yamlString(get, "path"); !slices.Contains([]string{"/healthz", "/readyz", "/metrics"}, path) {
					t.Errorf("%s: %s path %s is not /healthz, /readyz or /metrics", where, probe, path)
				}
			}
			if yamlString(yamlDig(container, "resources", "requests"), "cpu") == "" {
				t.Errorf("%s: no CPU request, which the HorizontalPodAutoscaler needs", where)
			}
		}
	}
	for _, want := range []string{"serve", "suppressor", "alerter"} {
		if !commands[want] {
			t.Errorf("no Deployment runs mailbridge %s", want)
		}
	}

	ingress := objects["Deployment"]["mailbridge-ingress"]
	if ingress == nil {
		t.Fatal("no Deployment mailbridge-ingress")
	}
	probes := map[string]string{}
	container := yamlDig(ingress, "spec", "template", "spec", "containers", 0)
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		probes[probe] = yamlString(container, probe, "httpGet", "path")
	}
	if probes["livenessProbe"] != "/healthz" || probes["readinessProbe"] != "/readyz" {
		t.Errorf("ingress probes = %v, want liveness /healthz and readiness /readyz", probes)
	}

	// Services route to a declared port of the pods they select.
	for name, svc := range objects["Service"] {
		selected := false
		for _, deployment := range objects["Deployment"] {
			if !selectorMatches(yamlMap(svc, "spec", "selector"), yamlMap(deployment, "spec", "template", "metadata", "labels")) {
				continue
			}
			selected = true
			declared := map[string]bool{}
			for _, p := range yamlList(deployment, "spec", "template", "spec", "containers", 0, "ports") {
				declared[yamlString(p, "name")] = true
				declared[yamlScalar(yamlDig(p, "containerPort"))] = true
			}
			for _, p := range yamlList(svc, "spec", "ports") {
				if target := yamlScalar(yamlDig(p, "targetPort")); !declared[target] {
					t.Errorf("Service %s: targetPort %s is not a port of the pods it selects", name, target)
				}
			}
		}
		if !selected {
			t.Errorf("Service %s selects no Deployment's pods", name)
		}
	}

	// The ingress has a PodDisruptionBudget and an autoscaler that leave
	// room to evict a pod.
	ingressLabels := yamlMap(ingress, "spec", "template", "metadata", "labels")
	var pdbMin int
	for name, pdb := range objects["PodDisruptionBudget"] {
		if selectorMatches(yamlMap(pdb, "spec", "selector", "matchLabels"), ingressLabels) {
			pdbMin, _ = yamlDig(pdb, "spec", "minAvailable").(int)
		} else {
			t.Errorf("PodDisruptionBudget %s selects no ingress pod", name)
		}
	}
	if pdbMin < 1 {
		t.Error("no PodDisruptionBudget with minAvailable of 1 or more for the ingress")
	}
	hpa := objects["HorizontalPodAutoscaler"]["mailbridge-ingress"]
	if target := yamlString(hpa, "spec", "scaleTargetRef", "name"); objects["Deployment"][target] == nil {
		t.Errorf("HorizontalPodAutoscaler scales %q, which is no Deployment", target)
	}
	minReplicas, _ := yamlDig(hpa, "spec", "minReplicas").(int)
	maxReplicas, _ := yamlDig(hpa, "spec", "maxReplicas").(int)
	if minReplicas <= pdbMin || maxReplicas < minReplicas {
		t.Errorf("autoscaler min %d max %d with PDB minAvailable %d leaves no pod to evict", minReplicas, maxReplicas, pdbMin)
	}

	// The NATS chart runs a three-server JetStream cluster, enough for the
	// stream replicas mailbridge asks for.
	values := yamlDocuments(t, "deploy/kubernetes/nats-values.yaml")[0]
	if enabled, _ := yamlDig(values, "config", "cluster", "enabled").(bool); !enabled {
		t.Error("nats-values.yaml: config.cluster.enabled is not true")
	}
	if enabled, _ := yamlDig(values, "config", "jetstream", "enabled").(bool); !enabled {
		t.Error("nats-values.yaml: config.jetstream.enabled is not true")
	}
	servers, _ := yamlDig(values, "config", "cluster", "replicas").(int)
	if servers != 3 {
		t.Errorf("nats-values.yaml: config.cluster.replicas = %d, want 3", servers)
	}
	if config["MAILBRIDGE_STREAM_REPLICAS"] != "3" {
		t.Errorf("MAILBRIDGE_STREAM_REPLICAS = %q, want 3 on the three-server cluster", config["MAILBRIDGE_STREAM_REPLICAS"])
	}
}

// metricNamesInSource returns every metric name that the Go sources (tests
// left out) register: each string literal "mailbridge_..." in them.
func metricNamesInSource(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	literal := regexp.MustCompile(`"(mailbridge_[a-z0-9_]+)"`)
	err := filepath.WalkDir(repoRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllSubmatch(data, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// metricsInQuery returns the mailbridge_ metric names a PromQL query uses,
// with the _bucket, _count and _sum series of a histogram mapped to the
// histogram's name when defined has that name and not the series name.
func metricsInQuery(query string, defined map[string]bool) []string {
	var out []string
	for _, name := range regexp.MustCompile(`mailbridge_[a-z0-9_]+`).FindAllString(query, -1) {
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && defined[base] && !defined[name] {
				name = base
			}
		}
		out = append(out, name)
	}
	return out
}

func TestDashboardUsesExistingMetrics(t *testing.T) {
	t.Parallel()
	defined := metricNamesInSource(t)
	var dashboard struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(readRepoFile(t, "deploy/grafana/mailbridge.json"), &dashboard); err != nil {
		t.Fatalf("mailbridge.json: %v", err)
	}
	used := map[string]bool{}
	for _, panel := range dashboard.Panels {
		for _, target := range panel.Targets {
			for _, name := range metricsInQuery(target.Expr, defined) {
				used[name] = true
				if !defined[name] {
					t.Errorf("panel %q queries %s, which no Go source registers", panel.Title, name)
				}
			}
		}
	}
	// The metrics the dashboard exists to show.
	for _, name := range []string{
		"mailbridge_webhooks_total", "mailbridge_events_total", "mailbridge_publish_duration_seconds",
		"mailbridge_pub_acks_pending", "mailbridge_nats_connected", "mailbridge_consumer_pending",
		"mailbridge_consumer_redelivered", "mailbridge_alert_state",
		"mailbridge_suppression_addresses", "mailbridge_suppression_events_total",
		"mailbridge_suppression_check_duration_seconds",
	} {
		if !used[name] {
			t.Errorf("the dashboard does not show %s", name)
		}
	}
}

func TestAlertRulesUseExistingMetrics(t *testing.T) {
	t.Parallel()
	const path = "deploy/prometheus/alerts.yaml"
	if _, err := os.Stat(filepath.Join(repoRoot, path)); err != nil {
		t.Skipf("%s: %v", path, err)
	}
	defined := metricNamesInSource(t)
	rules := 0
	for _, doc := range yamlDocuments(t, path) {
		for _, group := range yamlList(doc, "groups") {
			for _, rule := range yamlList(group, "rules") {
				rules++
				for _, name := range metricsInQuery(yamlString(rule, "expr"), defined) {
					if !defined[name] {
						t.Errorf("rule %s queries %s, which no Go source registers", yamlString(rule, "alert"), name)
					}
				}
			}
		}
	}
	if rules == 0 {
		t.Errorf("%s has no rules", path)
	}
}
