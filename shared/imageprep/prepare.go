package imageprep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kaizen-sre/kaizen/shared/envfile"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// Tag keys printed for the AMI; the approval evidence (release.Evidence)
// reads them back.
const (
	TagAdvisories     = release.TagAdvisories
	TagSecretVersion  = release.TagSecretVersion
	TagReleaseVersion = release.TagReleaseVersion
)

// ManifestPath is where the manifest goes, under Options.Root.
const ManifestPath = "/etc/kaizen/image.json"

// maxTagValue is EC2's limit on a tag value.
const maxTagValue = 256

// EnvFileMode is the mode of the env files: root writes, the app's group
// reads, nobody else.
const EnvFileMode = 0o640

// Options is one run of "kaizen image prepare".
type Options struct {
	OS        OS     // empty: detect from OSRelease
	OSRelease string // default Root/etc/os-release
	// ReleaseVersion is AL2023_RELEASE_VERSION ("" or "none": none).
	ReleaseVersion string
	// Advisories are the ids the build was started with.
	Advisories []string
	// AdvisoriesFrom and AdvisoriesTo locate the app's baseline: a file,
	// or ssm:/parameter/name.
	AdvisoriesFrom, AdvisoriesTo string
	// AllowMissing lets the build go on when an advisory is not installed
	// after the update; the manifest lists it as missing.
	AllowMissing bool
	// App names the env files; required with a secret.
	App string
	// SecretID (Secrets Manager) or SecretFile (a JSON file) is the app's
	// secret; neither: no env files.
	SecretID, SecretFile string
	// Group owns the env files (name or id); default the app's name.
	Group string
	// Root is prepended to every path written (tests); default "/".
	Root   string
	DryRun bool
}

// Clients builds the AWS clients a run needs, only when it needs them (a
// dry run or a run from files needs no credentials).
type Clients struct {
	SSM     func(ctx context.Context) (SSMAPI, error)
	Secrets func(ctx context.Context) (envfile.GetSecretValueAPI, error)
}

// Manifest is /etc/kaizen/image.json. It never holds a secret value.
type Manifest struct {
	OS             OS     `json:"os"`
	ReleaseVersion string `json:"releaseVersion,omitempty"`
	SystemRelease  string `json:"systemRelease,omitempty"`
	// Requested are the ids the build was started with, Carried the ones
	// from the baseline.
	Requested []string `json:"requested"`
	Carried   []string `json:"carried"`
	// InBase were installed before this step applied anything: the base
	// image already carries them, so the baseline drops them.
	InBase []string `json:"inBase"`
	// Verified are installed after the update; Missing are not (only with
	// --allow-missing), each with its status.
	Verified []string          `json:"verified"`
	Missing  map[string]Status `json:"missing,omitempty"`
	Secret   *SecretInfo       `json:"secret,omitempty"`
	Baseline Baseline          `json:"baseline"`
	Prepared time.Time         `json:"prepared"`
}

// SecretInfo says which secret the image carries, never what it holds.
type SecretInfo struct {
	ID        string   `json:"id,omitempty"`
	VersionID string   `json:"versionId,omitempty"`
	Source    string   `json:"source"` // secretsmanager or file
	Files     []string `json:"files"`
	Variables int      `json:"variables"`
}

// MissingError is returned when advisories are not installed after the
// update.
type MissingError struct {
	Status map[string]Status
}

func (e *MissingError) Error() string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(e.Status)) {
		switch e.Status[id] {
		case Pending:
			parts = append(parts, id+" (a package is still older than its fix)")
		default:
			parts = append(parts, id+" (updateinfo lists it neither installed nor available: not in the release's metadata, or no installed package has it)")
		}
	}
	return fmt.Sprintf("%d advisories are not installed: %s; the image would claim fixes it does not have (--allow-missing to build anyway)",
		len(parts), strings.Join(parts, "; "))
}

