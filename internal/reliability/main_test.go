package reliability

import (
	"fmt"
	"os"
	"testing"
)

var (
	binary    Binary
	binaryDir string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mailbridge-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temporary directory:", err)
		os.Exit(1)
	}
	binaryDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// mailbridgeBinary returns cmd/mailbridge built once for this test run.
func mailbridgeBinary(tb testing.TB) string {
	tb.Helper()
	return binary.Path(tb, binaryDir)
}
