package alert

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The rule names. Each is also the last token of the alert subject.
const (
	RuleHardBounceRate    = "hard_bounce_rate"
	RuleDomainFailureRate = "domain_failure_rate"
	RuleDeferralRate      = "deferral_rate"
	RuleSilence           = "silence"
)

// RuleNames lists the rules in the order they are evaluated and
// documented.
var RuleNames = []string{RuleHardBounceRate, RuleDomainFailureRate, RuleDeferralRate, RuleSilence}

// Ratio is a rate between 0 and 1. As text it is written as a percentage
// ("5%") or a fraction ("0.05").
type Ratio float64

// UnmarshalText reads "5%", "5.5%" or "0.05".
func (r *Ratio) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	percent := strings.HasSuffix(s, "%")
	value, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "%")), 64)
	if err != nil || math.IsNaN(value) || math.IsInf(value, 0) {
		return fmt.Errorf("%q is not a rate: write a percentage such as 5%% or a fraction such as 0.05", s)
	}
	if percent {
		value /= 100
	} else if value >= 1 {
		// 1 would be 100%, more likely meant as 1%.
		n := strconv.FormatFloat(value, 'f', -1, 64)
		return fmt.Errorf("%q without %% is a fraction, %s: write %s%% for %s percent, or a fraction below 1 such as 0.05", s, Ratio(value), n, n)
	}
	*r = Ratio(value)
	return nil
}

// MarshalText writes the ratio as a percentage.
func (r Ratio) MarshalText() ([]byte, error) {
	return []byte(r.String()), nil
}

// String returns the ratio as a percentage such as "5%" or "12.5%".
func (r Ratio) String() string {
	return strconv.FormatFloat(float64(r)*100, 'f', -1, 64) + "%"
}

// RateRule is a rule on a rate: the share of sends, or of delivery
// attempts, that failed or were deferred within a sliding window.
type RateRule struct {
	// Enabled turns the rule on. A rule whose levels are both zero is off
	// as well.
	Enabled bool `yaml:"enabled"`
	// Warning is the rate at which the rule fires at warning level. Zero
	// skips the warning level.
	Warning Ratio `yaml:"warning"`
	// Critical is the rate at which the rule fires at critical level. Zero
	// skips the critical level.
	Critical Ratio `yaml:"critical"`
	// Window is the length of the sliding window.
	Window time.Duration `yaml:"window"`
	// MinVolume is the smallest number of sends (attempts for the deferral
	// rate) in the window for the rule to fire, so that 1 failure in 3
	// sends pages no one.
	MinVolume int64 `yaml:"min_volume"`
	// Cooldown is the shortest time between two notifications of a rule
	// and key that stays at the same level. Zero takes Rules.Cooldown.
	Cooldown time.Duration `yaml:"cooldown"`
}

// SilenceRule fires when no event at all has arrived for a time.
type SilenceRule struct {
	// Enabled turns the rule on. Defaults to off.
	Enabled bool `yaml:"enabled"`
	// Warning is how long without any event fires at warning level. Zero
	// skips the warning level.
	Warning time.Duration `yaml:"warning"`
	// Critical is how long without any event fires at critical level. Zero
	// skips the critical level.
	Critical time.Duration `yaml:"critical"`
	// Cooldown is as for RateRule.
	Cooldown time.Duration `yaml:"cooldown"`
}

// Rules is the alerter's rule set.
type Rules struct {
	// Cooldown is the shortest time between two notifications of the same
	// rule, key and level, for every rule without its own. A change of
	// level or a resolve is sent at once. Defaults to 4h.
	Cooldown time.Duration `yaml:"cooldown"`

	// HardBounceRate is hard failures over sends per server composition.
	// Defaults to 5% and 10% over 24h with at least 200 sends.
	HardBounceRate RateRule `yaml:"hard_bounce_rate"`

	// DomainFailureRate is hard and soft failures over sends per recipient
	// domain, the sign of a provider blocking the sender. Defaults to 20%
	// and 50% over 1h with at least 50 sends.
	DomainFailureRate RateRule `yaml:"domain_failure_rate"`

	// DeferralRate is deferrals over delivery attempts (deferred, succeeded
	// and failed deliveries) per server composition. Defaults to 20% and
	// 50% over 1h with at least 50 attempts.
	DeferralRate RateRule `yaml:"deferral_rate"`

	// Silence fires when no event has arrived for a time. Defaults to off.
	Silence SilenceRule `yaml:"silence"`
}

