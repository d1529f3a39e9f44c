package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

Flags may come before or after the address. Run
'mailbridge suppressions COMMAND -h' for the flags of one command.

Examples:
  mailbridge suppressions get no-user@example.jp
  mailbridge suppressions list -domain example.jp -reason userunknown
  mailbridge suppressions add -reason complaint -note "asked by phone" user@example.jp
  mailbridge suppressions check recipients.txt
  mailbridge suppressions export > suppressions.csv
`

// suppressionsCommands lists the suppressions subcommands: their operands,
// what they do, and the flags each one takes.
var suppressionsCommands = []struct {
	name, operands, summary string
	flags                   []string
}{
	{"get", "ADDRESS", "Prints the suppression of an address as JSON.", nil},
	{"list", "", "Prints one page of the list.", []string{"domain", "reason", "limit", "cursor"}},
	{"add", "ADDRESS", "Suppresses an address by hand.", []string{"reason", "note"}},
	{"remove", "ADDRESS", "Takes an address off the list.", nil},
	{"check", "[FILE]", "Prints the suppressed ones among the addresses in FILE (or standard input), one per line.", nil},
	{"export", "[FILE]", "Writes the list as CSV to FILE (or standard output).", nil},
	{"import", "FILE", "Adds the addresses of a CSV file (\"-\" for standard input).", nil},
}

// suppressionsFlags holds the values of every suppressions flag; each
// subcommand defines only the ones it takes.
type suppressionsFlags struct {
	domain, reason, cursor, note string
	limit                        int
}

// newSuppressionsFlagSet returns the flag set of one subcommand, whose
// usage shows only that subcommand's flags.
func newSuppressionsFlagSet(name, operands, summary string, names []string, values *suppressionsFlags, stderr io.Writer) *flag.FlagSet {
	flags := flag.NewFlagSet("suppressions "+name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	for _, n := range names {
		switch n {
		case "domain":
			flags.StringVar(&values.domain, n, "", "only addresses of this domain")
		case "reason":
			if name == "add" {
				flags.StringVar(&values.reason, n, "", "the reason of the suppression (default manual)")
			} else {
				flags.StringVar(&values.reason, n, "", "only this reason, such as userunknown or complaint")
			}
		case "limit":
			flags.IntVar(&values.limit, n, 100, "addresses per page, 1 to 1000")
		case "cursor":
			flags.StringVar(&values.cursor, n, "", "the next_cursor of the page before")
		case "note":
			flags.StringVar(&values.note, n, "", "a note for other operators")
		}
	}
	flags.Usage = func() {
		synopsis := "mailbridge suppressions " + name
		if len(names) > 0 {
			synopsis += " [flags]"
		}
		if operands != "" {
			synopsis += " " + operands
		}
		fmt.Fprintf(stderr, "Usage: %s\n\n%s Flags may come before or after the operands.\n", synopsis, summary)
		if len(names) > 0 {
			fmt.Fprintln(stderr, "\nFlags:")
			flags.PrintDefaults()
		}
	}
	return flags
}

// parseInterspersed parses flags that may come before, between or after
// the operands, as in "add user@example.jp -reason complaint", and returns
// the operands. Everything after "--" is an operand. Its errors are those
// of parseFlags.
func parseInterspersed(flags *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := parseFlags(flags, args); err != nil {
			return nil, err
		}
		rest := flags.Args()
		if len(rest) == 0 {
			return operands, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(operands, rest...), nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

func runSuppressions(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, suppressionsUsage)
		if len(args) == 0 {
			return fmt.Errorf("%w: name a command, such as get or list", errUsage)
		}
		return nil
	}
	name, args := args[0], args[1:]
	var flags *flag.FlagSet
	var values suppressionsFlags
	for _, c := range suppressionsCommands {
		if c.name == name {
			flags = newSuppressionsFlagSet(c.name, c.operands, c.summary, c.flags, &values, stderr)
		}
	}
	if flags == nil {
		return fmt.Errorf("%w: unknown suppressions command %q: use get, list, add, remove, check, export or import", errUsage, name)
	}
	operands, err := parseInterspersed(flags, args)
	if err != nil {
		return err
	}

	var settings SuppressorSettings
	if err := loadConfig(&settings); err != nil {
		return err
	}
	client, err := newAdminClient(settings)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	err = runSuppressionsCommand(ctx, client, name, operands, values, stdin, stdout, stderr)
	return adminError(err, client.BaseURL)
}

// runSuppressionsCommand runs one subcommand with its parsed flags and
// operands.
func runSuppressionsCommand(ctx context.Context, client *suppression.Client, name string, operands []string, values suppressionsFlags, stdin io.Reader, stdout, stderr io.Writer) error {
	needOperands := func(n int, what string) error {
		if len(operands) != n {
			return fmt.Errorf("%w: suppressions %s takes %s, got %d arguments", errUsage, name, what, len(operands))
		}
		return nil
	}
	// needAddress checks for one address operand. Errors about it name the
	// address, which the API's own messages leave out.
	needAddress := func() error {
		if err := needOperands(1, "one address"); err != nil {
			return err
		}
		if strings.TrimSpace(operands[0]) == "" {
			return fmt.Errorf("%w: suppressions %s: the address is empty", errUsage, name)
		}
		return nil
	}
	aboutAddress := func(err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("%q: %w", operands[0], err)
	}

	switch name {
	case "get":
		if err := needAddress(); err != nil {
			return err
		}
		s, err := client.SuppressionGet(ctx, operands[0])
		if err != nil {
			return aboutAddress(err)
		}
		return printJSON(stdout, s)
	case "list":
		if err := needOperands(0, "no arguments"); err != nil {
			return err
		}
		page, err := client.SuppressionList(ctx, values.domain, values.reason, values.cursor, values.limit)
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
		if err := needAddress(); err != nil {
			return err
		}
		s, err := client.SuppressionAdd(ctx, operands[0], values.reason, values.note)
		if err != nil {
			return aboutAddress(err)
		}
		return printJSON(stdout, s)
	case "remove":
		if err := needAddress(); err != nil {
			return err
		}
		return aboutAddress(client.SuppressionRemove(ctx, operands[0]))
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
	return fmt.Errorf("%w: unknown suppressions command %q", errUsage, name)
}

// adminNotRunning is the next step when the admin API cannot be reached.
const adminNotRunning = "start 'mailbridge serve' (which runs the admin API unless MAILBRIDGE_SUPPRESSOR is false, or is auto with MAILBRIDGE_NATS_URL set) or 'mailbridge suppressor', " +
	"or set MAILBRIDGE_ADMIN_URL or MAILBRIDGE_ADMIN_ADDR to where one listens"

// newAdminClient returns a client of the admin API at MAILBRIDGE_ADMIN_URL,
// or at http://MAILBRIDGE_ADMIN_ADDR when the URL is empty.
func newAdminClient(settings SuppressorSettings) (*suppression.Client, error) {
	if settings.AdminURL == "" {
		return &suppression.Client{BaseURL: localURL(settings.AdminAddr), Token: settings.AdminToken}, nil
	}
	u, err := url.Parse(settings.AdminURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("MAILBRIDGE_ADMIN_URL %q is not an http:// or https:// URL: write it with its scheme, such as http://127.0.0.1:8081", settings.AdminURL)
	}
	return &suppression.Client{BaseURL: settings.AdminURL, Token: settings.AdminToken}, nil
}

// adminError adds the next step to an error of the admin API client: start
// the admin API when nothing listens, or fix the URL when the server that
// responded is not the admin API (such as the webhook port). Other errors
// are returned as they are.
func adminError(err error, baseURL string) error {
	if err == nil || errors.Is(err, errUsage) || errors.Is(err, context.Canceled) {
		return err
	}
	var apiErr *suppression.APIError
	if errors.As(err, &apiErr) {
		notAdminAPI := (apiErr.StatusCode == http.StatusNotFound && !strings.HasSuffix(apiErr.Message, " is not suppressed")) ||
			apiErr.StatusCode == http.StatusMethodNotAllowed
		if notAdminAPI {
			return fmt.Errorf("%w: %s is not the suppression admin API (the webhook port, perhaps): "+
				"set MAILBRIDGE_ADMIN_URL or MAILBRIDGE_ADMIN_ADDR to the admin API's address, 127.0.0.1:8081 by default", err, baseURL)
		}
		return err
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("admin API at %s is not reachable: %w: %s", baseURL, err, adminNotRunning)
	}
	return err
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