// appName is what may name /etc/profile.d/<app>.sh and /etc/<app>/.
var appName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// Run prepares the image. Progress, the package manager's output and
// errors go to stderr; stdout gets the dry run's commands or the AMI tags.
func Run(ctx context.Context, o Options, c Clients, stdout, stderr io.Writer) error {
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "kaizen image: "+format+"\n", a...) }
	root := o.Root
	if root == "" {
		root = "/"
	}
	if (o.SecretID != "" || o.SecretFile != "") && !appName.MatchString(o.App) {
		return fmt.Errorf("--app %q: a secret is rendered into /etc/profile.d/<app>.sh and /etc/<app>/env, so the app needs a plain name", o.App)
	}
	osys := o.OS
	if osys == "" {
		p := o.OSRelease
		if p == "" {
			p = filepath.Join(root, "/etc/os-release")
		}
		var err error
		if osys, err = DetectOS(p); err != nil {
			return err
		}
	}
	release := o.ReleaseVersion
	if release == "none" {
		release = ""
	}
	if release != "" && osys != AL2023 {
		return fmt.Errorf("--releasever %s: release versions are Amazon Linux 2023's; this is %s", release, osys)
	}
	if release != "" && !ValidRelease(release) {
		return fmt.Errorf("--releasever %q is not an AL2023 release version (for example 2023.6.20241121)", release)
	}

	var base Baseline
	if o.AdvisoriesFrom != "" {
		var err error
		if base, err = readBaseline(ctx, o.AdvisoriesFrom, c.SSM); err != nil {
			return err
		}
		logf("baseline %s: %d advisories, release %q", o.AdvisoriesFrom, len(base.Advisories), base.ReleaseVersion)
	}
	all, _ := ParseAdvisories(strings.Join(append(slices.Clone(o.Advisories), base.Advisories...), ","))
	if osys == AL2023 {
		// Never go back to an older release than an earlier image had.
		release = newerRelease(release, base.ReleaseVersion)
	}
	plan := Plan{OS: osys, Advisories: all, ReleaseVersion: release}

	if o.DryRun {
		for _, cmd := range plan.Commands() {
			fmt.Fprintln(stdout, cmd.String())
		}
		return nil
	}

	// Everything that can fail without touching the image comes first:
	// the secret and the group.
	var sec *renderedSecret
	if o.SecretID != "" || o.SecretFile != "" {
		var err error
		if sec, err = loadSecret(ctx, o, c); err != nil {
			return err
		}
	}
	gid := -1
	if sec != nil {
		g := o.Group
		if g == "" {
			g = o.App
		}
		var err error
		if gid, err = lookupGroup(g); err != nil {
			return fmt.Errorf("--group %s: %w (the env files belong to the app's service group)", g, err)
		}
	}

	m := Manifest{OS: osys, ReleaseVersion: release, Requested: nonNil(o.Advisories), Carried: nonNil(base.Advisories),
		InBase: []string{}, Verified: []string{}, Prepared: time.Now().UTC()}
	slices.Sort(m.Requested)
	m.Requested = slices.Compact(m.Requested)

	runner := &runner{stderr: stderr}
	if len(all) > 0 {
		st, err := runner.status(ctx, plan.BaseQueries(), all)
		if err != nil {
			return err
		}
		for _, id := range all {
			if st[id] == Installed {
				m.InBase = append(m.InBase, id)
			}
		}
		logf("%d of %d advisories already in the base image", len(m.InBase), len(all))
	}
	if cmd := plan.Apply(); cmd != nil {
		if err := runner.run(ctx, *cmd, stderr); err != nil {
			return err
		}
	}
	if len(all) > 0 {
		st, err := runner.status(ctx, plan.VerifyQueries(), all)
		if err != nil {
			return err
		}
		missing := map[string]Status{}
		for _, id := range all {
			if st[id] == Installed {
				m.Verified = append(m.Verified, id)
			} else {
				missing[id] = st[id]
			}
		}
		if len(missing) > 0 {
			if !o.AllowMissing {
				return &MissingError{Status: missing}
			}
			m.Missing = missing
			logf("WARNING: %v (--allow-missing: building anyway)", (&MissingError{Status: missing}).Error())
		}
		logf("verified %d advisories installed", len(m.Verified))
	}
	var out bytes.Buffer
	if err := runner.run(ctx, SystemRelease(), &out); err != nil {
		return err
	}
	m.SystemRelease = strings.TrimSpace(out.String())

	// The baseline drops only what the base image had before this step:
	// later bases are newer still. Missing ones stay (never drop a fix).
	m.Baseline = Baseline{ReleaseVersion: release, Advisories: []string{}}
	for _, id := range all {
		if !slices.Contains(m.InBase, id) {
			m.Baseline.Advisories = append(m.Baseline.Advisories, id)
		}
	}

	if sec != nil {
		info, err := sec.write(root, o.App, gid)
		if err != nil {
			return err
		}
		m.Secret = info
		logf("wrote %s (%d variables, group id %d, mode %#o)", strings.Join(info.Files, " and "), info.Variables, gid, EnvFileMode)
	}
	if err := writeManifest(filepath.Join(root, ManifestPath), m); err != nil {
		return err
	}
	if o.AdvisoriesTo != "" {
		if err := writeBaseline(ctx, o.AdvisoriesTo, m.Baseline, c.SSM); err != nil {
			return err
		}
		logf("baseline %s: %d advisories, release %q", o.AdvisoriesTo, len(m.Baseline.Advisories), m.Baseline.ReleaseVersion)
	}
	for _, t := range Tags(m) {
		fmt.Fprintf(stdout, "%s=%s\n", t[0], t[1])
	}
	return nil
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return slices.Clone(xs)
}

