package imageprep

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Synopsis is the command line of "kaizen image prepare".
const Synopsis = "kaizen image prepare [--os al2|al2023] [--releasever VER] [--advisories IDS] [--advisories-from LOC] [--advisories-to LOC] " +
	"[--app APP --group GROUP (--secret-id ID | --secret-file FILE)] [--root DIR] [--allow-missing] [--dry-run]"

const usageText = `Usage: ` + Synopsis + `

Prepare a golden image on its build instance, as root: apply the app's security
advisories and verify them, render the app's secret into env files, write the
image manifest, and print the AMI tags to set (KEY=VALUE lines on stdout).

  --os al2|al2023        the image's Amazon Linux (default: read --os-release)
  --os-release FILE      default ROOT/etc/os-release
  --releasever VER       the AL2023 release to upgrade to (AL2023_RELEASE_VERSION;
                         "" or "none": the image's own, or the baseline's)
  --advisories IDS       advisory ids, comma or space separated (SECURITY_ADVISORIES;
                         "none": none)
  --advisories-from LOC  the app's baseline to add: ssm:/parameter/name (absent: empty)
                         or a file (JSON baseline, an image.json, or a list of ids)
  --advisories-to LOC    where to save the new baseline once everything is verified
  --allow-missing        build even if an advisory is not installed afterwards
  --app APP              names /etc/profile.d/APP.sh and /etc/APP/env
  --group GROUP          group of the env files (name or id; default APP); mode 0640
  --secret-id ID         the app's secret in Secrets Manager (honours AWS_ENDPOINT_URL)
  --secret-file FILE     the secret's JSON from a file instead
  --root DIR             write every file under DIR (tests; default /)
  --dry-run              print the commands it would run, one per line; change nothing

Without --dry-run: AL2 runs yum update -y --advisory=ID...; AL2023 runs
dnf upgrade -y --releasever=VER --advisory=ID... (or the release upgrade alone),
then updateinfo must list every advisory installed and none still available.

exit status: 0 done, 1 failed (nothing written), 2 usage error.
`

// RunCLI is "kaizen image prepare" with its arguments (after "prepare").
// It returns the exit status.
func RunCLI(ctx context.Context, args []string, stdout, stderr io.Writer, c Clients) int {
	fs := flag.NewFlagSet("kaizen image prepare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		osFlag     = fs.String("os", "", "")
		osRelease  = fs.String("os-release", "", "")
		releasever = fs.String("releasever", "", "")
		advisories = fs.String("advisories", "", "")
		from       = fs.String("advisories-from", "", "")
		to         = fs.String("advisories-to", "", "")
		allow      = fs.Bool("allow-missing", false, "")
		app        = fs.String("app", "", "")
		group      = fs.String("group", "", "")
		secretID   = fs.String("secret-id", "", "")
		secretFile = fs.String("secret-file", "", "")
		root       = fs.String("root", "/", "")
		dryRun     = fs.Bool("dry-run", false, "")
	)
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "kaizen image: "+format+"\n\n", a...)
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
	o := Options{
		OSRelease: *osRelease, ReleaseVersion: strings.TrimSpace(*releasever),
		AdvisoriesFrom: *from, AdvisoriesTo: *to, AllowMissing: *allow,
		App: *app, Group: *group, SecretID: *secretID, SecretFile: *secretFile, Root: *root, DryRun: *dryRun,
	}
	if *osFlag != "" {
		var err error
		if o.OS, err = ParseOS(*osFlag); err != nil {
			return usage("%v", err)
		}
	}
	ids, err := ParseAdvisories(*advisories)
	if err != nil {
		return usage("--advisories: %v", err)
	}
	o.Advisories = ids
	for _, loc := range []struct{ flag, v string }{{"--advisories-from", *from}, {"--advisories-to", *to}} {
		if loc.v != "" {
			if err := ValidLocation(loc.v); err != nil {
				return usage("%s: %v", loc.flag, err)
			}
		}
	}
	if *secretID != "" && *secretFile != "" {
		return usage("--secret-id and --secret-file cannot be used together")
	}
	if (*secretID != "" || *secretFile != "") && *app == "" {
		return usage("--app is required with a secret: it names /etc/profile.d/APP.sh and /etc/APP/env")
	}
	if *root == "" {
		return usage("--root is empty")
	}
	if err := Run(ctx, o, c, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "kaizen image: %v\n", err)
		return 1
	}
	return 0
}
