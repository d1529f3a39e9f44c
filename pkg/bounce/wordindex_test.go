package bounce

import (
	"strings"
	"testing"
)

// The index must find exactly the groups that a plain substring search
// finds, on real texts and on texts where words overlap or end the text.
func TestWordIndexAgreesWithContains(t *testing.T) {
	groups := wordGroups()
	texts := []string{
		"",
		"x",
		"user unknown",
		"ends with rcpt to",
		"userunknown user unknownuser",
		"mailbox is full: retry timeout exceeded",
		"ユーザーが存在しません 受信拒否",
	}
	for _, row := range loadCorpus(t) {
		texts = append(texts, strings.ToLower(row.Diagnostic))
	}

	for _, text := range texts {
		found := textIndex.find(text)
		for g, words := range groups {
			want := false
			for _, w := range words {
				if strings.Contains(text, w) {
					want = true
					break
				}
			}
			if found.has(g) != want {
				t.Errorf("group %d (%q...) in %.80q: index found %v, strings.Contains %v", g, words[0], text, found.has(g), want)
			}
		}
	}
}
