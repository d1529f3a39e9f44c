// Command mailbridge receives Customers Mail Cloud webhooks and publishes
// each event as a CloudEvent to NATS JetStream. Run "mailbridge help" for
// its subcommands and configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // CMC_TIMEZONE must load in a container without zoneinfo.
)

// Exit codes.
const (
	exitOK        = 0
	exitError     = 1
	exitUsage     = 2
	exitInterrupt = 130
)

// errUsage marks an error in the command line; main prints the usage hint
// and exits with exitUsage.
var errUsage = errors.New("usage")

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the webhook ingress (and, by default, an embedded NATS server)", runServe},
		{"alerter", "run the alerting consumer on its own", runAlerter},
		{"replay", "send stored events again, to stdout, HTTP or NATS", runReplay},
		{"tail", "follow the stream live, one line per event", runTail},
		{"backfill", "publish a day's events from CMC's API that the stream lacks", runBackfill},
		{"bench", "post generated webhooks to a running bridge and report its throughput", runBench},
		{"classify", "classify bounce diagnostics read from standard input", runClassify},
		{"suppressor", "run the suppression list consumer and its admin API", runSuppressor},
		{"suppressions", "get, list, add, remove, check, export or import suppressions", runSuppressions},
		{"version", "print the version", runVersion},
		{"help", "print this help", runHelp},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 {
		switch args[0] {
		case "-h", "--help", "-help":
			name = "help"
			args = args[1:]
		default:
			if len(args[0]) > 0 && args[0][0] != '-' {
				name, args = args[0], args[1:]
			}
		}
	}

	var cmd *command
	for _, c := range commands() {
		if c.name == name {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "mailbridge: unknown command %q\nRun 'mailbridge help' for the list of commands.\n", name)
		return exitUsage
	}

	// The first signal cancels ctx and starts a graceful stop; a second one
	// restores the default action and so ends the process at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()

	err := cmd.run(ctx, args, stdin, stdout, stderr)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelpShown):
		return exitOK
	case errors.Is(err, errUsage):
		// The message follows "usage: ", which the hint makes redundant.
		message := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
		usage := name
		if name == "suppressions" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			usage += " " + args[0] // its subcommands have flags of their own
		}
		fmt.Fprintf(stderr, "mailbridge %s: %s\nRun 'mailbridge %s -h' for its usage and 'mailbridge help' for the environment variables.\n", name, message, usage)
		return exitUsage
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return exitInterrupt
	default:
		fmt.Fprintf(stderr, "mailbridge %s: %v\n", name, err)
		return exitError
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runVersion(_ context.Context, _ []string, _ io.Reader, stdout, _ io.Writer) error {
	fmt.Fprintln(stdout, "mailbridge", version)
	return nil
}
