package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// MemoryProbe reads the bridge's resident memory in bytes.
type MemoryProbe interface {
	ReadMemory(ctx context.Context) (uint64, error)
}

// ProcStatus reads the peak resident memory (VmHWM) of a process on this
// machine from /proc/<PID>/status. The kernel keeps that peak itself, so
// no spike between two samples is missed.
type ProcStatus struct {
	PID int
}

// ReadMemory returns the process's VmHWM in bytes.
func (p ProcStatus) ReadMemory(context.Context) (uint64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(p.PID) + "/status")
	if err != nil {
		return 0, fmt.Errorf("read memory of pid %d: %w", p.PID, err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		rest, ok := strings.CutPrefix(scanner.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kib, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmHWM of pid %d: %w", p.PID, err)
		}
		return kib << 10, nil
	}
	if err := scanner.Err(); err != nil {
		return 0, fmt.Errorf("read memory of pid %d: %w", p.PID, err)
	}
	return 0, fmt.Errorf("pid %d: no VmHWM line in /proc/%d/status", p.PID, p.PID)
}

// MetricsRSS reads process_resident_memory_bytes from a Prometheus text
// endpoint such as the bridge's /metrics. It sees the memory at the moment
// of each sample only.
type MetricsRSS struct {
	URL    string
	Client *http.Client
}

// ReadMemory scrapes the endpoint once.
func (m MetricsRSS) ReadMemory(ctx context.Context) (uint64, error) {
	client := m.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scrape %s: %w", m.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("scrape %s: status %d", m.URL, resp.StatusCode)
	}
	return parseRSS(resp.Body)
}

// parseRSS finds the process_resident_memory_bytes sample in Prometheus
// text format.
func parseRSS(r io.Reader) (uint64, error) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	for scanner.Scan() {
		rest, ok := strings.CutPrefix(scanner.Text(), "process_resident_memory_bytes ")
		if !ok {
			continue
		}
		value, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			return 0, fmt.Errorf("process_resident_memory_bytes %q: %w", rest, err)
		}
		return uint64(value), nil
	}
	if err := scanner.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no process_resident_memory_bytes sample")
}

// memorySampler reads a probe on a ticker and keeps the largest value.
type memorySampler struct {
	done   chan struct{}
	result chan memoryResult
}

type memoryResult struct {
	peak uint64
	err  error
}

func startMemorySampler(probe MemoryProbe, interval time.Duration) *memorySampler {
	s := &memorySampler{done: make(chan struct{}), result: make(chan memoryResult, 1)}
	go func() {
		var res memoryResult
		sample := func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			value, err := probe.ReadMemory(ctx)
			if err != nil {
				res.err = err
				return
			}
			res.peak = max(res.peak, value)
		}
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		sample()
		for {
			select {
			case <-ticker.C:
				sample()
			case <-s.done:
				sample()
				s.result <- res
				return
			}
		}
	}()
	return s
}

// stop takes a last sample and returns the peak and the last error.
func (s *memorySampler) stop() (uint64, error) {
	close(s.done)
	res := <-s.result
	return res.peak, res.err
}

// clockTicksPerSecond is the unit of the CPU times in /proc/<pid>/stat.
// NOTE: it is 100 on Linux on every common architecture (USER_HZ), but
// the kernel does not promise it; a system with another value would
// report CPU times scaled by the difference.
const clockTicksPerSecond = 100

// ReadCPU returns the CPU time, user and system, the process has used.
func (p ProcStatus) ReadCPU() (time.Duration, error) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(p.PID) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("read CPU time of pid %d: %w", p.PID, err)
	}
	// The command name, in parentheses, may contain spaces; the fields
	// after it start with the state (field 3), so utime and stime (fields
	// 14 and 15) are the 12th and 13th after it.
	end := strings.LastIndexByte(string(stat), ')')
	if end < 0 {
		return 0, fmt.Errorf("pid %d: /proc stat without a command name", p.PID)
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("pid %d: /proc stat has %d fields after the command name", p.PID, len(fields))
	}
	var ticks uint64
	for _, field := range fields[11:13] {
		n, err := strconv.ParseUint(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("pid %d: CPU time %q: %w", p.PID, field, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}
