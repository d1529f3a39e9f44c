package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/mailbridge/mailbridge/pkg/bounce"
	"github.com/mailbridge/mailbridge/pkg/mailevent"
)

func runClassify(_ context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("classify", flag.ContinueOnError)
	flags.SetOutput(stderr)
	bounceCode := flags.String("bounce-code", "", "CMC bounce code (1-11 or 99) to use for every line")
	status := flags.String("status", "", "CMC delivery status (failed or deferred) to use for every line")
	flags.Usage = func() {
		fmt.Fprint(stderr, `Usage: mailbridge classify [--bounce-code N] [--status failed|deferred] < diagnostics.txt

Reads one bounce diagnostic per line from standard input and writes one JSON
object per line to standard output: reason, hard, smtp_code, enhanced_status.

Example:
  echo '550 5.1.1 <user@example.jp>: Recipient address rejected: User unknown' | mailbridge classify

Flags:
`)
		flags.PrintDefaults()
	}
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("%w: classify reads standard input and takes no arguments, got %q", errUsage, flags.Args())
	}
	if *bounceCode != "" {
		if _, err := strconv.Atoi(*bounceCode); err != nil {
			return fmt.Errorf("%w: --bounce-code %q is not a number such as 2", errUsage, *bounceCode)
		}
		if mailevent.BounceName(*bounceCode) == mailevent.UnknownToken {
			return fmt.Errorf("%w: --bounce-code %s is not a CMC bounce code: use 1 to 11 or 99", errUsage, *bounceCode)
		}
	}
	switch *status {
	case "", "failed", "deferred":
	default:
		return fmt.Errorf("%w: --status %q is invalid: use failed or deferred", errUsage, *status)
	}

	scanner := bufio.NewScanner(stdin)
	scanner.Buffer(make([]byte, 64<<10), maxClassifyLine)
	out := bufio.NewWriter(stdout)
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false)
	line := 0
	for scanner.Scan() {
		line++
		verdict := bounce.Classify(bounce.Input{
			Diagnostic:     scanner.Text(),
			BounceCode:     *bounceCode,
			DeliveryStatus: *status,
		})
		if err := encoder.Encode(verdict); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	// Write the verdicts of the lines before a read error, so that the
	// output still matches the input line by line up to the failing line.
	flushErr := out.Flush()
	if err := scanner.Err(); errors.Is(err, bufio.ErrTooLong) {
		return fmt.Errorf("read standard input: line %d is longer than %d bytes: pass one diagnostic per line", line+1, maxClassifyLine)
	} else if err != nil {
		return fmt.Errorf("read standard input: %w", err)
	}
	if flushErr != nil {
		return fmt.Errorf("write output: %w", flushErr)
	}
	return nil
}

// maxClassifyLine is the longest input line classify reads, in bytes.
const maxClassifyLine = 1 << 20
