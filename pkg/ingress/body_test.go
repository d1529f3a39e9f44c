package ingress

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadAllSized(t *testing.T) {
	body := strings.Repeat("メール", 1000)
	cases := []struct {
		name          string
		contentLength int64
	}{
		{"length announced", int64(len(body))},
		{"length unknown", -1},
		{"length too small", 10},
		{"length too large", int64(len(body)) * 2},
		{"length over the limit", 1 << 30},
	}
	for _, c := range cases {
		got, err := readAllSized(iotest.HalfReader(strings.NewReader(body)), c.contentLength, 1<<20)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !bytes.Equal(got, []byte(body)) {
			t.Errorf("%s: read %d bytes, want the %d of the body", c.name, len(got), len(body))
		}
	}

	failure := errors.New("connection reset")
	got, err := readAllSized(io.MultiReader(strings.NewReader("part"), iotest.ErrReader(failure)), 100, 1<<20)
	if !errors.Is(err, failure) || string(got) != "part" {
		t.Errorf("read error: got %q, %v; want the bytes read and %v", got, err, failure)
	}

	// Reading a body of the announced length makes one buffer only, the
	// other allocation being the reader; io.ReadAll would grow its buffer
	// about eight times for this body.
	allocs := testing.AllocsPerRun(20, func() {
		_, _ = readAllSized(strings.NewReader(body), int64(len(body)), 1<<20)
	})
	if allocs > 2 {
		t.Errorf("reading an announced body allocated %.0f times, want 2", allocs)
	}
}
