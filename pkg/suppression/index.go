package suppression

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/nats-io/nats.go/jetstream"
)

// Index is an in-memory copy of the suppressed addresses and their
// reasons, kept current by a watch on the bucket. Every process that
// serves checks has its own; JetStream pushes each change to every watch,
// so an index is behind the bucket only by the time a message takes to
// arrive.
//
// The addresses are kept in one byte slice and found through a map from a
// 64-bit hash of their folded form, all free of pointers: the garbage
// collector never scans a million entries, and a check allocates nothing
// per address.
type Index struct {
	mu      sync.RWMutex
	seed    maphash.Seed
	byHash  map[uint64]uint32 // folded-address hash to position in entries
	clashes map[string]uint32 // folded address to position, for a hash taken already
	entries []indexEntry
	arena   []byte   // the addresses as stored, back to back
	free    []uint32 // positions of deleted entries
	dead    int      // bytes of arena that deleted entries held
	reasons []string // reason text by indexEntry.reason
	reasonN map[string]uint16
	sizes   map[sizeKey]int // live entries by severity and source
	ready   chan struct{}
	loaded  sync.Once // closes ready
}

// indexEntry is one suppressed address: arena[offset:offset+length].
type indexEntry struct {
	offset uint32
	length uint16
	reason uint16
	hard   bool
	live   bool
	source uint8 // position in indexSources
}

// indexSources are the sources an index counts apart, by the code kept in
// indexEntry.source. A record without a known source counts as "unknown".
var indexSources = []string{"unknown", SourceBounce, SourceManual, SourceImport}

// sourceCode returns the indexSources position of a record's source.
func sourceCode(source string) uint8 {
	for i, known := range indexSources[1:] {
		if source == known {
			return uint8(i + 1)
		}
	}
	return 0
}

// sizeKey groups the index's entries for the size metric.
type sizeKey struct {
	hard   bool
	source uint8
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
		seed:    maphash.MakeSeed(),
		byHash:  make(map[uint64]uint32),
		clashes: make(map[string]uint32),
		reasonN: make(map[string]uint16),
		sizes:   make(map[sizeKey]int),
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
	return len(x.entries) - len(x.free)
}

// counts returns the number of suppressed addresses by severity and
// source.
func (x *Index) counts() map[sizeKey]int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return maps.Clone(x.sizes)
}

// Run watches the bucket and applies every record to the index until ctx
// ends. It returns nil when ctx ends, and an error when the watch cannot
// start or stops on its own. Running it again brings the index up to date,
// because a new watch delivers every record again.
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
		Source     string `json:"source"`
	}
	if err := json.Unmarshal(entry.Value(), &rec); err != nil {
		return fmt.Errorf("decode record: %w", err)
	}
	if !rec.Suppressed {
		x.Delete(folded)
		return nil
	}
	x.set(rec.Address, rec.Reason, rec.Source, rec.Hard)
	return nil
}

// Set puts an address on the index, or changes its reason. The size
// metric counts it under the source "unknown".
func (x *Index) Set(address, reason string, hard bool) {
	x.set(address, reason, "", hard)
}

// set puts an address on the index with the source of its record.
func (x *Index) set(address, reason, source string, hard bool) {
	folded, ok := foldLookup(address)
	if !ok || len(address) > 1<<16-1 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	n, known := x.reasonN[reason]
	if !known {
		// NOTE: reasons past 65535 distinct texts share the last number;
		// manual reasons are free text, but no list comes near that.
		n = uint16(min(len(x.reasons), 1<<16-1))
		if int(n) == len(x.reasons) {
			x.reasons = append(x.reasons, reason)
		}
		x.reasonN[reason] = n
	}

	if i, found := x.find(folded); found {
		x.drop(i)
		x.compactIfSparse()
	}
	entry := indexEntry{offset: uint32(len(x.arena)), length: uint16(len(address)), reason: n, hard: hard, live: true, source: sourceCode(source)}
	x.sizes[sizeKey{hard: entry.hard, source: entry.source}]++
	x.arena = append(x.arena, address...)
	var i uint32
	if k := len(x.free); k > 0 {
		i, x.free = x.free[k-1], x.free[:k-1]
		x.entries[i] = entry
	} else {
		i = uint32(len(x.entries))
		x.entries = append(x.entries, entry)
	}
	h := x.hash(folded)
	if _, taken := x.byHash[h]; taken {
		x.clashes[folded] = i
	} else {
		x.byHash[h] = i
	}
}

