package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

var subjects = mailevent.Subjects{Prefix: mailevent.DefaultPrefix}

// publishVendorExamples maps the vendor's example payloads through
// builder and publishes their events, alternating the CloudEvents mode.
// It returns the events by file name.
func publishVendorExamples(t *testing.T, js jetstream.JetStream, builder *mailevent.Builder) map[string]mailevent.Event {
	t.Helper()
	ctx := natstest.Context(t, 10*time.Second)
	paths, err := filepath.Glob("../../testdata/cmc/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("vendor examples not found: %v", err)
	}
	events := make(map[string]mailevent.Event)
	for i, path := range paths {
		body, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		batch, err := cmc.Decode("application/json", body, cmc.Limits{})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, raw := range batch.Entries {
			ev, subject, err := builder.Build(batch.EventType, batch.ServerComposition, raw)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			mode := mailevent.ModeBinary
			if i%2 == 1 {
				mode = mailevent.ModeStructured
			}
			if _, err := js.PublishMsg(ctx, mailevent.Encode(&ev, subject, mode)); err != nil {
				t.Fatalf("publish %s: %v", path, err)
			}
			events[filepath.Base(path)] = ev
		}
	}
	return events
}

// runExample runs the example with args until stop is called.
func runExample(t *testing.T, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var stderr syncBuffer
	go func() { done <- run(ctx, args, &stderr) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run: %v\n%s", err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Error("run did not return within 10s of the stop")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitSettled waits until the durable has delivered and acked every
// message stored on its subjects.
func waitSettled(t *testing.T, js jetstream.JetStream, durable string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	ticker := time.NewTicker(10 * time.Millisecond)
	defer ticker.Stop()
	for {
		cons, err := js.Consumer(context.Background(), stream.DefaultName, durable)
		if err == nil {
			info, err := cons.Info(context.Background())
			if err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0 {
				return
			}
		} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatalf("consumer %s: %v", durable, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("durable %s has not acked every message after 10s", durable)
		}
		<-ticker.C
	}
}

func readRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return rows
}

func TestExampleWritesVendorHardFailures(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Subjects: []string{subjects.All()}}); err != nil {
		t.Fatal(err)
	}
	// No classifier: the events look as they do before it lands.
	events := publishVendorExamples(t, srv.JS, &mailevent.Builder{Subjects: subjects, Location: time.UTC})

	output := filepath.Join(t.TempDir(), "hard.csv")
	args := []string{"-nats-url", srv.URL(), "-durable", "hf", "-output", output}
	stop := runExample(t, args...)
	waitSettled(t, srv.JS, "hf")
	stop()

	rows := readRows(t, output)
	if len(rows) == 0 || !slices.Equal(rows[0], header) {
		t.Fatalf("first row = %v, want the header %v", rows, header)
	}
	userUnknown := events["bounces-user-unknown.json"]
	hostUnknown := events["bounces-host-unknown.json"]
	want := map[string][]string{
		userUnknown.ID: {userUnknown.Time.UTC().Format(time.RFC3339), "no-user@example.jp", "user_unknown", "", "", "<9e7e564c-ac83-8cd8-2cb4-b9ff2a9f168d@example.com>", userUnknown.ID},
		hostUnknown.ID: {hostUnknown.Time.UTC().Format(time.RFC3339), hostUnknown.Subject, "host_unknown", "", "", "", hostUnknown.ID},
	}
	got := rows[1:]
	if len(got) != len(want) {
		t.Fatalf("wrote %d rows, want %d (the two bounces with codes 1 and 2): %v", len(got), len(want), got)
	}
	for _, row := range got {
		w, ok := want[row[6]]
		if !ok {
			t.Errorf("unexpected row %v", row)
			continue
		}
		// The host-unknown example's message id is whatever the vendor sent.
		if w[5] == "" {
			w[5] = row[5]
		}
		if !slices.Equal(row, w) {
			t.Errorf("row = %v, want %v", row, w)
		}
	}

	// Replaying the stream from a new durable finds every id in the bucket.
	stop = runExample(t, "-nats-url", srv.URL(), "-durable", "hf-replay", "-output", output)
	waitSettled(t, srv.JS, "hf-replay")
	stop()
	if again := readRows(t, output); len(again) != len(rows) {
		t.Errorf("replay left %d rows, want the same %d", len(again), len(rows))
	}
}

func TestExampleUsesClassification(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx := natstest.Context(t, 10*time.Second)
	if _, err := stream.Ensure(ctx, srv.JS, stream.Config{Subjects: []string{subjects.All()}}); err != nil {
		t.Fatal(err)
	}
	// The classifier's verdict replaces the bounce codes: the failed
	// delivery is hard, and so is every bounce but the host-unknown one.
	builder := &mailevent.Builder{
		Subjects: subjects,
		Location: time.UTC,
		Classify: func(diagnostic, bounceCode, status string) mailevent.Classification {
			if bounceCode == "1" {
				return mailevent.Classification{Reason: "hostunknown", Hard: false}
			}
			return mailevent.Classification{Reason: "userunknown", Hard: true, SMTPCode: "550", EnhancedStatus: "5.1.1"}
		},
	}
	events := publishVendorExamples(t, srv.JS, builder)

	output := filepath.Join(t.TempDir(), "hard.csv")
	stop := runExample(t, "-nats-url", srv.URL(), "-durable", "hf", "-output", output)
	waitSettled(t, srv.JS, "hf")
	stop()

	var ids []string
	for _, row := range readRows(t, output)[1:] {
		ids = append(ids, row[6])
		if row[2] != "userunknown" || row[3] != "550" || row[4] != "5.1.1" {
			t.Errorf("row %v: reason and codes are not the classification's", row)
		}
	}
	slices.Sort(ids)
	want := []string{events["bounces-user-unknown.json"].ID, events["deliveries-failed.json"].ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("rows for events %v, want %v (the failed delivery and the user-unknown bounce)", ids, want)
	}
}

func TestExampleRejectsBadSince(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-since", "yesterday"}, &stderr)
	if !errors.Is(err, errUsage) {
		t.Fatalf("run error = %v, want a usage error", err)
	}
	if !strings.Contains(err.Error(), "RFC 3339") {
		t.Errorf("error %q does not say which format -since takes", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
