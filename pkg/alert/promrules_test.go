package alert

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"
)

// TestPrometheusRulesNameExportedMetrics checks that the example rules in
// deploy/prometheus parse and read only metrics the alerter exports.
func TestPrometheusRulesNameExportedMetrics(t *testing.T) {
	t.Parallel()
	body, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(body, &file); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}

	exported := make(map[string]bool)
	descName := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for _, c := range newMetrics().collectors() {
		descs := make(chan *prometheus.Desc, 16)
		go func() {
			c.Describe(descs)
			close(descs)
		}()
		for d := range descs {
			if m := descName.FindStringSubmatch(d.String()); m != nil {
				exported[m[1]] = true
			}
		}
	}

	metricName := regexp.MustCompile(`\bmailbridge_[a-z_]+`)
	rules := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			rules++
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("group %s: a rule without alert or expr", g.Name)
			}
			names := metricName.FindAllString(r.Expr, -1)
			if len(names) == 0 {
				t.Errorf("%s reads no mailbridge metric", r.Alert)
			}
			for _, name := range names {
				if !exported[name] {
					t.Errorf("%s reads %s, which the alerter does not export", r.Alert, name)
				}
			}
		}
	}
	if rules == 0 {
		t.Fatal("alerts.yaml has no rules")
	}
}
