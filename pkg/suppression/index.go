package suppression

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
)

// Index is an in-memory copy of the suppressed addresses and their
// reasons, kept current by a watch on the bucket. Every process that
// serves checks has its own; JetStream pushes each change to every watch,
// so an index is behind the bucket only by the time a message takes to
// arrive.
type Index struct {
	mu      sync.RWMutex
	entries map[string]indexEntry // by folded address
	reasons []string              // reason text by indexEntry.reason
	reasonN map[string]uint16     // reason text to its number
	ready   chan struct{}
	loaded  sync.Once // closes ready
}

// indexEntry is one suppressed address. address is the address as stored;
// it shares memory with the map key when the address is in lowercase.
type indexEntry struct {
	address string
	reason  uint16
	hard    bool
}

// Match is a suppressed address found by a check or a listing.
type Match struct {
	Address string `json:"address"`
	Reason  string `json:"reason"`
	Hard    bool   `json:"hard"`
}

// NewIndex returns an empty index. Run fills it.
func NewIndex() *Index {
	return &Index{
		entries: make(map[string]indexEntry),
		reasonN: make(map[string]uint16),
		ready:   make(chan struct{}),
	}
}

// Ready is closed once the index holds every record that was in the
// bucket when Run started.
func (x *Index) Ready() <-chan struct{} { return x.ready }

// Len returns the number of suppressed addresses.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.entries)
}

// Run watches the bucket and applies every record to the index until ctx
// ends. It returns nil when ctx ends, and an error when the watch cannot
// start or stops on its own; running it again resumes keeping the index
// current, because the watch delivers every record again.
func (x *Index) Run(ctx context.Context, kv jetstream.KeyValue, logger *slog.Logger) error {
	watcher, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch bucket %s: %w", kv.Bucket(), err)
	}
	defer watcher.Stop()

	for {
		select {
		case <-ctx.Done():
			return nil
		case entry, ok := <-watcher.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("watch of bucket %s stopped", kv.Bucket())
			}
			if entry == nil {
				// The watch has delivered every record that existed.
				x.loaded.Do(func() { close(x.ready) })
				continue
			}
			if err := x.apply(entry); err != nil && logger != nil {
				logger.Warn("suppression record skipped by the index",
					slog.Uint64("revision", entry.Revision()), slog.Any("error", err))
			}
		}
	}
}

// apply puts one bucket entry into the index or takes it out.
func (x *Index) apply(entry jetstream.KeyValueEntry) error {
	folded, err := foldedFromKey(entry.Key())
	if err != nil {
		return err
	}
	if entry.Operation() != jetstream.KeyValuePut {
		x.Delete(folded)
		return nil
	}
	var rec struct {
		Address    string `json:"address"`
		Suppressed bool   `json:"suppressed"`
		Reason     string `json:"reason"`
		Hard       bool   `json:"hard"`
	}
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	if !rec.Suppressed {
		x.Delete(folded)
		return nil
	}
	x.Set(rec.Address, rec.Reason, rec.Hard)
	return nil
}

// Set puts an address on the index.
func (x *Index) Set(address, reason string, hard bool) {
	folded := strings.ToLower(address)
	if folded == address {
		address = folded // one string for both
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	n, ok := x.reasonN[reason]
	if !ok {
		// NOTE: reasons past 65535 distinct texts share the last number;
		// manual reasons are free text, but no list comes near that.
		n = uint16(min(len(x.reasons), 1<<16-1))
		if int(n) == len(x.reasons) {
			x.reasons = append(x.reasons, reason)
		}
		x.reasonN[reason] = n
	}
	x.entries[folded] = indexEntry{address: address, reason: n, hard: hard}
}

// Delete takes a folded address off the index.
func (x *Index) Delete(folded string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.entries, folded)
}

// Lookup returns the suppression of one address, and false when it is
// not suppressed.
func (x *Index) Lookup(address string) (Match, bool) {
	folded, ok := foldLookup(address)
	if !ok {
		return Match{}, false
	}
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.entries[folded]
	if !ok {
		return Match{}, false
	}
	return Match{Address: e.address, Reason: x.reasons[e.reason], Hard: e.hard}, true
}

// Check returns the suppressed addresses among addresses, in their order,
// each as it was given, with its reason. Text that is not an address is
// never suppressed. It holds the read lock once for the whole list.
func (x *Index) Check(addresses []string) []Match {
	var found []Match
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, address := range addresses {
		folded, ok := foldLookup(address)
		if !ok {
			continue
		}
		if e, ok := x.entries[folded]; ok {
			found = append(found, Match{Address: address, Reason: x.reasons[e.reason], Hard: e.hard})
		}
	}
	return found
}

// List returns up to limit suppressed addresses in the order of their
// folded form, after the folded address cursor, of one domain and one
// reason when those are not empty. It also returns the cursor of the next
// page, or "" on the last page.
//
// NOTE: each call scans the whole index and sorts the entries that match,
// so a page costs time in proportion to the list, not to the page: fine
// for an admin listing, too slow for a hot path on a list of millions.
func (x *Index) List(domain, reason, cursor string, limit int) ([]Match, string) {
	domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	cursor = strings.ToLower(cursor)
	type hit struct {
		folded string
		entry  indexEntry
	}
	var hits []hit
	x.mu.RLock()
	for folded, e := range x.entries {
		if folded <= cursor && cursor != "" {
			continue
		}
		if domain != "" && folded[strings.LastIndexByte(folded, '@')+1:] != domain {
			continue
		}
		if reason != "" && x.reasons[e.reason] != reason {
			continue
		}
		hits = append(hits, hit{folded, e})
	}
	reasons := x.reasons
	x.mu.RUnlock()

	slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(a.folded, b.folded) })
	next := ""
	if len(hits) > limit {
		hits = hits[:limit]
		next = hits[limit-1].folded
	}
	matches := make([]Match, len(hits))
	for i, h := range hits {
		matches[i] = Match{Address: h.entry.address, Reason: reasons[h.entry.reason], Hard: h.entry.hard}
	}
	return matches, next
}
