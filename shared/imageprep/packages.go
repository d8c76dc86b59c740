package imageprep

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kaizen-sre/kaizen/shared/alas"
)

// OS is the Amazon Linux generation of the image.
type OS string

// The generations this step knows.
const (
	AL2    OS = "al2"
	AL2023 OS = "al2023"
)

// DetectOS reads an os-release file (/etc/os-release) and returns AL2 or
// AL2023. Anything else is an error: the commands differ, and guessing
// could apply nothing and verify nothing.
func DetectOS(path string) (OS, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("detect the OS: %w (or pass --os al2|al2023)", err)
	}
	vals := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `'"`)
		}
		vals[k] = v
	}
	if vals["ID"] != "amzn" {
		return "", fmt.Errorf("detect the OS: %s says ID=%q, not Amazon Linux (amzn)", path, vals["ID"])
	}
	switch vals["VERSION_ID"] {
	case "2":
		return AL2, nil
	case "2023":
		return AL2023, nil
	}
	return "", fmt.Errorf("detect the OS: %s says Amazon Linux VERSION_ID=%q; this step knows 2 and 2023", path, vals["VERSION_ID"])
}

// ParseOS parses the --os flag.
func ParseOS(s string) (OS, error) {
	switch OS(strings.ToLower(s)) {
	case AL2:
		return AL2, nil
	case AL2023:
		return AL2023, nil
	}
	return "", fmt.Errorf("--os must be al2 or al2023, not %q", s)
}

// releasePattern is an AL2023 release version as dnf's --releasever takes it
// (2023.6.20241121), or "latest".
var releasePattern = regexp.MustCompile(`^(latest|2023(\.[0-9]{1,9}){1,3})$`)

// ValidRelease reports whether v is an AL2023 release version.
func ValidRelease(v string) bool { return releasePattern.MatchString(v) }

// newerRelease returns the newer of two AL2023 release versions ("" loses;
// "latest" wins), comparing the dotted numbers one by one.
func newerRelease(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	case a == "latest" || b == "latest":
		return "latest"
	}
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			if x > y {
				return a
			}
			return b
		}
	}
	if len(pa) >= len(pb) {
		return a
	}
	return b
}

// ParseAdvisories splits a list of advisory ids separated by commas or
// white space ("none" and "" are the empty list), checks each id and
// returns them sorted without duplicates.
func ParseAdvisories(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		if strings.EqualFold(f, "none") {
			continue
		}
		if !alas.ValidID(f) {
			return nil, fmt.Errorf("%q is not an ALAS advisory id (for example ALAS2023-2024-001)", f)
		}
		out = append(out, f)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Command is one program run with its arguments.
type Command struct {
	Name string
	Args []string
}

// String is the command as one shell-free line: the words joined by spaces
// (none of them holds a space or a quote: ids and versions are checked).
func (c Command) String() string {
	return strings.Join(append([]string{c.Name}, c.Args...), " ")
}

// Plan is what the package manager is asked, in order.
type Plan struct {
	OS             OS
	Advisories     []string
	ReleaseVersion string
}

// query is the updateinfo question "which of these advisories are
// installed" (available=false) or "which still have a package older than
// their fix" (available=true). release pins the AL2023 repository metadata
// the answer comes from: the advisory must be in it to be listed at all.
func (p Plan) query(available bool, release string) Command {
	if p.OS == AL2 {
		which := "installed"
		if available {
			which = "available"
		}
		return Command{Name: "yum", Args: append([]string{"-q", "updateinfo", "list", which}, p.Advisories...)}
	}
	which := "--installed"
	if available {
		which = "--available"
	}
	args := []string{"-q", "updateinfo", "list", which}
	if release != "" {
		args = append(args, "--releasever="+release)
	}
	return Command{Name: "dnf", Args: append(args, p.Advisories...)}
}

// BaseQueries ask what the base image already has, before anything is
// applied (the image's own release metadata on AL2023).
func (p Plan) BaseQueries() []Command {
	if len(p.Advisories) == 0 {
		return nil
	}
	return []Command{p.query(false, ""), p.query(true, "")}
}

// Apply is the update itself, or nil when there is nothing to do.
func (p Plan) Apply() *Command {
	var adv []string
	for _, id := range p.Advisories {
		adv = append(adv, "--advisory="+id)
	}
	if p.OS == AL2 {
		if len(adv) == 0 {
			return nil
		}
		return &Command{Name: "yum", Args: append([]string{"update", "-y"}, adv...)}
	}
	if len(adv) == 0 && p.ReleaseVersion == "" {
		return nil
	}
	args := []string{"upgrade", "-y"}
	if p.ReleaseVersion != "" {
		args = append(args, "--releasever="+p.ReleaseVersion)
	}
	return &Command{Name: "dnf", Args: append(args, adv...)}
}

// VerifyQueries ask, after the update, what is installed and what is not.
func (p Plan) VerifyQueries() []Command {
	if len(p.Advisories) == 0 {
		return nil
	}
	return []Command{p.query(false, p.ReleaseVersion), p.query(true, p.ReleaseVersion)}
}

// SystemRelease asks for the installed system-release package, recorded in
// the manifest.
func SystemRelease() Command { return Command{Name: "rpm", Args: []string{"-q", "system-release"}} }

// Commands lists every command a run executes, in order: what --dry-run
// prints.
func (p Plan) Commands() []Command {
	out := p.BaseQueries()
	if c := p.Apply(); c != nil {
		out = append(out, *c)
	}
	out = append(out, p.VerifyQueries()...)
	return append(out, SystemRelease())
}

// ListedAdvisories returns the advisory ids that an "updateinfo list"
// output names, among want. Each line of that output is an advisory id, its
// type and severity, and a package (dnf and yum alike; "yum updateinfo list
// all" puts an "i" in front of installed ones). Anything else (headers,
// "updateinfo list done", metadata messages) names no wanted id and is
// skipped.
func ListedAdvisories(out []byte, want []string) map[string]bool {
	listed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 1 && (f[0] == "i" || f[0] == "I") {
			f = f[1:]
		}
		if len(f) >= 2 && slices.Contains(want, f[0]) {
			listed[f[0]] = true
		}
	}
	return listed
}

// Status is what updateinfo says of one advisory.
type Status string

// The statuses.
const (
	// Installed: listed as installed and no package of it is older than
	// its fix.
	Installed Status = "installed"
	// Pending: a package of the advisory is still older than its fix.
	Pending Status = "pending"
	// NotFound: listed neither way. The release's metadata does not have
	// the advisory, or it concerns no package installed in the image.
	NotFound Status = "not-found"
)

// classify combines the two updateinfo answers.
func classify(ids []string, installed, available map[string]bool) map[string]Status {
	out := map[string]Status{}
	for _, id := range ids {
		switch {
		case available[id]:
			out[id] = Pending
		case installed[id]:
			out[id] = Installed
		default:
			out[id] = NotFound
		}
	}
	return out
}
