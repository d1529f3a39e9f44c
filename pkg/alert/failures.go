package alert

import "time"

// failureRecord is a failure counted in the windows, kept so that its
// second report (CMC's bounce after the failed delivery, or the other way
// round) is not counted again.
type failureRecord struct {
	key         string
	bucket      int64 // start of the bucket it was counted in
	stored      time.Time
	composition string
	domain      string
	hard        bool
	reason      string
}

// failureMemory is a bounded memory of recent failures by message id and
// recipient. It drops a failure once it is older than keep or when max
// newer ones have arrived.
type failureMemory struct {
	keep    time.Duration
	max     int
	records map[string]*failureRecord
	order   []*failureRecord // oldest first from head
	head    int
}

func newFailureMemory(keep time.Duration, max int) *failureMemory {
	return &failureMemory{keep: keep, max: max, records: make(map[string]*failureRecord)}
}

// remember stores r under key. When key is already stored it returns the
// first record and true, and stores nothing. An empty key is never
// stored.
func (m *failureMemory) remember(key string, r failureRecord) (*failureRecord, bool) {
	if key == "" {
		return nil, false
	}
	if first, ok := m.records[key]; ok {
		return first, true
	}
	r.key = key
	m.records[key] = &r
	m.order = append(m.order, &r)
	for m.max > 0 && len(m.records) > m.max {
		m.dropOldest()
	}
	return nil, false
}

// prune drops the failures stored before now minus keep.
func (m *failureMemory) prune(now time.Time) {
	cutoff := now.Add(-m.keep)
	for m.head < len(m.order) && m.order[m.head].stored.Before(cutoff) {
		m.dropOldest()
	}
}

func (m *failureMemory) dropOldest() {
	oldest := m.order[m.head]
	m.order[m.head] = nil
	m.head++
	if m.records[oldest.key] == oldest {
		delete(m.records, oldest.key)
	}
	// Reuse the slice once most of it is consumed.
	if m.head > 1024 && m.head*2 > len(m.order) {
		m.order = append(m.order[:0], m.order[m.head:]...)
		m.head = 0
	}
}
