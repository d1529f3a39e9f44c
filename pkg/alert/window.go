package alert

import (
	"sort"
	"time"
)

// bucketWidth is the time resolution of the sliding windows: an event
// counts in the window while its minute does.
const bucketWidth = time.Minute

// OtherKey is the key that counts the recipient domains beyond
// Config.MaxDomains.
const OtherKey = "(other)"

// counts are the numbers of one bucket or one window.
type counts struct {
	Sent     int64 // succeeded deliveries and failures, each failure once by its first report
	Hard     int64 // failures classified hard
	Soft     int64 // failures classified soft
	Deferred int64 // deferred deliveries

	// Reasons are failures by classification reason; Domains are failures
	// by recipient domain. Both may be nil.
	Reasons map[string]int64
	Domains map[string]int64
}

// Failures returns the hard and soft failures.
func (c *counts) Failures() int64 { return c.Hard + c.Soft }

// Attempts returns the delivery attempts: deferrals and sends.
func (c *counts) Attempts() int64 { return c.Sent + c.Deferred }

func (c *counts) addFailure(hard bool, reason, domain string, n int64) {
	if hard {
		c.Hard += n
	} else {
		c.Soft += n
	}
	if reason != "" {
		if c.Reasons == nil {
			c.Reasons = make(map[string]int64)
		}
		c.Reasons[reason] += n
		if c.Reasons[reason] == 0 {
			delete(c.Reasons, reason)
		}
	}
	if domain != "" {
		if c.Domains == nil {
			c.Domains = make(map[string]int64)
		}
		c.Domains[domain] += n
		if c.Domains[domain] == 0 {
			delete(c.Domains, domain)
		}
	}
}

func (c *counts) add(o *counts) {
	c.Sent += o.Sent
	c.Hard += o.Hard
	c.Soft += o.Soft
	c.Deferred += o.Deferred
	for reason, n := range o.Reasons {
		if c.Reasons == nil {
			c.Reasons = make(map[string]int64)
		}
		c.Reasons[reason] += n
	}
	for domain, n := range o.Domains {
		if c.Domains == nil {
			c.Domains = make(map[string]int64)
		}
		c.Domains[domain] += n
	}
}

type bucket struct {
	start int64 // Unix time of the bucket's first second
	counts
}

// series is one key's buckets in ascending order of start.
type series struct {
	buckets []bucket
}

// at returns the bucket of t, creating it in order when missing.
func (s *series) at(t time.Time) *counts {
	start := t.Truncate(bucketWidth).Unix()
	n := len(s.buckets)
	// Events arrive nearly in order, so the bucket is almost always the
	// last one or a new last one.
	if n > 0 && s.buckets[n-1].start == start {
		return &s.buckets[n-1].counts
	}
	i := sort.Search(n, func(i int) bool { return s.buckets[i].start >= start })
	if i < n && s.buckets[i].start == start {
		return &s.buckets[i].counts
	}
	s.buckets = append(s.buckets, bucket{})
	copy(s.buckets[i+1:], s.buckets[i:])
	s.buckets[i] = bucket{start: start}
	return &s.buckets[i].counts
}

// find returns the bucket that starts at start, or nil.
func (s *series) find(start int64) *counts {
	i := sort.Search(len(s.buckets), func(i int) bool { return s.buckets[i].start >= start })
	if i < len(s.buckets) && s.buckets[i].start == start {
		return &s.buckets[i].counts
	}
	return nil
}

// sum adds up the buckets whose minute is within window of now.
func (s *series) sum(now time.Time, window time.Duration) counts {
	from := now.Add(-window).Truncate(bucketWidth).Unix()
	var total counts
	for i := len(s.buckets) - 1; i >= 0 && s.buckets[i].start >= from; i-- {
		total.add(&s.buckets[i].counts)
	}
	return total
}

// prune drops the buckets older than keep before now.
func (s *series) prune(now time.Time, keep time.Duration) {
	from := now.Add(-keep).Truncate(bucketWidth).Unix()
	i := sort.Search(len(s.buckets), func(i int) bool { return s.buckets[i].start >= from })
	if i > 0 {
		s.buckets = append(s.buckets[:0], s.buckets[i:]...)
	}
}

// dimension is the series of one kind of key: server compositions or
// recipient domains.
type dimension struct {
	keep    time.Duration // the maximum window of the rules that read this dimension
	maxKeys int           // 0 for no limit
	series  map[string]*series
}

func newDimension(keep time.Duration, maxKeys int) *dimension {
	return &dimension{keep: keep, maxKeys: maxKeys, series: make(map[string]*series)}
}

// key returns the key under which k is counted: k itself, or OtherKey
// once maxKeys keys are tracked.
func (d *dimension) key(k string) string {
	if _, ok := d.series[k]; ok || d.maxKeys <= 0 || len(d.series) < d.maxKeys {
		return k
	}
	return OtherKey
}

// at returns the bucket of key at t, or nil when the dimension keeps no
// window.
func (d *dimension) at(key string, t time.Time) *counts {
	if d.keep <= 0 {
		return nil
	}
	s := d.series[key]
	if s == nil {
		s = &series{}
		d.series[key] = s
	}
	return s.at(t)
}

// find returns key's bucket that starts at start, or nil.
func (d *dimension) find(key string, start int64) *counts {
	if s := d.series[key]; s != nil {
		return s.find(start)
	}
	return nil
}

// sum returns key's counts within window of now.
func (d *dimension) sum(key string, now time.Time, window time.Duration) counts {
	if s := d.series[key]; s != nil {
		return s.sum(now, window)
	}
	return counts{}
}

// keys returns the tracked keys in sorted order.
func (d *dimension) keys() []string {
	keys := make([]string, 0, len(d.series))
	for k := range d.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// prune drops buckets older than the dimension's window and the keys
// left without any.
func (d *dimension) prune(now time.Time) {
	for k, s := range d.series {
		s.prune(now, d.keep)
		if len(s.buckets) == 0 {
			delete(d.series, k)
		}
	}
}