// Tags are the AMI tags a manifest calls for, as key, value pairs: the
// verified advisories (space-separated; if they pass EC2's 256 characters,
// as many as fit and "+N"), the secret's version id, the AL2023 release.
func Tags(m Manifest) [][2]string {
	var out [][2]string
	out = append(out, [2]string{TagAdvisories, advisoryTag(m.Verified)})
	if m.Secret != nil && m.Secret.VersionID != "" {
		out = append(out, [2]string{TagSecretVersion, m.Secret.VersionID})
	}
	if m.ReleaseVersion != "" {
		out = append(out, [2]string{TagReleaseVersion, m.ReleaseVersion})
	}
	return out
}

func advisoryTag(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	v := strings.Join(ids, " ")
	if len(v) <= maxTagValue {
		return v
	}
	for n := len(ids) - 1; n > 0; n-- {
		s := strings.Join(ids[:n], " ") + " +" + strconv.Itoa(len(ids)-n)
		if len(s) <= maxTagValue {
			return s
		}
	}
	return "+" + strconv.Itoa(len(ids))
}

func writeManifest(path string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write the manifest: %w", err)
	}
	// Nothing secret in it: readable by all, like the rest of /etc.
	if err := envfile.WriteFileAtomic(path, append(b, '\n'), 0o644, -1); err != nil {
		return fmt.Errorf("write the manifest: %w", err)
	}
	return nil
}

// lockedWriter serialises writes that share a lock.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// runner runs the package manager, logging each command.
type runner struct {
	stderr io.Writer
}

// run runs cmd with its standard output to out and its standard error to
// the log. The command line is logged first.
func (r *runner) run(ctx context.Context, cmd Command, out io.Writer) error {
	fmt.Fprintf(r.stderr, "+ %s\n", cmd)
	c := exec.CommandContext(ctx, cmd.Name, cmd.Args...)
	// exec copies stdout and stderr in two goroutines; out may also write
	// to the log, so both go through one lock.
	var mu sync.Mutex
	c.Stdout, c.Stderr = &lockedWriter{mu: &mu, w: out}, &lockedWriter{mu: &mu, w: r.stderr}
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return nil
}

