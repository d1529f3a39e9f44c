package bounce

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

var printConfusion = flag.Bool("confusion", false, "print the confusion table of reasons and the missed rows of the bounce corpus")

const corpusPath = "../../testdata/bounce/corpus.jsonl"

// Minimum agreement with the corpus labels. The reference's own rules reach
// 87.1% (hard) and 67.8% (reason) on the bare strings.
const (
	minHardAgreement   = 0.95
	minReasonAgreement = 0.80
)

type corpusRow struct {
	ID             string `json:"id"`
	Diagnostic     string `json:"diagnostic"`
	SMTPCode       string `json:"smtp_code"`
	EnhancedStatus string `json:"enhanced_status"`
	Reason         Reason `json:"reason"`
	Hard           bool   `json:"hard"`
	MailServer     string `json:"mailserver"`
	Japanese       bool   `json:"japanese"`
}

func loadCorpus(tb testing.TB) []corpusRow {
	tb.Helper()
	f, err := os.Open(corpusPath)
	if err != nil {
		tb.Fatalf("open corpus: %v", err)
	}
	defer f.Close()

	var rows []corpusRow
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for line := 1; scanner.Scan(); line++ {
		var row corpusRow
		if err := json.Unmarshal(scanner.Bytes(), &row); err != nil {
			tb.Fatalf("%s line %d: invalid JSON: %v", corpusPath, line, err)
		}
		rows = append(rows, row)
	}
	if err := scanner.Err(); err != nil {
		tb.Fatalf("read corpus: %v", err)
	}
	if len(rows) == 0 {
		tb.Fatalf("%s contains no rows", corpusPath)
	}
	return rows
}

func TestCorpusAgreement(t *testing.T) {
	rows := loadCorpus(t)

	hardAgree, reasonAgree := 0, 0
	confusion := map[Reason]map[Reason]int{}
	var missed []string
	for _, row := range rows {
		got := Classify(Input{Diagnostic: row.Diagnostic})
		if got.Hard == row.Hard {
			hardAgree++
		}
		if got.Reason == row.Reason {
			reasonAgree++
		} else {
			missed = append(missed, fmt.Sprintf("%-32s want %-15s got %-15s hard %-5v/%-5v %.160s",
				row.ID, row.Reason, got.Reason, row.Hard, got.Hard, row.Diagnostic))
		}
		if confusion[row.Reason] == nil {
			confusion[row.Reason] = map[Reason]int{}
		}
		confusion[row.Reason][got.Reason]++
	}

	hardRate := float64(hardAgree) / float64(len(rows))
	reasonRate := float64(reasonAgree) / float64(len(rows))
	t.Logf("corpus: %d rows, hard/soft agrees on %.1f%%, reason on %.1f%%", len(rows), 100*hardRate, 100*reasonRate)

	if *printConfusion {
		t.Log("confusion table, expected reason: got reason (count)\n" + formatConfusion(confusion))
		t.Log("missed rows:\n" + strings.Join(missed, "\n"))
	}
	if hardRate < minHardAgreement {
		t.Errorf("hard/soft agrees on %.1f%% of rows, want at least %.0f%%; run with -args -confusion to list the misses", 100*hardRate, 100*minHardAgreement)
	}
	if reasonRate < minReasonAgreement {
		t.Errorf("reason agrees on %.1f%% of rows, want at least %.0f%%; run with -args -confusion to list the misses", 100*reasonRate, 100*minReasonAgreement)
	}
}

func formatConfusion(confusion map[Reason]map[Reason]int) string {
	expected := make([]Reason, 0, len(confusion))
	for r := range confusion {
		expected = append(expected, r)
	}
	slices.Sort(expected)

	var b strings.Builder
	for _, want := range expected {
		row := confusion[want]
		got := make([]Reason, 0, len(row))
		total := 0
		for r, n := range row {
			got = append(got, r)
			total += n
		}
		slices.SortFunc(got, func(a, b Reason) int { return row[b] - row[a] })
		fmt.Fprintf(&b, "%-16s %3d/%-3d:", want, row[want], total)
		for _, r := range got {
			fmt.Fprintf(&b, " %s(%d)", r, row[r])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// A sender's problem must never suppress a recipient: no row labeled with a
// sender-side reason may come out as an unknown user or host.
func TestCorpusSenderProblemNotRecipient(t *testing.T) {
	senderReasons := []Reason{Blocked, SpamDetected, PolicyViolation, BadReputation,
		Rejected, SecurityError, AuthFailure, RequirePTR}
	for _, row := range loadCorpus(t) {
		if !slices.Contains(senderReasons, row.Reason) {
			continue
		}
		got := Classify(Input{Diagnostic: row.Diagnostic})
		if got.Reason == UserUnknown || got.Reason == HostUnknown {
			t.Errorf("%s: labeled %s but classified %s: %q", row.ID, row.Reason, got.Reason, row.Diagnostic)
		}
	}
}

func TestCorpusLabelsAreValidReasons(t *testing.T) {
	for _, row := range loadCorpus(t) {
		if !row.Reason.Valid() {
			t.Errorf("%s: label %q is not a known reason", row.ID, row.Reason)
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	rows := loadCorpus(b)
	inputs := make([]Input, len(rows))
	for i, row := range rows {
		inputs[i] = Input{Diagnostic: row.Diagnostic}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		Classify(inputs[i%len(inputs)])
	}
}