// Delete takes an address off the index.
func (x *Index) Delete(address string) {
	folded, ok := foldLookup(address)
	if !ok {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if i, found := x.find(folded); found {
		x.drop(i)
		x.compactIfSparse()
	}
}

// compactIfSparse compacts the arena once deleted entries hold more than
// half of it and over a MiB. The caller holds mu.
func (x *Index) compactIfSparse() {
	if x.dead > 1<<20 && x.dead > len(x.arena)/2 {
		x.compact()
	}
}

// hash returns the map key of a folded address.
func (x *Index) hash(folded string) uint64 {
	return maphash.String(x.seed, folded)
}

// find returns the position of a folded address. The caller holds mu.
func (x *Index) find(folded string) (uint32, bool) {
	if i, ok := x.byHash[x.hash(folded)]; ok && x.matches(i, folded) {
		return i, true
	}
	if len(x.clashes) > 0 {
		i, ok := x.clashes[folded]
		return i, ok
	}
	return 0, false
}

// matches reports whether entry i is the folded address.
func (x *Index) matches(i uint32, folded string) bool {
	e := x.entries[i]
	return e.live && strings.EqualFold(x.address(e), folded)
}

// address returns the stored address of an entry, sharing the arena.
func (x *Index) address(e indexEntry) string {
	return unsafe.String(&x.arena[e.offset], int(e.length))
}

// drop deletes entry i. The caller holds mu.
func (x *Index) drop(i uint32) {
	e := x.entries[i]
	folded := strings.ToLower(x.address(e))
	h := x.hash(folded)
	if j, ok := x.clashes[folded]; ok && j == i {
		delete(x.clashes, folded)
	} else if j, ok := x.byHash[h]; ok && j == i {
		delete(x.byHash, h)
		// Promote a clashing address with the same hash, if any.
		for other, k := range x.clashes {
			if x.hash(other) == h {
				x.byHash[h] = k
				delete(x.clashes, other)
				break
			}
		}
	}
	x.sizes[sizeKey{hard: e.hard, source: e.source}]--
	x.entries[i] = indexEntry{}
	x.free = append(x.free, i)
	x.dead += int(e.length)
}

// compact copies the live addresses into a new arena. The caller holds mu.
func (x *Index) compact() {
	arena := make([]byte, 0, len(x.arena)-x.dead)
	for i, e := range x.entries {
		if !e.live {
			continue
		}
		offset := uint32(len(arena))
		arena = append(arena, x.address(e)...)
		x.entries[i].offset = offset
	}
	x.arena, x.dead = arena, 0
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
	i, found := x.find(folded)
	if !found {
		return Match{}, false
	}
	e := x.entries[i]
	return Match{Address: strings.Clone(x.address(e)), Reason: x.reasons[e.reason], Hard: e.hard}, true
}

// parallelCheck is the smallest check split across the CPUs. Below it,
// starting goroutines costs more than it saves.
const parallelCheck = 20_000

// Check returns the suppressed addresses among addresses, in their order,
// each as it was given, with its reason. Text that is not an address is
// never suppressed. It holds the read lock once for the whole list, and
// splits a large list across GOMAXPROCS goroutines.
func (x *Index) Check(addresses []string) []Match {
	x.mu.RLock()
	defer x.mu.RUnlock()
	workers := min(runtime.GOMAXPROCS(0), len(addresses)/parallelCheck)
	if workers <= 1 {
		return x.check(addresses, nil)
	}
	parts := make([][]Match, workers)
	size := (len(addresses) + workers - 1) / workers
	var wg sync.WaitGroup
	for w := range workers {
		chunk := addresses[w*size : min(len(addresses), (w+1)*size)]
		wg.Go(func() { parts[w] = x.check(chunk, nil) })
	}
	wg.Wait()
	return slices.Concat(parts...)
}

// check appends the suppressed addresses among addresses to found. The
// caller holds the read lock.
func (x *Index) check(addresses []string, found []Match) []Match {
	var buf [maxAddressLength + 2]byte
	for _, address := range addresses {
		foldedBytes, ok := foldInto(buf[:0], address)
		if !ok {
			continue
		}
		// folded is only read before buf is written again.
		folded := unsafe.String(unsafe.SliceData(foldedBytes), len(foldedBytes))
		i, hit := x.byHash[x.hash(folded)]
		if !hit || !x.matches(i, folded) {
			if i, hit = x.clashes[folded]; !hit {
				continue
			}
		}
		e := x.entries[i]
		found = append(found, Match{Address: address, Reason: x.reasons[e.reason], Hard: e.hard})
	}
	return found
}

// List returns up to limit suppressed addresses in the order of their
// folded form, after the folded address cursor, of one domain and one
// reason when those are not empty. It also returns the cursor of the next
// page, or "" on the last page.
//
// NOTE: each call scans the whole index and sorts the entries that match.
// A page therefore costs time in proportion to the list, not to the page,
// which suits an admin listing but not a hot path on a list of millions.
func (x *Index) List(domain, reason, cursor string, limit int) ([]Match, string) {
	domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	cursor = strings.ToLower(cursor)
	type hit struct {
		folded string
		match  Match
	}
	var hits []hit
	x.mu.RLock()
	for _, e := range x.entries {
		if !e.live {
			continue
		}
		if reason != "" && x.reasons[e.reason] != reason {
			continue
		}
		address := x.address(e)
		if domain != "" && !strings.EqualFold(address[strings.LastIndexByte(address, '@')+1:], domain) {
			continue
		}
		folded := strings.ToLower(address)
		if cursor != "" && folded <= cursor {
			continue
		}
		hits = append(hits, hit{folded, Match{Address: strings.Clone(address), Reason: x.reasons[e.reason], Hard: e.hard}})
	}
	x.mu.RUnlock()

	slices.SortFunc(hits, func(a, b hit) int { return cmp.Compare(a.folded, b.folded) })
	next := ""
	if len(hits) > limit {
		hits = hits[:limit]
		next = hits[limit-1].folded
	}
	matches := make([]Match, len(hits))
	for i, h := range hits {
		matches[i] = h.match
	}
	return matches, next
}
