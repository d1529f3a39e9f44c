// Command hardfailures is an example consumer built on mailbridge's
// consumer kit. It appends every hard failure (a bounce, or a failed
// delivery, that sending again will not fix) to a CSV file with the
// columns time, recipient, reason, smtp_code, enhanced_status, message_id
// and event_id.
//
// It reads the MAIL stream through the durable consumer "hardfailures",
// so a restart resumes where it stopped, and remembers the event ids it
// wrote in a KV bucket so that a replayed event is not written twice.
//
//	go run ./examples/hardfailures -output hard.csv
//
// By default it connects to nats://127.0.0.1:4222, the embedded server of
// "mailbridge serve". Run it with -h for every flag and its environment
// variable.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	err := run(ctx, os.Args[1:], os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		if err != errUsage {
			fmt.Fprintln(os.Stderr, "hardfailures:", err)
		}
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "hardfailures:", err)
		os.Exit(1)
	}
}

// errUsage is returned after the flag package has printed a usage error.
var errUsage = errors.New("usage")

// run parses args, connects to NATS and writes hard failures until ctx
// ends.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	return consume(ctx, cfg, newLogger(stderr))
}
