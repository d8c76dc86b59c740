package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kaizen-sre/kaizen/shared/config"
)

const configUsage = `Usage: kaizen config check [--config FILE] [--json]

Validate the configuration file the functions and the CDK app read
(default examples/kaizen.json, or $KAIZEN_CONFIG).

Exit 0: the file is valid; one line per app (its colors' Auto Scaling groups,
floor, preview size, bake, change window, alarms) and any warnings.
Exit 2: the file is not valid; every error, each naming its field
(for example "apps[0].floor: must be at least 1").

Flags:
  --config FILE   the configuration file
  --json          print the result as one JSON object
`

// ConfigCheck is what `kaizen config check --json` prints.
type ConfigCheck struct {
	Config   string        `json:"config"`
	Valid    bool          `json:"valid"`
	Apps     []AppSummary  `json:"apps,omitempty"`
	Warnings []string      `json:"warnings"`
	Errors   []ConfigError `json:"errors"`
}

// AppSummary is one app of a valid configuration.
type AppSummary struct {
	Name          string `json:"name"`
	Blue          string `json:"blueAsg"`
	Green         string `json:"greenAsg"`
	Floor         int    `json:"floor"`
	PreviewSize   int    `json:"previewSize"`
	BakeMinutes   int    `json:"bakeMinutes"`
	Window        string `json:"changeWindow,omitempty"`
	Alarms        int    `json:"alarms"`
	GuardAlarms   int    `json:"guardAlarms"`
	CapacityAlarm int    `json:"capacityAlarms"`
	// DBRefresh says where the app's database is refreshed from.
	DBRefresh string `json:"dbRefresh,omitempty"`
}

// ConfigError is one problem; Field is empty when the file is not JSON.
type ConfigError struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e ConfigError) String() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func runConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return 2
	}
	switch args[0] {
	case "check":
		return runConfigCheck(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, configUsage)
		return 0
	}
	return fail(stderr, 2, "config: unknown subcommand %q\n\n%s", args[0], configUsage)
}

func runConfigCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	cfgPath := fs.String("config", "", "configuration file (default examples/kaizen.json, or $KAIZEN_CONFIG)")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, configUsage)
			return 0
		}
		fmt.Fprint(stderr, "\n"+configUsage)
		return 2
	}
	if fs.NArg() > 0 {
		return fail(stderr, 2, "config check: unexpected argument %q\n\n%s", fs.Arg(0), configUsage)
	}
	res := CheckConfig(configPath(*cfgPath))
	code := 0
	if !res.Valid {
		code = 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fail(stderr, 1, "%v", err)
		}
		return code
	}
	if !res.Valid {
		n := len(res.Errors)
		fmt.Fprintf(stderr, "kaizen: %s is not valid (%d error%s):\n", res.Config, n, configPlural(n))
		for _, e := range res.Errors {
			fmt.Fprintln(stderr, "  "+e.String())
		}
		return code
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: valid, %d app%s\n", res.Config, len(res.Apps), configPlural(len(res.Apps)))
	for _, a := range res.Apps {
		window := "any time"
		if a.Window != "" {
			window = a.Window
		}
		fmt.Fprintf(&b, "%s: blue %s, green %s; floor %d, preview %d, bake %dm, window %s, %d alarm%s (%d guard, %d capacity)\n",
			a.Name, a.Blue, a.Green, a.Floor, a.PreviewSize, a.BakeMinutes, window, a.Alarms, configPlural(a.Alarms), a.GuardAlarms, a.CapacityAlarm)
		if a.DBRefresh != "" {
			fmt.Fprintf(&b, "%s: database %s\n", a.Name, a.DBRefresh)
		}
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	if _, err := io.WriteString(stdout, b.String()); err != nil {
		return fail(stderr, 1, "%v", err)
	}
	return code
}

// CheckConfig reads and validates the file at path.
func CheckConfig(path string) ConfigCheck {
	res := ConfigCheck{Config: path, Warnings: []string{}, Errors: []ConfigError{}}
	b, err := os.ReadFile(path)
	if err != nil {
		res.Errors = append(res.Errors, ConfigError{Message: err.Error()})
		return res
	}
	f, err := config.Parse(b)
	if err != nil {
		res.Errors = configErrors(err)
		return res
	}
	res.Valid = true
	res.Warnings = append(res.Warnings, f.Warnings()...)
	for _, a := range f.Apps {
		s := AppSummary{Name: a.Name, Blue: a.Blue.ASG, Green: a.Green.ASG, Floor: a.Floor, PreviewSize: a.PreviewSize,
			BakeMinutes: a.BakeMinutes, Alarms: len(a.Alarms)}
		if a.ChangeWindow != nil {
			s.Window = a.ChangeWindow.String()
		}
		s.DBRefresh = describeDBRefresh(f, a)
		for _, al := range a.Alarms {
			switch al.Role {
			case config.RoleGuard:
				s.GuardAlarms++
			case config.RoleCapacity:
				s.CapacityAlarm++
			}
		}
		res.Apps = append(res.Apps, s)
	}
	return res
}

// configErrors flattens what config.Parse returns (errors joined, most of
// them naming a field) into one entry per problem.
func configErrors(err error) []ConfigError {
	var out []ConfigError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *config.FieldError
		if errors.As(e, &fe) && fe.Error() == e.Error() {
			out = append(out, ConfigError{Field: fe.Field, Message: fe.Msg})
			return
		}
		out = append(out, ConfigError{Message: e.Error()})
	}
	walk(err)
	return out
}

func configPlural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
