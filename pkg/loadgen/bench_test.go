package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchBatchSize is the batch size of the generator benchmarks, the
// default of mailbridge bench.
const benchBatchSize = 100

// reportPerEntry adds ns/entry and allocs/entry to a benchmark of batches
// of benchBatchSize entries. mallocsBefore is runtime.MemStats.Mallocs read
// before the loop.
func reportPerEntry(b *testing.B, mallocsBefore uint64) {
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	entries := float64(b.N * benchBatchSize)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/entries, "ns/entry")
	b.ReportMetric(float64(stats.Mallocs-mallocsBefore)/entries, "allocs/entry")
}

// BenchmarkGeneratorBatch measures the generator alone. The "append" cases
// reuse one buffer, as a worker of the lean client does. The "new" cases
// allocate each body, as Batch and a worker of a net/http client do.
func BenchmarkGeneratorBatch(b *testing.B) {
	for _, encoding := range []Encoding{EncodingJSON, EncodingForm} {
		b.Run(string(encoding)+"/append", func(b *testing.B) {
			gen := NewGenerator("bench", 0, 1)
			var body []byte
			var stats runtime.MemStats
			runtime.ReadMemStats(&stats)
			b.ReportAllocs()
			for b.Loop() {
				body = gen.AppendBatch(body[:0], benchBatchSize, encoding)
			}
			reportPerEntry(b, stats.Mallocs)
		})
		b.Run(string(encoding)+"/new", func(b *testing.B) {
			gen := NewGenerator("bench", 0, 1)
			var stats runtime.MemStats
			runtime.ReadMemStats(&stats)
			b.ReportAllocs()
			for b.Loop() {
				gen.Batch(benchBatchSize, encoding)
			}
			reportPerEntry(b, stats.Mallocs)
		})
	}
}

// serverProcessVariable, when set, makes TestRoundTripServerProcess serve
// BenchmarkRoundTrip instead of skipping.
const serverProcessVariable = "LOADGEN_ROUND_TRIP_SERVER"

// TestRoundTripServerProcess is the trivial webhook server of
// BenchmarkRoundTrip, run in a child process so that the benchmark's CPU
// time is the client's alone. It prints its URL and serves until its
// standard input closes.
func TestRoundTripServerProcess(t *testing.T) {
	if os.Getenv(serverProcessVariable) == "" {
		t.Skip("runs only as the server process of BenchmarkRoundTrip")
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"accepted":1,"duplicates":0,"rejected":0}`+"\n")
	}))
	defer web.Close()
	fmt.Println(web.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startServerProcess runs TestRoundTripServerProcess in a child process and
// returns its URL. The child ends when the benchmark's cleanup closes its
// standard input.
func startServerProcess(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestRoundTripServerProcess$")
	cmd.Env = append(os.Environ(), serverProcessVariable+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start server process: %v", err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://127.0.0.1:") {
		b.Fatalf("server process printed %q (%v), want its URL", line, err)
	}
	return strings.TrimSpace(line)
}

// BenchmarkRoundTrip posts a 1-record webhook, one request at a time, to a
// trivial httptest server in a child process, through the lean client and
// through net/http. ns/op is the round trip's latency; cpu-ns/op is the
// CPU time, user and system, that the client's process spent per request.
func BenchmarkRoundTrip(b *testing.B) {
	url := startServerProcess(b)
	body := NewGenerator("bench", 0, 1).Batch(1, EncodingJSON)
	ctx := context.Background()

	b.Run("lean", func(b *testing.B) {
		client, err := newLeanClient(url, EncodingJSON.ContentType(), 30*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		defer client.close()
		b.ReportAllocs()
		cpu := startCPU(b)
		for b.Loop() {
			status, result, err := client.post(ctx, body)
			if err != nil || status != http.StatusOK || result.Accepted != 1 {
				b.Fatalf("post = %d %+v %v", status, result, err)
			}
		}
		cpu.report()
	})
	b.Run("net/http", func(b *testing.B) {
		client := NewHTTPClient(1, 30*time.Second)
		defer client.CloseIdleConnections()
		b.ReportAllocs()
		cpu := startCPU(b)
		for b.Loop() {
			status, result, err := postNetHTTP(ctx, client, url, EncodingJSON.ContentType(), body)
			if err != nil || status != http.StatusOK || result.Accepted != 1 {
				b.Fatalf("post = %d %+v %v", status, result, err)
			}
		}
		cpu.report()
	})
}

// processCPU reads the CPU time, user and system, of this process.
func processCPU(b *testing.B) time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

type cpuMeter struct {
	b     *testing.B
	start time.Duration
}

func startCPU(b *testing.B) cpuMeter { return cpuMeter{b, processCPU(b)} }

// report adds cpu-ns/op: the process's CPU time per iteration.
func (m cpuMeter) report() {
	m.b.ReportMetric(float64(processCPU(m.b)-m.start)/float64(m.b.N), "cpu-ns/op")
}
