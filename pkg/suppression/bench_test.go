package suppression

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// BenchmarkCheck100k checks 100,000 addresses, one in ten suppressed,
// against an index of 1,000,000 suppressed addresses. It reports the time
// per address and the index's heap memory per suppressed address.
func BenchmarkCheck100k(b *testing.B) {
	index, addresses, indexBytes := benchIndex(b)
	b.ResetTimer()
	for b.Loop() {
		if found := index.Check(addresses); len(found) != checkSize/10 {
			b.Fatalf("found %d, want %d", len(found), checkSize/10)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/checkSize, "ns/address")
	b.ReportMetric(indexBytes, "index-bytes/suppressed")
}

// BenchmarkCheckAPI100k is BenchmarkCheck100k through the API handler:
// decoding the JSON request, checking and encoding the response.
func BenchmarkCheckAPI100k(b *testing.B) {
	index, addresses, _ := benchIndex(b)
	index.loaded.Do(func() { close(index.ready) })
	handler := NewAPI(nil, index, APIConfig{})
	body, err := json.Marshal(CheckRequest{Addresses: addresses})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, PathCheck, bytes.NewReader(body)))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/checkSize, "ns/address")
}

const listSize, checkSize = 1_000_000, 100_000

// benchIndex builds an index of listSize addresses and a check of
// checkSize addresses, one in ten on the list in another case. It also
// returns the index's heap bytes per address.
func benchIndex(b *testing.B) (*Index, []string, float64) {
	reasons := []string{"userunknown", "hostunknown", "mailboxfull", "manual"}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	index := NewIndex()
	for i := range listSize {
		index.Set(fmt.Sprintf("user%07d@example%03d.jp", i, i%500), reasons[i%len(reasons)], i%3 != 0)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)

	addresses := make([]string, checkSize)
	for i := range addresses {
		if i%10 == 0 {
			n := i * 7 % listSize
			addresses[i] = fmt.Sprintf("User%07d@Example%03d.JP", n, n%500)
		} else {
			addresses[i] = fmt.Sprintf("other%07d@example.com", i)
		}
	}

	return index, addresses, float64(after.HeapAlloc-before.HeapAlloc) / listSize
}