// DefaultRules returns the built-in rule set.
func DefaultRules() Rules {
	return Rules{
		Cooldown: 4 * time.Hour,
		HardBounceRate: RateRule{
			Enabled: true, Warning: 0.05, Critical: 0.10,
			Window: 24 * time.Hour, MinVolume: 200,
		},
		DomainFailureRate: RateRule{
			Enabled: true, Warning: 0.20, Critical: 0.50,
			Window: time.Hour, MinVolume: 50,
		},
		DeferralRate: RateRule{
			Enabled: true, Warning: 0.20, Critical: 0.50,
			Window: time.Hour, MinVolume: 50,
		},
		Silence: SilenceRule{Warning: 30 * time.Minute},
	}
}

// ParseRules reads a YAML rule file. The file replaces the rule set: a
// rule it does not name is off, and a field it leaves out of a rule it
// names takes the built-in default. Unknown fields are errors, and the
// result is validated.
func ParseRules(r io.Reader) (Rules, error) {
	var file struct {
		Cooldown          time.Duration `yaml:"cooldown"`
		HardBounceRate    yaml.Node     `yaml:"hard_bounce_rate"`
		DomainFailureRate yaml.Node     `yaml:"domain_failure_rate"`
		DeferralRate      yaml.Node     `yaml:"deferral_rate"`
		Silence           yaml.Node     `yaml:"silence"`
	}
	var body bytes.Buffer
	if _, err := body.ReadFrom(r); err != nil {
		return Rules{}, fmt.Errorf("read rules: %w", err)
	}
	// Check the field names on the document's nodes, which keep the file's
	// line numbers, before decoding.
	var doc yaml.Node
	if err := yaml.NewDecoder(&body).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return Rules{}, fmt.Errorf("%w: %w", ErrInvalidRules, err)
	}
	if len(doc.Content) > 0 && doc.Content[0].Tag != "!!null" {
		root := doc.Content[0]
		if err := checkFields(root, ruleFileFields); err != nil {
			return Rules{}, fmt.Errorf("%w: %w", ErrInvalidRules, err)
		}
		if err := checkDurations(root); err != nil {
			return Rules{}, fmt.Errorf("%w: %w", ErrInvalidRules, err)
		}
		if err := root.Decode(&file); err != nil {
			return Rules{}, fmt.Errorf("%w: %w", ErrInvalidRules, err)
		}
	}

	defaults := DefaultRules()
	rules := Rules{Cooldown: defaults.Cooldown}
	if file.Cooldown != 0 {
		rules.Cooldown = file.Cooldown
	}
	rateRules := []struct {
		name   string
		node   *yaml.Node
		target *RateRule
		def    RateRule
	}{
		{RuleHardBounceRate, &file.HardBounceRate, &rules.HardBounceRate, defaults.HardBounceRate},
		{RuleDomainFailureRate, &file.DomainFailureRate, &rules.DomainFailureRate, defaults.DomainFailureRate},
		{RuleDeferralRate, &file.DeferralRate, &rules.DeferralRate, defaults.DeferralRate},
	}
	for _, rr := range rateRules {
		if rr.node.Kind == 0 {
			continue
		}
		*rr.target = rr.def
		if err := decodeRule(rr.node, rr.target); err != nil {
			return Rules{}, fmt.Errorf("%w: rules.%s: %w", ErrInvalidRules, rr.name, err)
		}
	}
	if file.Silence.Kind != 0 {
		rules.Silence = defaults.Silence
		rules.Silence.Enabled = true
		if err := decodeRule(&file.Silence, &rules.Silence); err != nil {
			return Rules{}, fmt.Errorf("%w: rules.%s: %w", ErrInvalidRules, RuleSilence, err)
		}
	}
	if err := rules.Validate(); err != nil {
		return Rules{}, err
	}
	return rules, nil
}

