package replay_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mailbridge/mailbridge/internal/natstest"
	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
	"github.com/mailbridge/mailbridge/pkg/replay"
	"github.com/mailbridge/mailbridge/pkg/stream"
)

// BenchmarkRunToStdout replays b.N stored events as JSON Lines to the
// null device, the cost of "mailbridge replay --to stdout" without a
// terminal. Storing the events is not timed. The README figure comes from
//
//	go test -run '^$' -bench RunToStdout -benchtime 1000000x ./pkg/replay/
//
// and, with a nats-server in another process, from the same command
// followed by -args -replay.nats-url nats://127.0.0.1:PORT.
//
// TODO(replay): about 10 µs of CPU per event (server and client on a
// 2-core machine) puts 200,000 events/s at the limit of two free cores.
// The rest of the cost is the NATS client's header parsing and the
// server's delivery, which this package does not control.
func BenchmarkRunToStdout(b *testing.B) {
	ctx := natstest.Context(b, 10*time.Minute)
	js := benchJetStream(b)
	if _, err := stream.Ensure(ctx, js, stream.Config{Name: testStream, Subjects: []string{"mail.>"}}); err != nil {
		b.Fatal(err)
	}
	storeEvents(b, js, b.N)
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { devNull.Close() })

	// mailbridge replay collects garbage at 400 percent (replayGCPercent
	// in cmd/mailbridge), so the benchmark does too.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	b.ResetTimer()
	start, cpuStart := time.Now(), cpuTime()
	summary, err := replay.Run(ctx, replay.Config{JS: js, Stream: testStream, Target: replay.NewWriterTarget(devNull)})
	elapsed, cpu := time.Since(start), cpuTime()-cpuStart
	b.StopTimer()

	if err != nil {
		b.Fatal(err)
	}
	if summary.Sent != uint64(b.N) {
		b.Fatalf("sent %d events, want %d", summary.Sent, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	// The CPU time of the whole process, embedded server included, shows
	// the cost per event even when other processes share the cores.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/event")
}

// benchNATSURL points BenchmarkRunToStdout at a NATS server in another
// process, so that server and client do not share a process.
var benchNATSURL = flag.String("replay.nats-url", "",
	"run BenchmarkRunToStdout against the NATS server at this URL instead of an embedded one; its stream "+testStream+" is deleted first")

// benchJetStream returns JetStream on the server that -replay.nats-url
// names, with no stream testStream, or else on an embedded server.
func benchJetStream(b *testing.B) jetstream.JetStream {
	b.Helper()
	if *benchNATSURL == "" {
		return natstest.Start(b).JS
	}
	nc, err := nats.Connect(*benchNATSURL)
	if err != nil {
		b.Fatalf("connect to %s: %v", *benchNATSURL, err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	err = js.DeleteStream(natstest.Context(b, time.Minute), testStream)
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		b.Fatalf("delete stream %s: %v", testStream, err)
	}
	return js
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var usage syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &usage); err != nil {
		return 0
	}
	return time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
}

// storeEvents publishes n delivery and bounce events of the usual size,
// waiting for the pub acks in windows.
func storeEvents(b *testing.B, js jetstream.JetStream, n int) {
	b.Helper()
	builder := testBuilder()
	const window = 4096
	futures := make([]jetstream.PubAckFuture, 0, window)
	wait := func() {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatalf("pub ack: %v", err)
			}
		}
		futures = futures[:0]
	}
	base := time.Date(2023, 1, 25, 0, 0, 0, 0, tokyo)
	for i := range n {
		created := base.Add(time.Duration(i) * time.Second).Format(time.DateTime)
		eventType, status, reason := cmc.EventTypeDeliveries, "succeeded", "250 2.0.0 OK"
		if i%4 == 3 {
			eventType, status, reason = cmc.EventTypeBounces, "2", "550 5.1.1 <user@example.jp>: Recipient address rejected: User unknown"
		}
		ev, subject, err := builder.Build(eventType, "pro", record(created, fmt.Sprintf("user%d@example.jp", i), status, reason))
		if err != nil {
			b.Fatal(err)
		}
		f, err := js.PublishMsgAsync(mailevent.Encode(&ev, subject, mailevent.ModeBinary))
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, f)
		if len(futures) == window {
			wait()
		}
	}
	wait()
}
