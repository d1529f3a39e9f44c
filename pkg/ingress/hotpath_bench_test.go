package ingress

import (
	"testing"
	"time"

	"github.com/mailbridge/mailbridge/pkg/bounce"
	"github.com/mailbridge/mailbridge/pkg/cmc"
	"github.com/mailbridge/mailbridge/pkg/loadgen"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// The benchmarks below follow one 100-record batch through the ingress's
// hot path, step by step, and report allocations per event besides the
// usual per-operation figures.

const benchBatchSize = 100

func benchBody(b *testing.B, encoding loadgen.Encoding) []byte {
	b.Helper()
	return loadgen.NewGenerator("bench", 0, 1).Batch(benchBatchSize, encoding)
}

func reportPerEvent(b *testing.B, events int) {
	b.Helper()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}

// allocsPerEvent measures the allocations of one run of fn and reports
// them per event. It runs after the timed loop, because b.Loop resets
// the metrics reported before it.
func allocsPerEvent(b *testing.B, events int, fn func()) {
	b.Helper()
	allocs := testing.AllocsPerRun(10, fn)
	b.ReportMetric(allocs/float64(events), "allocs/event")
}

func BenchmarkDecodeBatch(b *testing.B) {
	for _, encoding := range []loadgen.Encoding{loadgen.EncodingJSON, loadgen.EncodingForm} {
		b.Run(string(encoding), func(b *testing.B) {
			body := benchBody(b, encoding)
			contentType := encoding.ContentType()
			decode := func() {
				batch, err := cmc.Decode(contentType, body, cmc.Limits{})
				if err != nil || len(batch.Entries) != benchBatchSize {
					b.Fatalf("decode: %v", err)
				}
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				decode()
			}
			reportPerEvent(b, benchBatchSize)
			allocsPerEvent(b, benchBatchSize, decode)
		})
	}
}

func benchBatch(b *testing.B) *cmc.Batch {
	b.Helper()
	batch, err := cmc.Decode("application/json", benchBody(b, loadgen.EncodingJSON), cmc.Limits{})
	if err != nil {
		b.Fatalf("decode: %v", err)
	}
	return batch
}

// benchBuilder returns the builder serve uses, with the bounce classifier.
func benchBuilder() *mailevent.Builder {
	return &mailevent.Builder{
		Subjects:   mailevent.Subjects{Prefix: "mail"},
		Location:   time.UTC,
		Classify:   bounce.EventClassification,
		ParseCodes: bounce.ParseCodes,
	}
}

func BenchmarkBuildEvents(b *testing.B) {
	batch := benchBatch(b)
	builder := benchBuilder()
	// Build into reused data storage, as the ingress does.
	data := make([][]byte, len(batch.Entries))
	build := func() {
		for i, raw := range batch.Entries {
			ev, _, err := builder.BuildTo(data[i], batch.EventType, batch.ServerComposition, raw)
			if err != nil {
				b.Fatalf("build: %v", err)
			}
			data[i] = ev.Data
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		build()
	}
	reportPerEvent(b, benchBatchSize)
	allocsPerEvent(b, benchBatchSize, build)
}

func benchEvents(b *testing.B) ([]mailevent.Event, []string) {
	b.Helper()
	batch := benchBatch(b)
	builder := benchBuilder()
	events := make([]mailevent.Event, 0, len(batch.Entries))
	subjects := make([]string, 0, len(batch.Entries))
	for _, raw := range batch.Entries {
		ev, subject, err := builder.Build(batch.EventType, batch.ServerComposition, raw)
		if err != nil {
			b.Fatalf("build: %v", err)
		}
		events = append(events, ev)
		subjects = append(subjects, subject)
	}
	return events, subjects
}

func BenchmarkValidateEvents(b *testing.B) {
	events, _ := benchEvents(b)
	checks := map[string]func(*mailevent.Event) error{
		"sdk":  (*mailevent.Event).Validate,
		"fast": (*mailevent.Event).ValidateFast,
	}
	for name, check := range checks {
		b.Run(name, func(b *testing.B) {
			validate := func() {
				for i := range events {
					if err := check(&events[i]); err != nil {
						b.Fatalf("validate: %v", err)
					}
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				validate()
			}
			reportPerEvent(b, benchBatchSize)
			allocsPerEvent(b, benchBatchSize, validate)
		})
	}
}

func BenchmarkEncodeMessages(b *testing.B) {
	events, subjects := benchEvents(b)
	for _, mode := range []mailevent.Mode{mailevent.ModeBinary, mailevent.ModeStructured} {
		b.Run(string(mode), func(b *testing.B) {
			// Encode into reused buffers, as the ingress does.
			buffers := make([]mailevent.MessageBuffer, len(events))
			encode := func() {
				for i := range events {
					if msg := mailevent.EncodeTo(&buffers[i], &events[i], subjects[i], mode); len(msg.Data) == 0 {
						b.Fatal("encoded message has no data")
					}
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				encode()
			}
			reportPerEvent(b, benchBatchSize)
			allocsPerEvent(b, benchBatchSize, encode)
		})
	}
}