// decodeRule decodes one rule's mapping over the defaults in target. A
// rule named in the file is enabled unless the mapping sets enabled: false.
func decodeRule(node *yaml.Node, target any) error {
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping of the rule's fields", node.Line)
	}
	allowed := rateRuleFields
	if _, ok := target.(*SilenceRule); ok {
		allowed = silenceRuleFields
	}
	if err := checkFields(node, allowed); err != nil {
		return err
	}
	hasEnabled := false
	for i := 0; i+1 < len(node.Content); i += 2 {
		if node.Content[i].Value == "enabled" {
			hasEnabled = true
		}
	}
	var encoded bytes.Buffer
	enc := yaml.NewEncoder(&encoded)
	if err := enc.Encode(node); err != nil {
		return err
	}
	dec := yaml.NewDecoder(&encoded)
	dec.KnownFields(true)
	if err := dec.Decode(target); err != nil {
		return fmt.Errorf("line %d: %w", node.Line, err)
	}
	if !hasEnabled {
		switch rule := target.(type) {
		case *RateRule:
			rule.Enabled = true
		case *SilenceRule:
			rule.Enabled = true
		}
	}
	return nil
}

// The field names a rule file may use, at the top level and in each rule.
var (
	ruleFileFields    = []string{"cooldown", RuleHardBounceRate, RuleDomainFailureRate, RuleDeferralRate, RuleSilence}
	rateRuleFields    = []string{"enabled", "warning", "critical", "window", "min_volume", "cooldown"}
	silenceRuleFields = []string{"enabled", "warning", "critical", "cooldown"}
)

// checkDurations returns an error naming the line of the first duration
// in a rule file that Go cannot parse, such as "1d". yaml's own error
// names the Go type and, within a rule, a line counted from the rule.
func checkDurations(root *yaml.Node) error {
	check := func(node *yaml.Node, path string, fields ...string) error {
		if node.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, value := node.Content[i], node.Content[i+1]
			if !slices.Contains(fields, key.Value) || value.Kind != yaml.ScalarNode || value.Tag == "!!null" {
				continue
			}
			if value.Tag == "!!int" && value.Value == "0" {
				// yaml does not decode an integer into a time.Duration.
				value.Tag, value.Value = "!!str", "0s"
				continue
			}
			if _, err := time.ParseDuration(value.Value); err != nil {
				return fmt.Errorf("line %d: %s%s: %q is not a duration: use h, m and s, such as 24h for a day or 90m", value.Line, path, key.Value, value.Value)
			}
		}
		return nil
	}
	if err := check(root, "", "cooldown"); err != nil {
		return err
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		name, rule := root.Content[i].Value, root.Content[i+1]
		fields := []string{"window", "cooldown"}
		if name == RuleSilence {
			fields = []string{"warning", "critical", "cooldown"}
		}
		if err := check(rule, "rules."+name+".", fields...); err != nil {
			return err
		}
	}
	return nil
}

