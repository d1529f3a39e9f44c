package loadgen

import (
	"strings"
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	t.Parallel()
	var sorted []time.Duration
	for i := 1; i <= 200; i++ {
		sorted = append(sorted, time.Duration(i)*time.Millisecond)
	}
	cases := []struct {
		p    int
		want time.Duration
	}{{50, 100 * time.Millisecond}, {90, 180 * time.Millisecond}, {99, 198 * time.Millisecond}, {100, 200 * time.Millisecond}}
	for _, c := range cases {
		if got := percentile(sorted, c.p); got != c.want {
			t.Errorf("p%d = %s, want %s", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %s, want 0", got)
	}
}

func TestParseRSS(t *testing.T) {
	t.Parallel()
	text := "# HELP process_resident_memory_bytes Resident memory size in bytes.\n" +
		"# TYPE process_resident_memory_bytes gauge\n" +
		"process_resident_memory_bytes 3.1457280e+07\n" +
		"process_virtual_memory_bytes 1e+09\n"
	got, err := parseRSS(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if got != 31457280 {
		t.Errorf("rss = %d, want 31457280", got)
	}
	if _, err := parseRSS(strings.NewReader("go_goroutines 7\n")); err == nil {
		t.Error("parse without the sample returned no error")
	}
}

func TestStreamMatches(t *testing.T) {
	t.Parallel()
	r := &Report{Accepted: 10, StreamChecked: true, StreamBefore: 5, StreamAfter: 15}
	if !r.StreamMatches() {
		t.Error("10 gained for 10 accepted does not match")
	}
	r.StreamAfter = 14
	if r.StreamMatches() {
		t.Error("9 gained for 10 accepted matches")
	}
	r.StreamChecked = false
	r.StreamAfter = 15
	if r.StreamMatches() {
		t.Error("unchecked stream matches")
	}
}
