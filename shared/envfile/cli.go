package envfile

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
)

const usageText = `usage: kaizen envfile render [flags]

Turn one Secrets Manager secret (a JSON object) into an environment file.
The secret is read from Secrets Manager (--secret-id), a file (--in) or
standard input (when neither is given); the file goes to --out or stdout.

flags:
  --secret-id ID      name or ARN of the secret to fetch from Secrets Manager
  --in FILE           read the secret's JSON from FILE
  --out PATH          write the file atomically to PATH (default: stdout)
  --format F          shell (export KEY='value', default) or systemd (KEY="value")
  --mode MODE         octal permissions of --out (default 0600); no group or
                      others write bit (0640 is fine, 0660 and 0602 are refused)
  --group GROUP       group name or id to own --out (default: unchanged)
  --prefix P          prepend P to every variable name; without it, keys that
                      a shell or the loader gives a meaning to (PATH, HOME,
                      PS1, MAILPATH, LANG, LD_*, BASH*...) are refused
  --only K1,K2        write only these keys of the secret, named without --prefix
                      (each must exist; the other keys are not checked)

exit status: 0 on success, 1 on a render or I/O error, 2 on a usage error.
`

// RunRender is the entry point of "kaizen envfile render": it parses args
// (the arguments after "render"), renders the secret and writes it to --out
// or stdout. It returns the exit status: 0 on success, 1 on a render, fetch
// or I/O error, 2 on a usage error. Errors go to stderr prefixed with
// "kaizen envfile: " and never contain a secret value. No file is written
// unless rendering succeeded. getSecret fetches a secret by id for
// --secret-id; it may be nil when --secret-id is not used.
func RunRender(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getSecret func(ctx context.Context, id string) ([]byte, error)) int {
	fs := flag.NewFlagSet("kaizen envfile render", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, with our prefix
	var (
		secretID = fs.String("secret-id", "", "")
		in       = fs.String("in", "", "")
		out      = fs.String("out", "", "")
		format   = fs.String("format", FormatShell, "")
		modeStr  = fs.String("mode", "0600", "")
		group    = fs.String("group", "", "")
		prefix   = fs.String("prefix", "", "")
		onlyStr  = fs.String("only", "", "")
	)
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kaizen envfile: "+format+"\n", a...)
		fmt.Fprint(stderr, usageText)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			return 0
		}
		return usage("%v", err)
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	if set["secret-id"] && set["in"] {
		return usage("--secret-id and --in cannot be used together")
	}
	if set["secret-id"] && *secretID == "" {
		return usage("--secret-id is empty")
	}
	if set["in"] && *in == "" {
		return usage("--in is empty")
	}
	if set["out"] && *out == "" {
		return usage("--out is empty")
	}
	if *format != FormatShell && *format != FormatSystemd {
		return usage("--format must be %s or %s, not %q", FormatShell, FormatSystemd, *format)
	}
	if (set["mode"] || set["group"]) && *out == "" {
		return usage("--mode and --group need --out")
	}
	mode, err := parseMode(*modeStr)
	if err != nil {
		return usage("--mode: %v", err)
	}
	if w := mode & 0o022; w != 0 {
		return usage("--mode %s lets %s write the file (%#o); a secret file must be writable by its owner only, e.g. 0600 or 0640", *modeStr, writers(w), uint32(w))
	}
	gid := -1
	if set["group"] {
		if gid, err = lookupGroup(*group); err != nil {
			return usage("--group: %v", err)
		}
	}
	if *prefix != "" && !validName(*prefix) {
		return usage("--prefix %q is not a valid environment variable name", *prefix)
	}
	var only []string
	if set["only"] {
		for _, k := range strings.Split(*onlyStr, ",") {
			if k = strings.TrimSpace(k); k != "" {
				only = append(only, k)
			}
		}
		if len(only) == 0 {
			return usage("--only lists no key")
		}
	}
	if *secretID != "" && !validSecretID(*secretID) {
		return usage("--secret-id %q has a character that is not an ASCII letter, digit or one of \"/_+=.@-:\"", *secretID)
	}

	fail := func(err error) int {
		fmt.Fprintf(stderr, "kaizen envfile: %v\n", err)
		return 1
	}

	var input []byte
	switch {
	case *secretID != "":
		if getSecret == nil {
			return fail(errors.New("no Secrets Manager client configured"))
		}
		input, err = getSecret(ctx, *secretID)
	case *in != "":
		input, err = readLimited(*in, nil)
	default:
		if stdin == nil {
			return fail(errors.New("no standard input"))
		}
		input, err = readLimited("standard input", stdin)
	}
	if err != nil {
		return fail(err)
	}

	data, err := Render(input, Options{Format: *format, Prefix: *prefix, Only: only, SecretID: *secretID})
	if err != nil {
		return fail(err)
	}
	if *out == "" {
		if _, err := stdout.Write(data); err != nil {
			return fail(fmt.Errorf("write standard output: %w", err))
		}
		return 0
	}
	if err := WriteFileAtomic(*out, data, mode, gid); err != nil {
		return fail(err)
	}
	return 0
}

// readLimited reads at most MaxInputBytes+1 bytes (enough for Render to
// report an oversize input) from r, or from the file name when r is nil.
func readLimited(name string, r io.Reader) ([]byte, error) {
	if r == nil {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return b, nil
}

// parseMode parses an octal permission mode such as 0600, 640 or 0o640.
func parseMode(s string) (os.FileMode, error) {
	digits := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	if digits == "" {
		return 0, fmt.Errorf("%q is not an octal mode", s)
	}
	n, err := strconv.ParseUint(digits, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not an octal mode", s)
	}
	if n > 0o777 {
		return 0, fmt.Errorf("%q has bits other than permission bits (max 0777)", s)
	}
	return os.FileMode(n), nil
}

// writers names who the write bits w (a subset of 0o022) let write.
func writers(w os.FileMode) string {
	switch w {
	case 0o020:
		return "its group"
	case 0o002:
		return "others"
	}
	return "its group and others"
}

// lookupGroup returns the id of a group given by number or name.
func lookupGroup(s string) (int, error) {
	if s == "" {
		return 0, errors.New("empty group")
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("invalid group id %d", n)
		}
		return n, nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("group %q has non-numeric id %q", s, g.Gid)
	}
	return n, nil
}