// checkFields returns an error naming the line of the first key of a
// mapping node that is not in allowed. yaml's own KnownFields error names
// the Go type, and for a rule its line counts from the rule, not the file.
func checkFields(node *yaml.Node, allowed []string) error {
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping of field names such as %s", node.Line, allowed[0])
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key := node.Content[i]
		if !slices.Contains(allowed, key.Value) {
			return fmt.Errorf("line %d: unknown field %q: use %s", key.Line, key.Value, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// Validate checks every rule and returns an error wrapping
// ErrInvalidRules that names the first bad field.
func (r *Rules) Validate() error {
	if r.Cooldown < 0 {
		return fmt.Errorf("%w: rules.cooldown %s is negative", ErrInvalidRules, r.Cooldown)
	}
	for _, named := range []struct {
		name string
		rule *RateRule
	}{
		{RuleHardBounceRate, &r.HardBounceRate},
		{RuleDomainFailureRate, &r.DomainFailureRate},
		{RuleDeferralRate, &r.DeferralRate},
	} {
		if err := named.rule.validate(); err != nil {
			return fmt.Errorf("%w: rules.%s.%w", ErrInvalidRules, named.name, err)
		}
	}
	if err := r.Silence.validate(); err != nil {
		return fmt.Errorf("%w: rules.%s.%w", ErrInvalidRules, RuleSilence, err)
	}
	return nil
}

// fieldError is an error about one field, written as "field: message" so
// that its caller can put the rule's path in front.
func fieldError(field, format string, args ...any) error {
	return fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...))
}

func (r *RateRule) validate() error {
	if !r.Enabled {
		return nil
	}
	switch {
	case r.Warning < 0 || r.Warning > 1:
		return fieldError("warning", "%s is outside 0%% to 100%%", r.Warning)
	case r.Critical < 0 || r.Critical > 1:
		return fieldError("critical", "%s is outside 0%% to 100%%", r.Critical)
	case !r.active():
		return nil
	case r.Warning > 0 && r.Critical > 0 && r.Critical < r.Warning:
		return fieldError("critical", "%s is below the warning level %s: set critical at or above warning", r.Critical, r.Warning)
	case r.Window <= 0:
		return fieldError("window", "%s is not positive: set a duration such as 1h", r.Window)
	case r.Window < time.Minute:
		return fieldError("window", "%s is shorter than the 1m bucket of the counters", r.Window)
	case r.MinVolume < 1:
		return fieldError("min_volume", "%d is below 1", r.MinVolume)
	case r.Cooldown < 0:
		return fieldError("cooldown", "%s is negative", r.Cooldown)
	}
	return nil
}

// active reports whether the rule is enabled and has a level.
func (r *RateRule) active() bool {
	return r.Enabled && (r.Warning > 0 || r.Critical > 0)
}

func (r *SilenceRule) validate() error {
	if !r.Enabled {
		return nil
	}
	switch {
	case r.Warning < 0:
		return fieldError("warning", "%s is negative", r.Warning)
	case r.Critical < 0:
		return fieldError("critical", "%s is negative", r.Critical)
	case r.Warning > 0 && r.Critical > 0 && r.Critical < r.Warning:
		return fieldError("critical", "%s is shorter than the warning level %s", r.Critical, r.Warning)
	case r.Cooldown < 0:
		return fieldError("cooldown", "%s is negative", r.Cooldown)
	}
	return nil
}

// active reports whether the rule is enabled and has a level.
func (r *SilenceRule) active() bool {
	return r.Enabled && (r.Warning > 0 || r.Critical > 0)
}

// compositionWindow returns how long the per-composition counts must
// reach back.
func (r *Rules) compositionWindow() time.Duration {
	var window time.Duration
	if r.HardBounceRate.active() {
		window = r.HardBounceRate.Window
	}
	if r.DeferralRate.active() {
		window = max(window, r.DeferralRate.Window)
	}
	return window
}

// domainWindow returns how long the per-domain counts must reach back.
func (r *Rules) domainWindow() time.Duration {
	if r.DomainFailureRate.active() {
		return r.DomainFailureRate.Window
	}
	return 0
}

// LongestWindow returns the longest window of the active rate rules: how
// far back the Alerter reads the stream on start.
func (r *Rules) LongestWindow() time.Duration {
	return max(r.compositionWindow(), r.domainWindow())
}

// cooldown returns a rule's cooldown, or the rule set's.
func (r *Rules) cooldown(own time.Duration) time.Duration {
	if own > 0 {
		return own
	}
	return r.Cooldown
}
