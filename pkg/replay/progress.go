package replay

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progress draws a one-line progress bar: messages read, events sent,
// rate and time left, in the words of the summary line. It redraws at most
// four times a second.
type progress struct {
	w     io.Writer
	now   func() time.Time
	start time.Time

	done      atomic.Uint64 // messages read
	total     atomic.Uint64 // messages to read, an estimate; 0 when unknown
	sent      atomic.Uint64 // events handed to the target, or selected in a dry run
	sentLabel string        // "events sent", or "events to send" in a dry run

	stop    chan struct{}
	stopped sync.WaitGroup
}

func startProgress(w io.Writer, now func() time.Time, dryRun bool) *progress {
	p := &progress{w: w, now: now, start: now(), stop: make(chan struct{}), sentLabel: "events sent"}
	if dryRun {
		p.sentLabel = "events to send"
	}
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		ticker := time.NewTicker(250 * time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-ticker.C:
				p.draw()
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

// finish draws the last state and ends the line.
func (p *progress) finish() {
	close(p.stop)
	p.stopped.Wait()
	p.draw()
	fmt.Fprintln(p.w)
}

func (p *progress) draw() {
	done, total := p.done.Load(), p.total.Load()
	elapsed := p.now().Sub(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed
	}
	sent := p.sent.Load()
	line := fmt.Sprintf("\r\x1b[K%d messages read, %d %s  %.0f messages/s", done, sent, p.sentLabel, rate)
	if total > 0 && total >= done {
		line = fmt.Sprintf("\r\x1b[K%s %d/%d messages read, %d %s  %.0f messages/s", bar(done, total, 24), done, total, sent, p.sentLabel, rate)
		if rate > 0 {
			left := time.Duration(float64(total-done) / rate * float64(time.Second)).Round(time.Second)
			line += "  " + left.String() + " left"
		}
	}
	io.WriteString(p.w, line)
}

func bar(done, total uint64, width int) string {
	filled := int(done * uint64(width) / total)
	b := make([]byte, 0, width+2)
	b = append(b, '[')
	for i := range width {
		if i < filled {
			b = append(b, '#')
		} else {
			b = append(b, '.')
		}
	}
	return string(append(b, ']'))
}
