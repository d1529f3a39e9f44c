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

// Process is a mailbridge child process, such as "mailbridge serve".
type Process struct {
	Cmd  *exec.Cmd
	Addr string // listen address taken from its log

	exited chan struct{}
	mu     sync.Mutex
	logs   []string
}

// StartProcess runs binary serve with env added to a minimal environment,
// listening on a random loopback port, and waits until it accepts
// webhooks. The process is killed when the test ends.
func StartProcess(tb testing.TB, binary string, env ...string) *Process {
	tb.Helper()
	return StartCommand(tb, binary, "serve", "http ingress listening", "http_addr", env...)
}

// StartCommand runs binary with one subcommand and waits until it logs
// the message ready, taking Addr from the log attribute addrKey. The
// process is killed when the test ends.
func StartCommand(tb testing.TB, binary, subcommand, ready, addrKey string, env ...string) *Process {
	tb.Helper()
	cmd := exec.Command(binary, subcommand)
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
		tb.Fatalf("start %s %s: %v", binary, subcommand, err)
	}
	p := &Process{Cmd: cmd, exited: make(chan struct{})}
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() {
			tb.Logf("mailbridge %s (pid %d) log:\n%s", subcommand, cmd.Process.Pid, p.Logs())
		}
	})

	addr := make(chan string, 1)
	go p.readLogs(stderr, ready, addrKey, addr)
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case a := <-addr:
		p.Addr = a
	case <-p.exited:
		tb.Fatalf("mailbridge %s exited before it logged %q:\n%s", subcommand, ready, p.Logs())
	case <-time.After(30 * time.Second):
		tb.Fatalf("mailbridge %s did not log %q within 30s:\n%s", subcommand, ready, p.Logs())
	}
	return p
}

// readLogs keeps the process's log lines and sends the addrKey attribute
// of the first line whose message is ready.
func (p *Process) readLogs(r io.Reader, ready, addrKey string, addr chan<- string) {
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 64<<10), 1<<20)
	for scanner.Scan() {
		line := scanner.Text()
		p.mu.Lock()
		p.logs = append(p.logs, line)
		p.mu.Unlock()
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil && entry["msg"] == ready {
			value, _ := entry[addrKey].(string)
			select {
			case addr <- value:
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
