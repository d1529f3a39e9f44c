package suppression

import (
	"fmt"
	"testing"
)

func TestIndexSetDeleteAndCompact(t *testing.T) {
	t.Parallel()
	x := NewIndex()
	// Enough churn on a few addresses to compact the arena several times.
	for round := range 2000 {
		for i := range 50 {
			x.Set(fmt.Sprintf("User%03d-%s@Example.jp", i, "padding-to-make-the-address-longer-than-usual"), fmt.Sprint("reason", round%3), i%2 == 0)
		}
	}
	if x.Len() != 50 {
		t.Fatalf("Len = %d, want 50", x.Len())
	}
	if len(x.arena) > 2<<20 {
		t.Errorf("arena is %d bytes for 50 addresses; compaction did not run", len(x.arena))
	}
	m, ok := x.Lookup("user007-padding-to-make-the-address-longer-than-usual@EXAMPLE.JP")
	if !ok || m.Reason != "reason1" || m.Hard {
		t.Errorf("Lookup = %+v, %t; want reason1, soft", m, ok)
	}
	x.Delete("USER007-padding-to-make-the-address-longer-than-usual@example.jp")
	if _, ok := x.Lookup("user007-padding-to-make-the-address-longer-than-usual@example.jp"); ok {
		t.Error("address found after Delete")
	}
	if found := x.Check([]string{"user008-padding-to-make-the-address-longer-than-usual@example.jp", "nobody@example.jp"}); len(found) != 1 || !found[0].Hard {
		t.Errorf("Check = %+v, want the one hard match", found)
	}
}
