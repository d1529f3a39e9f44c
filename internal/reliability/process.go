package reliability

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/pkg/ingress"
)

// Binary builds cmd/mailbridge once into dir and returns its path. Later
// calls return the same path.
type Binary struct {
	once sync.Once
	path string
	err  error
}

// Path builds the binary on the first call.
func (b *Binary) Path(tb testing.TB, dir string) string {
	tb.Helper()
	b.once.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		b.path = filepath.Join(dir, "mailbridge")
		cmd := exec.Command("go", "build", "-o", b.path, "./cmd/mailbridge")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build ./cmd/mailbridge: %w\n%s", err, out)
		}
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

// Process is a "mailbridge serve" child process.
type Process struct {
	Cmd  *exec.Cmd
	Addr string // HTTP listen address

	exited chan struct{}
	mu     sync.Mutex
	logs   []string
}

// StartProcess runs binary serve with env added to a minimal environment,
// listening on a random loopback port, and waits until it accepts
// webhooks. The process is killed when the test ends.
func StartProcess(tb testing.TB, binary string, env ...string) *Process {
	tb.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"MAILBRIDGE_HTTP_ADDR=127.0.0.1:0",
		"MAILBRIDGE_LOG_FORMAT=json",
		"MAILBRIDGE_DATA_DIR=" + tb.TempDir(),
	}, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatalf("stderr pipe: %v", err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s serve: %v", binary, err)
	}
	p := &Process{Cmd: cmd, exited: make(chan struct{})}
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("mailbridge serve (pid %d) log:\n%s", cmd.Process.Pid, p.Logs())
		}
	})

	addr := make(chan string, 1)
	go p.readLogs(stderr, addr)
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case a := <-addr:
		p.Addr = a
	case <-p.exited:
		tb.Fatalf("mailbridge serve exited before it listened:\n%s", p.Logs())
	case <-time.After(30 * time.Second):
		tb.Fatalf("mailbridge serve did not listen within 30s:\n%s", p.Logs())
	}
	return p
}

// readLogs keeps the process's log lines and sends the HTTP address once
// the ingress listens.
func (p *Process) readLogs(r io.Reader, addr chan<- string) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		p.mu.Lock()
		p.logs = append(p.logs, line)
		p.mu.Unlock()
		var entry struct {
			Msg      string `json:"msg"`
			HTTPAddr string `json:"http_addr"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "http ingress listening" {
			select {
			case addr <- entry.HTTPAddr:
			default:
			}
		}
	}
}

// Logs returns the process's log lines so far.
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.logs, "\n")
}

// WebhookURL returns the URL CMC posts to.
func (p *Process) WebhookURL() string { return "http://" + p.Addr + ingress.WebhookPath }

// BaseURL returns the URL of the process's HTTP server.
func (p *Process) BaseURL() string { return "http://" + p.Addr }

// Kill sends SIGKILL and waits until the process has exited.
func (p *Process) Kill() {
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.exited
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }
