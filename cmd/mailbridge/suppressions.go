package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mailbridge/mailbridge/pkg/suppression"
)

const suppressionsUsage = `Usage: mailbridge suppressions <command> [flags] [arguments]

Calls the suppression admin API at MAILBRIDGE_ADMIN_URL (or
http://MAILBRIDGE_ADMIN_ADDR) with MAILBRIDGE_ADMIN_TOKEN.

Commands:
  get ADDRESS                       print the suppression of an address as JSON
  list [-domain D] [-reason R] [-limit N] [-cursor C]
                                    print one page of the list
  add [-reason R] [-note N] ADDRESS suppress an address by hand
  remove ADDRESS                    take an address off the list
  check [FILE]                      print the suppressed ones among the addresses
                                    in FILE (or standard input), one per line
  export [FILE]                     write the list as CSV to FILE (or standard output)
  import FILE                       add the addresses of a CSV file ("-" for standard input)

Examples:
  mailbridge suppressions get no-user@example.jp
  mailbridge suppressions list -domain example.jp -reason userunknown
  mailbridge suppressions add -reason complaint -note "asked by phone" user@example.jp
  mailbridge suppressions check recipients.txt
  mailbridge suppressions export > suppressions.csv
`

func runSuppressions(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, suppressionsUsage)
		if len(args) == 0 {
			return fmt.Errorf("%w: name a command, such as get or list", errUsage)
		}
		return nil
	}
	var settings SuppressorSettings
	if err := loadConfig(&settings); err != nil {
		return err
	}
	baseURL := settings.AdminURL
	if baseURL == "" {
		baseURL = "http://" + settings.AdminAddr
	}
	client := &suppression.Client{BaseURL: baseURL, Token: settings.AdminToken}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()

	name, args := args[0], args[1:]
	flags := flag.NewFlagSet("suppressions "+name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.Usage = func() { fmt.Fprint(stderr, suppressionsUsage) }
	domain := flags.String("domain", "", "list: only addresses of this domain")
	reason := flags.String("reason", "", "list: only this reason; add: the reason (default manual)")
	limit := flags.Int("limit", 100, "list: addresses per page, 1 to 1000")
	cursor := flags.String("cursor", "", "list: the next_cursor of the page before")
	note := flags.String("note", "", "add: a note for other operators")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	operands := flags.Args()
	needOperands := func(n int, what string) error {
		if len(operands) != n {
			return fmt.Errorf("%w: suppressions %s takes %s, got %d arguments", errUsage, name, what, len(operands))
		}
		return nil
	}

	switch name {
	case "get":
		if err := needOperands(1, "one address"); err != nil {
			return err
		}
		s, err := client.SuppressionGet(ctx, operands[0])
		if err != nil {
			return err
		}
		return printJSON(stdout, s)
	case "list":
		if err := needOperands(0, "no arguments"); err != nil {
			return err
		}
		page, err := client.SuppressionList(ctx, *domain, *reason, *cursor, *limit)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "ADDRESS\tREASON\tHARD\tSOURCE\tSUPPRESSED AT")
		for _, s := range page.Suppressions {
			fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\n", s.Address, s.Reason, s.Hard, s.Source, s.SuppressedAt.Format(time.RFC3339))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if page.NextCursor != "" {
			fmt.Fprintf(stderr, "more: run again with -cursor %s\n", page.NextCursor)
		}
		return nil
	case "add":
		if err := needOperands(1, "one address"); err != nil {
			return err
		}
		s, err := client.SuppressionAdd(ctx, operands[0], *reason, *note)
		if err != nil {
			return err
		}
		return printJSON(stdout, s)
	case "remove":
		if err := needOperands(1, "one address"); err != nil {
			return err
		}
		return client.SuppressionRemove(ctx, operands[0])
	case "check":
		if len(operands) > 1 {
			return fmt.Errorf("%w: suppressions check takes at most one file", errUsage)
		}
		return checkAddresses(ctx, client, operands, stdin, stdout)
	case "export":
		if len(operands) > 1 {
			return fmt.Errorf("%w: suppressions export takes at most one file", errUsage)
		}
		if len(operands) == 0 {
			return client.SuppressionExport(ctx, stdout)
		}
		f, err := os.Create(operands[0])
		if err != nil {
			return err
		}
		if err := client.SuppressionExport(ctx, f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	case "import":
		if err := needOperands(1, "one CSV file, or - for standard input"); err != nil {
			return err
		}
		in := stdin
		if operands[0] != "-" {
			f, err := os.Open(operands[0])
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		result, err := client.SuppressionImport(ctx, in)
		if err != nil {
			return err
		}
		return printJSON(stdout, result)
	}
	return fmt.Errorf("%w: unknown suppressions command %q: use get, list, add, remove, check, export or import", errUsage, name)
}

// checkAddresses checks the addresses of a file or of stdin, one per line,
// in requests of at most 100,000, and prints the suppressed ones.
func checkAddresses(ctx context.Context, client *suppression.Client, operands []string, stdin io.Reader, stdout io.Writer) error {
	in := stdin
	if len(operands) == 1 && operands[0] != "-" {
		f, err := os.Open(operands[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	const batchSize = 100_000
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	batch := make([]string, 0, batchSize)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		result, err := client.SuppressionCheck(ctx, batch)
		if err != nil {
			return err
		}
		for _, m := range result.Suppressed {
			fmt.Fprintf(tw, "%s\t%s\t%t\n", m.Address, m.Reason, m.Hard)
		}
		batch = batch[:0]
		return nil
	}
	scanner := bufio.NewScanner(in)
	for scanner.Scan() {
		if line := strings.TrimSpace(scanner.Text()); line != "" {
			batch = append(batch, line)
		}
		if len(batch) == batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := scanner.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return tw.Flush()
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
