package ingress

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestResultJSONMatchesEncoder(t *testing.T) {
	t.Parallel()
	for _, result := range []Result{
		{},
		{Accepted: 100},
		{Accepted: 3, Duplicates: 97, Rejected: 2},
		{Rejected: 1, Buffered: 99},
		{Accepted: -1, Duplicates: 1 << 40},
	} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(result); err != nil {
			t.Fatal(err)
		}
		if got := result.appendJSON(nil); string(got) != want.String() {
			t.Errorf("appendJSON(%+v) = %q, want %q", result, got, want.String())
		}
	}
}