// status runs the two updateinfo queries (installed, then available) and
// classifies each id. Their output goes to the log as well.
func (r *runner) status(ctx context.Context, queries []Command, ids []string) (map[string]Status, error) {
	var answers [2]map[string]bool
	for i, q := range queries {
		var out bytes.Buffer
		if err := r.run(ctx, q, io.MultiWriter(&out, r.stderr)); err != nil {
			return nil, err
		}
		answers[i] = ListedAdvisories(out.Bytes(), ids)
	}
	return classify(ids, answers[0], answers[1]), nil
}

// renderedSecret is the secret rendered in both formats, in memory.
type renderedSecret struct {
	id, versionID, source string
	shell, systemd        []byte
	variables             int
}

func loadSecret(ctx context.Context, o Options, c Clients) (*renderedSecret, error) {
	if o.SecretID != "" && o.SecretFile != "" {
		return nil, errors.New("--secret-id and --secret-file cannot be used together")
	}
	s := &renderedSecret{id: o.SecretID}
	var input []byte
	if o.SecretID != "" {
		if c.Secrets == nil {
			return nil, errors.New("no Secrets Manager client configured")
		}
		client, err := c.Secrets(ctx)
		if err != nil {
			return nil, err
		}
		out, err := client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(o.SecretID)})
		if err != nil {
			return nil, fmt.Errorf("get secret %q: %w", o.SecretID, err)
		}
		switch {
		case out == nil:
			return nil, fmt.Errorf("get secret %q: empty response", o.SecretID)
		case out.SecretString != nil:
			input = []byte(*out.SecretString)
		case out.SecretBinary != nil:
			input = out.SecretBinary
		default:
			return nil, fmt.Errorf("get secret %q: the response has neither SecretString nor SecretBinary", o.SecretID)
		}
		s.versionID, s.source = aws.ToString(out.VersionId), "secretsmanager"
	} else {
		f, err := os.Open(o.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("read the secret: %w", err)
		}
		input, err = io.ReadAll(io.LimitReader(f, envfile.MaxInputBytes+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read the secret %s: %w", o.SecretFile, err)
		}
		s.source = "file"
	}
	var err error
	// Render's errors name keys and limits, never values.
	if s.shell, err = envfile.Render(input, envfile.Options{Format: envfile.FormatShell, SecretID: o.SecretID}); err != nil {
		return nil, fmt.Errorf("render the secret for /etc/profile.d: %w", err)
	}
	if s.systemd, err = envfile.Render(input, envfile.Options{Format: envfile.FormatSystemd, SecretID: o.SecretID}); err != nil {
		return nil, fmt.Errorf("render the secret for systemd: %w", err)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(input, &obj) == nil {
		s.variables = len(obj)
	}
	return s, nil
}

// write puts both files in place: the shell one for login shells, the
// systemd one for EnvironmentFile= in the app's units (puma).
func (s *renderedSecret) write(root, app string, gid int) (*SecretInfo, error) {
	files := []struct {
		path string
		data []byte
	}{
		{"/etc/profile.d/" + app + ".sh", s.shell},
		{"/etc/" + app + "/env", s.systemd},
	}
	info := &SecretInfo{ID: s.id, VersionID: s.versionID, Source: s.source, Variables: s.variables}
	for _, f := range files {
		p := filepath.Join(root, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, fmt.Errorf("write %s: %w", f.path, err)
		}
		if err := envfile.WriteFileAtomic(p, f.data, EnvFileMode, gid); err != nil {
			return nil, err
		}
		info.Files = append(info.Files, f.path)
	}
	return info, nil
}

// lookupGroup returns the id of a group given by number or name.
func lookupGroup(s string) (int, error) {
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
	return strconv.Atoi(g.Gid)
}
