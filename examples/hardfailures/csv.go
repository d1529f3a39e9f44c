package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/mailbridge/mailbridge/pkg/consumer"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

// header is the CSV file's first row.
var header = []string{"time", "recipient", "reason", "smtp_code", "enhanced_status", "message_id", "event_id"}

// hardBounceCodes are the CMC bounce codes counted as hard when an event
// carries no classification: host unknown, user unknown and bad address.
//
// TODO(classification): events published before the bounce classifier
// ran have no classification, so these codes decide for them; a mailbox
// full (5) or policy (4) bounce is then never written, even when its
// diagnostic shows a permanent failure.
var hardBounceCodes = map[int]bool{1: true, 2: true, 9: true}

// csvFile appends rows to the output file.
type csvFile struct {
	mu   sync.Mutex
	file *os.File
	w    *csv.Writer
}

// openCSV opens path for appending and writes the header row when the file
// is new or empty.
func openCSV(path string) (*csvFile, error) {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open output: %w", err)
	}
	info, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("open output: %w", err)
	}
	c := &csvFile{file: file, w: csv.NewWriter(file)}
	if info.Size() == 0 {
		if err := c.write(header); err != nil {
			file.Close()
			return nil, err
		}
	}
	return c, nil
}

// handle is the consumer's Handler: it writes the event's row when the
// event is a hard failure and ignores every other event.
func (c *csvFile) handle(_ context.Context, msg *consumer.Msg) error {
	data, err := msg.Data()
	if err != nil {
		return consumer.Permanent(err)
	}
	row, hard := hardFailure(&msg.Event, data)
	if !hard {
		return nil
	}
	return c.write(row)
}

// write appends one row and syncs it to disk, so that an acked event's
// row survives a crash.
func (c *csvFile) write(row []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.w.Write(row); err != nil {
		return fmt.Errorf("write row: %w", err)
	}
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("write row: %w", err)
	}
	if err := c.file.Sync(); err != nil {
		return fmt.Errorf("sync output: %w", err)
	}
	return nil
}

func (c *csvFile) Close() error {
	return c.file.Close()
}

// hardFailure returns the CSV row of an event, and whether the event is a
// hard failure: a bounce or failed delivery classified hard, or, without
// a classification, a bounce with one of hardBounceCodes.
func hardFailure(ev *mailevent.Event, data any) ([]string, bool) {
	var msg *mailevent.Message
	reason := ""
	switch d := data.(type) {
	case *mailevent.Bounce:
		msg = &d.Message
		if d.Classification == nil {
			if d.BounceCode == nil || !hardBounceCodes[*d.BounceCode] {
				return nil, false
			}
			reason = d.BounceName
		}
	case *mailevent.Delivery:
		if d.Status != mailevent.StatusFailed {
			return nil, false
		}
		msg = &d.Message
	default:
		return nil, false
	}

	smtpCode, enhanced := msg.SMTPCode, msg.EnhancedStatus
	if c := msg.Classification; c != nil {
		if !c.Hard {
			return nil, false
		}
		reason = c.Reason
		if c.SMTPCode != "" {
			smtpCode = c.SMTPCode
		}
		if c.EnhancedStatus != "" {
			enhanced = c.EnhancedStatus
		}
	} else if reason == "" {
		return nil, false
	}

	return []string{
		ev.Time.UTC().Format(time.RFC3339),
		msg.To,
		reason,
		smtpCode,
		enhanced,
		msg.MessageID,
		ev.ID,
	}, true
}
