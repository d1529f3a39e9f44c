package replay

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progress draws a one-line progress bar: events done, rate and time
// left. It redraws at most four times a second.
type progress struct {
	w     io.Writer
	now   func() time.Time
	start time.Time

	done  atomic.Uint64
	total atomic.Uint64 // estimate; 0 when unknown

	stop    chan struct{}
	stopped sync.WaitGroup
}

func startProgress(w io.Writer, now func() time.Time) *progress {
	p := &progress{w: w, now: now, start: now(), stop: make(chan struct{})}
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
	line := fmt.Sprintf("\r\x1b[K%d events  %.0f/s", done, rate)
	if total > 0 && total >= done {
		line = fmt.Sprintf("\r\x1b[K%s %d/%d events  %.0f/s", bar(done, total, 24), done, total, rate)
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
