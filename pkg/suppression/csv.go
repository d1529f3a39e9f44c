package suppression

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// csvHeader is the header row of an export, and the columns an import
// reads. Only address is required on import.
var csvHeader = []string{"address", "reason", "hard", "source", "note", "first_seen", "last_seen", "suppressed_at", "failures"}

// Export writes every suppressed address as CSV, with a header row, in
// the bucket's order. It reads the bucket in one pass with a watch, not
// one read per record. It returns the number of addresses written.
func (s *Store) Export(ctx context.Context, w io.Writer) (int, error) {
	watcher, err := s.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return 0, fmt.Errorf("export: watch bucket: %w", err)
	}
	defer watcher.Stop()

	out := csv.NewWriter(w)
	if err := out.Write(csvHeader); err != nil {
		return 0, fmt.Errorf("export: %w", err)
	}
	count := 0
	for {
		var entry jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return count, fmt.Errorf("export: %w", ctx.Err())
		case e, ok := <-watcher.Updates():
			if !ok {
				return count, errors.New("export: the bucket watch stopped")
			}
			entry = e
		}
		if entry == nil {
			break
		}
		var rec Record
		if err := json.Unmarshal(entry.Value(), &rec); err != nil {
			return count, fmt.Errorf("export: decode record %s: %w", entry.Key(), err)
		}
		if !rec.Suppressed {
			continue
		}
		if err := out.Write(csvRow(&rec)); err != nil {
			return count, fmt.Errorf("export: %w", err)
		}
		count++
	}
	out.Flush()
	if err := out.Error(); err != nil {
		return count, fmt.Errorf("export: %w", err)
	}
	return count, nil
}

func csvRow(rec *Record) []string {
	return []string{
		rec.Address.String(), rec.Reason, strconv.FormatBool(rec.Hard), rec.Source, rec.Note,
		csvTime(rec.FirstSeen), csvTime(rec.LastSeen), csvTime(rec.SuppressedAt), strconv.Itoa(rec.Failures),
	}
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// ImportResult is the outcome of an import.
type ImportResult struct {
	// Imported counts the addresses newly put on the list.
	Imported int `json:"imported"`
	// Unchanged counts the addresses that were on the list already, which
	// an import leaves as they are.
	Unchanged int `json:"unchanged"`
	// Invalid lists the rows that could not be imported, at most
	// maxImportErrors of them; InvalidCount counts them all.
	Invalid      []ImportError `json:"invalid,omitempty"`
	InvalidCount int           `json:"invalid_count"`
}

// ImportError is a CSV row that could not be imported.
type ImportError struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

const maxImportErrors = 100

// Import reads CSV with a header row and puts every address on the list
// that is not on it yet. Columns are found by name in the header; address
// is required, and the others of an export (reason, hard, source, note,
// first_seen, last_seen, suppressed_at, failures) are optional. A missing
// reason is "manual", a missing hard is true, and a source other than
// bounce, manual or import becomes import, so that an export imported
// into an empty bucket exports again as it was.
//
// It returns an error wrapping ErrInvalidCSV when the header has no
// address column or the CSV cannot be parsed; rows before the error stay
// imported. Rows with a bad address or value are reported in the result.
func (s *Store) Import(ctx context.Context, r io.Reader) (ImportResult, error) {
	in := csv.NewReader(r)
	in.FieldsPerRecord = -1
	in.ReuseRecord = true
	header, err := in.Read()
	if err != nil {
		return ImportResult{}, fmt.Errorf("%w: header row: %v", ErrInvalidCSV, err)
	}
	columns := make(map[string]int, len(header))
	for i, name := range header {
		columns[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))] = i
	}
	if _, ok := columns["address"]; !ok {
		return ImportResult{}, fmt.Errorf("%w: the header row has no address column", ErrInvalidCSV)
	}

	var result ImportResult
	for {
		row, err := in.Read()
		if errors.Is(err, io.EOF) {
			return result, nil
		}
		if err != nil {
			return result, fmt.Errorf("%w: %v", ErrInvalidCSV, err)
		}
		line, _ := in.FieldPos(0)
		field := func(name string) string {
			if i, ok := columns[name]; ok && i < len(row) {
				return strings.TrimSpace(row[i])
			}
			return ""
		}

		rec, err := s.importRecord(field)
		if err == nil {
			var added bool
			added, err = s.importOne(ctx, rec)
			if err != nil && ctx.Err() != nil {
				return result, fmt.Errorf("import: %w", err)
			}
			if added {
				result.Imported++
			} else if err == nil {
				result.Unchanged++
			}
		}
		if err != nil {
			result.InvalidCount++
			if len(result.Invalid) < maxImportErrors {
				result.Invalid = append(result.Invalid, ImportError{Line: line, Error: err.Error()})
			}
		}
	}
}

// importRecord builds the suppressed record of one CSV row.
func (s *Store) importRecord(field func(string) string) (Record, error) {
	address, err := ParseAddress(field("address"))
	if err != nil {
		return Record{}, err
	}
	now := s.cfg.Now()
	rec := Record{Address: address, Suppressed: true, Reason: field("reason"), Hard: true, Source: field("source"), Note: field("note")}
	if rec.Reason == "" {
		rec.Reason = ReasonManual
	}
	switch rec.Source {
	case SourceBounce, SourceManual, SourceImport:
	default:
		rec.Source = SourceImport
	}
	if text := field("hard"); text != "" {
		if rec.Hard, err = strconv.ParseBool(text); err != nil {
			return Record{}, fmt.Errorf("hard %q is not true or false", text)
		}
	}
	if text := field("failures"); text != "" {
		if rec.Failures, err = strconv.Atoi(text); err != nil || rec.Failures < 0 {
			return Record{}, fmt.Errorf("failures %q is not a count", text)
		}
	}
	for _, t := range []struct {
		name   string
		target *time.Time
	}{{"first_seen", &rec.FirstSeen}, {"last_seen", &rec.LastSeen}, {"suppressed_at", &rec.SuppressedAt}} {
		*t.target = now
		if text := field(t.name); text != "" {
			if *t.target, err = time.Parse(time.RFC3339Nano, text); err != nil {
				return Record{}, fmt.Errorf("%s %q is not an RFC 3339 time", t.name, text)
			}
		}
	}
	return rec, nil
}

// importOne puts one imported record on the list unless its address is
// on it already, and reports whether it did.
func (s *Store) importOne(ctx context.Context, imported Record) (bool, error) {
	rec, kind, revision, err := s.modify(ctx, imported.Address, func(rec *Record) string {
		if rec.Suppressed {
			return ""
		}
		// Keep what the record knows of events and removals.
		imported.Applied, imported.ClearedAt = rec.Applied, rec.ClearedAt
		imported.Deferrals = rec.Deferrals
		imported.LastChange = ChangeAdded
		*rec = imported
		return ChangeAdded
	})
	if err != nil || kind == "" {
		return false, err
	}
	// NOTE: an import writes one record and publishes one change event at
	// a time, so a file of a million rows takes many minutes.
	s.publishAPIChange(ctx, kind, rec, revision)
	return true, nil
}
