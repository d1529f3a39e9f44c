package embedded

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStartPortInUse(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()

	start := time.Now()
	srv, err := Start(Options{Addr: taken.Addr().String(), StoreDir: t.TempDir(), ReadyTimeout: 5 * time.Second})
	if err == nil {
		srv.Shutdown()
		t.Fatal("Start on a port in use succeeded, want an error")
	}
	if !errors.Is(err, ErrAddrUnavailable) {
		t.Errorf("Start: %v, want ErrAddrUnavailable", err)
	}
	if took := time.Since(start); took >= 5*time.Second {
		t.Errorf("Start failed after %s, want before the 5s ready timeout", took)
	}
}

func TestStartStoreDirUnusable(t *testing.T) {
	t.Parallel()
	// A regular file where the store's parent directory should be.
	parent := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(parent, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	srv, err := Start(Options{Addr: "127.0.0.1:-1", StoreDir: filepath.Join(parent, "jetstream"), ReadyTimeout: 5 * time.Second})
	if err == nil {
		srv.Shutdown()
		t.Fatal("Start with an unusable store directory succeeded, want an error")
	}
	if !errors.Is(err, ErrStoreDir) {
		t.Errorf("Start: %v, want ErrStoreDir", err)
	}
	if took := time.Since(start); took >= 5*time.Second {
		t.Errorf("Start failed after %s, want before the 5s ready timeout", took)
	}
}

func TestStartInvalidAddr(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"4222", "127.0.0.1:port"} {
		srv, err := Start(Options{Addr: addr, StoreDir: t.TempDir()})
		if err == nil {
			srv.Shutdown()
			t.Errorf("Start(%q) succeeded, want an error", addr)
			continue
		}
		if !errors.Is(err, ErrInvalidAddr) {
			t.Errorf("Start(%q): %v, want ErrInvalidAddr", addr, err)
		}
	}
}
