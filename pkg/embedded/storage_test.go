package embedded

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startWithStream starts a server without a listener and with a max
// store of maxStore bytes, and creates the stream MAIL in it.
func startWithStream(t *testing.T, maxStore int64) (*server.Server, jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	srv, err := Start(Options{Addr: "127.0.0.1:-1", StoreDir: t.TempDir(), MaxStore: maxStore})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.CreateStream(testContext(t), jetstream.StreamConfig{Name: "MAIL", Subjects: []string{"mail.>"}})
	if err != nil {
		t.Fatal(err)
	}
	return srv, js, stream
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestStartMaxStore(t *testing.T) {
	t.Parallel()
	srv, _, _ := startWithStream(t, 64<<10)
	if got := srv.JetStreamConfig().MaxStore; got != 64<<10 {
		t.Errorf("max store = %d, want %d", got, 64<<10)
	}
}

func TestCheckStorageStoreFull(t *testing.T) {
	t.Parallel()
	const maxStore = 64 << 10
	srv, js, stream := startWithStream(t, maxStore)
	if err := CheckStorage(srv, "MAIL"); err != nil {
		t.Fatalf("CheckStorage on an empty store: %v, want nil", err)
	}

	// Publish 1 KiB messages until JetStream rejects one; 200 of them are
	// three times the max store.
	payload := []byte(strings.Repeat("x", 1024))
	var publishErr error
	for i := 0; i < 200 && publishErr == nil; i++ {
		_, publishErr = js.Publish(testContext(t), "mail.test", payload)
	}
	var apiErr *jetstream.APIError
	if !errors.As(publishErr, &apiErr) || apiErr.ErrorCode != 10023 {
		t.Fatalf("publish over the max store: %v, want API error 10023 (insufficient resources)", publishErr)
	}

	err := CheckStorage(srv, "MAIL")
	if !errors.Is(err, ErrStoreFull) {
		t.Fatalf("CheckStorage with the store full: %v, want ErrStoreFull", err)
	}
	if !strings.Contains(err.Error(), "max store 65536 bytes") {
		t.Errorf("CheckStorage error %q does not name the max store", err)
	}

	if err := stream.Purge(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if err := CheckStorage(srv, "MAIL"); err != nil {
		t.Errorf("CheckStorage after a purge: %v, want nil", err)
	}
	if _, err := js.Publish(testContext(t), "mail.test", payload); err != nil {
		t.Errorf("publish after a purge: %v", err)
	}
}

func TestCheckStorageJetStreamDisabled(t *testing.T) {
	t.Parallel()
	srv, _, _ := startWithStream(t, 0)
	// nats-server calls the same method after a write permission error.
	if err := srv.ShutdownJetStream(); err != nil {
		t.Fatal(err)
	}
	if err := CheckStorage(srv, "MAIL"); !errors.Is(err, ErrJetStreamDisabled) {
		t.Errorf("CheckStorage with JetStream off: %v, want ErrJetStreamDisabled", err)
	}
}

func TestCheckStorageMissingStream(t *testing.T) {
	t.Parallel()
	srv, _, _ := startWithStream(t, 0)
	if err := CheckStorage(srv, "OTHER"); err != nil {
		t.Errorf("CheckStorage of a stream that does not exist: %v, want nil", err)
	}
}
