package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// errHelpShown marks a -h or --help request whose usage was printed; main
// exits with exitOK.
var errHelpShown = errors.New("usage printed")

// parseFlags parses a command's arguments. On -h or --help it prints the
// command's usage and returns errHelpShown. On an invalid flag it returns
// an error wrapping errUsage with the flag package's message, which it
// keeps from printing, so that main prints that message once with the
// usage hint.
func parseFlags(flags *flag.FlagSet, args []string) error {
	// Parse prints its message and calls Usage on an error. The commands'
	// Usage functions write to stderr themselves, so both are silenced.
	output, usage := flags.Output(), flags.Usage
	flags.SetOutput(io.Discard)
	flags.Usage = func() {}
	err := flags.Parse(args)
	flags.SetOutput(output)
	flags.Usage = usage
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		usage()
		return errHelpShown
	default:
		return fmt.Errorf("%w: %w", errUsage, err)
	}
}
