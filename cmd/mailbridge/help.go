package main

import (
	"context"
	"fmt"
	"io"
)

func runHelp(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	// "mailbridge help tail" shows the command's own usage, as "tail -h"
	// does, but on standard output like the rest of help. help and
	// version have no usage of their own.
	if len(args) == 1 && args[0] != "help" && args[0] != "version" {
		for _, c := range commands() {
			if c.name == args[0] {
				return c.run(ctx, []string{"-h"}, stdin, stdout, stdout)
			}
		}
	}
	fmt.Fprint(stdout, `mailbridge receives Customers Mail Cloud (CMC) webhooks and publishes each
event as a CloudEvent to NATS JetStream.

Usage:
  mailbridge [command] [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(stdout, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprint(stdout, `
With no command, mailbridge runs serve.

Examples:
  mailbridge                       # embedded NATS on 127.0.0.1:4222, webhooks on :8080
  MAILBRIDGE_NATS_URL=nats://nats-1:4222,nats://nats-2:4222 mailbridge serve

Configuration is read from environment variables only. Each variable, its
default and its meaning:

`)
	if err := writeVariables(stdout, &serveConfig{}); err != nil {
		return err
	}
	for _, section := range helpSections {
		fmt.Fprintf(stdout, "\n%s:\n\n", section.title)
		if err := writeVariables(stdout, section.config); err != nil {
			return err
		}
	}
	return nil
}
