package imageprep_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/kaizen-sre/kaizen/shared/envfile"
	"github.com/kaizen-sre/kaizen/shared/imageprep"
	"github.com/kaizen-sre/kaizen/shared/imageprep/imagepreptest"
)

const (
	a1 = "ALAS2023-2024-001"
	a2 = "ALAS2023-2024-002"
	a3 = "ALAS2023-2024-003"
	// A value no log may contain.
	secretValue = `p@ss'w"rd $(reboot) ` + "`id`"
	secretJSON  = `{"DATABASE_PASSWORD":"p@ss'w\"rd $(reboot) ` + "`id`" + `","RAILS_MAX_THREADS":5,"FEATURE_X":true}`
	versionID   = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
)

// clients points the run's SDK clients at the fake AWS (the same thing
// cmd/kaizen does through AWS_ENDPOINT_URL).
func clients(t *testing.T, fake *imagepreptest.AWS) imageprep.Clients {
	fake.Setenv(t)
	return imageprep.Clients{
		SSM: func(ctx context.Context) (imageprep.SSMAPI, error) {
			cfg, err := awsconfig.LoadDefaultConfig(ctx)
			return ssm.NewFromConfig(cfg), err
		},
		Secrets: func(ctx context.Context) (envfile.GetSecretValueAPI, error) {
			cfg, err := awsconfig.LoadDefaultConfig(ctx)
			return secretsmanager.NewFromConfig(cfg), err
		},
	}
}

func run(t *testing.T, c imageprep.Clients, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = imageprep.RunCLI(context.Background(), args, &out, &errs, c)
	return code, out.String(), errs.String()
}

// The contract scripts rely on: a dry run prints the commands, one per
// line, and changes nothing.
func TestDryRun(t *testing.T) {
	f := imagepreptest.Install(t, nil, nil, nil)
	f.Setenv(t)
	for _, tc := range []struct {
		os   string
		args []string
		want []string
	}{
		{"al2023", []string{"--releasever", "2023.6.20241121", "--advisories", "ALAS2023-2024-001,ALAS2023-2024-002"}, []string{
			"dnf -q updateinfo list --installed ALAS2023-2024-001 ALAS2023-2024-002",
			"dnf -q updateinfo list --available ALAS2023-2024-001 ALAS2023-2024-002",
			"dnf upgrade -y --releasever=2023.6.20241121 --advisory=ALAS2023-2024-001 --advisory=ALAS2023-2024-002",
			"dnf -q updateinfo list --installed --releasever=2023.6.20241121 ALAS2023-2024-001 ALAS2023-2024-002",
			"dnf -q updateinfo list --available --releasever=2023.6.20241121 ALAS2023-2024-001 ALAS2023-2024-002",
			"rpm -q system-release",
		}},
		{"al2", []string{"--advisories", "ALAS2-2024-001,ALAS2-2024-002"}, []string{
			"yum -q updateinfo list installed ALAS2-2024-001 ALAS2-2024-002",
			"yum -q updateinfo list available ALAS2-2024-001 ALAS2-2024-002",
			"yum update -y --advisory=ALAS2-2024-001 --advisory=ALAS2-2024-002",
			"yum -q updateinfo list installed ALAS2-2024-001 ALAS2-2024-002",
			"yum -q updateinfo list available ALAS2-2024-001 ALAS2-2024-002",
			"rpm -q system-release",
		}},
		// The release upgrade alone.
		{"al2023", []string{"--releasever", "2023.6.20241121", "--advisories", "none"}, []string{
			"dnf upgrade -y --releasever=2023.6.20241121",
			"rpm -q system-release",
		}},
	} {
		args := append([]string{"--dry-run", "--os", tc.os}, tc.args...)
		code, out, errs := run(t, imageprep.Clients{}, args...)
		if code != 0 || errs != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
		if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); !slices.Equal(got, tc.want) {
			t.Errorf("%v:\n got %q\nwant %q", args, got, tc.want)
		}
	}
	if calls := f.Calls(t); len(calls) != 0 {
		t.Errorf("a dry run ran %q", calls)
	}
}

func TestDetectOS(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]imageprep.OS{
		"NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n":       imageprep.AL2023,
		"NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nID_LIKE=\"centos rhel fedora\"\nVERSION_ID=\"2\"\n": imageprep.AL2,
		"ID=debian\nVERSION_ID=\"12\"\n": "",
		"ID=amzn\nVERSION_ID=2018.03\n":  "",
	} {
		p := filepath.Join(dir, "os-release")
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := imageprep.DetectOS(p)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("%q: %q, %v; want %q", content, got, err, want)
		}
	}
	// The CLI reads it when --os is not given.
	p := filepath.Join(dir, "os-release")
	os.WriteFile(p, []byte("ID=\"amzn\"\nVERSION_ID=\"2\"\n"), 0o644)
	code, out, _ := run(t, imageprep.Clients{}, "--dry-run", "--os-release", p, "--advisories", "ALAS2-2024-001")
	if code != 0 || !strings.Contains(out, "yum update -y --advisory=ALAS2-2024-001") {
		t.Errorf("AL2 from os-release: exit %d, %q", code, out)
	}
}

type world struct {
	pm      *imagepreptest.Fakes
	aws     *imagepreptest.AWS
	c       imageprep.Clients
	root    string
	gid     string
	secrets string // a secret file
}

func newWorld(t *testing.T, known, installed, broken []string) *world {
	w := &world{pm: imagepreptest.Install(t, known, installed, broken), aws: imagepreptest.NewAWS(t), root: t.TempDir(), gid: strconv.Itoa(os.Getgid())}
	w.pm.Setenv(t)
	w.c = clients(t, w.aws)
	w.aws.Secrets["shop/app"] = imagepreptest.Secret{String: secretJSON, VersionID: versionID}
	w.secrets = filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(w.secrets, []byte(secretJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) manifest(t *testing.T) imageprep.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(w.root, imageprep.ManifestPath))
	if err != nil {
		t.Fatal(err)
	}
	var m imageprep.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "p@ss") {
		t.Error("the manifest holds a secret value")
	}
	return m
}

func noValue(t *testing.T, where string, ss ...string) {
	t.Helper()
	for _, s := range ss {
		if strings.Contains(s, "p@ss") || strings.Contains(s, "reboot") {
			t.Errorf("%s shows a secret value: %q", where, s)
		}
	}
}

// AL2023: the build's advisories plus the baseline's, at the newer release;
// the one the base image already had is verified and dropped from the new
// baseline; the secret from Secrets Manager goes into both env files.
func TestPrepareAL2023(t *testing.T) {
	w := newWorld(t, []string{a1, a2, a3}, []string{a3}, nil)
	w.aws.Parameters["/kaizen/shop/image-baseline"] = `{"advisories":["` + a3 + `"],"releaseVersion":"2023.6.20241111"}`
	code, out, errs := run(t, w.c, "--os", "al2023", "--releasever", "2023.6.20241121", "--advisories", a2+","+a1,
		"--advisories-from", "ssm:/kaizen/shop/image-baseline", "--advisories-to", "ssm:/kaizen/shop/image-baseline",
		"--app", "shop", "--group", w.gid, "--secret-id", "shop/app", "--root", w.root)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	noValue(t, "the log", out, errs)
	wantCalls := []string{
		"dnf -q updateinfo list --installed " + a1 + " " + a2 + " " + a3,
		"dnf -q updateinfo list --available " + a1 + " " + a2 + " " + a3,
		"dnf upgrade -y --releasever=2023.6.20241121 --advisory=" + a1 + " --advisory=" + a2 + " --advisory=" + a3,
		"dnf -q updateinfo list --installed --releasever=2023.6.20241121 " + a1 + " " + a2 + " " + a3,
		"dnf -q updateinfo list --available --releasever=2023.6.20241121 " + a1 + " " + a2 + " " + a3,
		"rpm -q system-release",
	}
	if got := w.pm.Calls(t); !slices.Equal(got, wantCalls) {
		t.Errorf("calls\n got %q\nwant %q", got, wantCalls)
	}
	wantTags := "kaizen:advisories=" + a1 + " " + a2 + " " + a3 + "\nkaizen:secret-version=" + versionID + "\nkaizen:release-version=2023.6.20241121\n"
	if out != wantTags {
		t.Errorf("stdout %q, want %q", out, wantTags)
	}
	m := w.manifest(t)
	if !slices.Equal(m.Verified, []string{a1, a2, a3}) || !slices.Equal(m.InBase, []string{a3}) || !slices.Equal(m.Requested, []string{a1, a2}) ||
		!slices.Equal(m.Carried, []string{a3}) || m.ReleaseVersion != "2023.6.20241121" || m.OS != imageprep.AL2023 ||
		m.SystemRelease != "system-release-2023.6.20241121-0.amzn2023.noarch" {
		t.Errorf("manifest %+v", m)
	}
	if m.Secret == nil || m.Secret.VersionID != versionID || m.Secret.ID != "shop/app" || m.Secret.Variables != 3 ||
		!slices.Equal(m.Secret.Files, []string{"/etc/profile.d/shop.sh", "/etc/shop/env"}) {
		t.Errorf("manifest secret %+v", m.Secret)
	}
	// The new baseline keeps what the base image did not have, and the release.
	v, _ := w.aws.Parameter("/kaizen/shop/image-baseline")
	var b imageprep.Baseline
	if err := json.Unmarshal([]byte(v), &b); err != nil || !slices.Equal(b.Advisories, []string{a1, a2}) || b.ReleaseVersion != "2023.6.20241121" {
		t.Errorf("baseline %q (%v)", v, err)
	}
	checkEnvFiles(t, w.root, "shop", os.Getgid())
}

// checkEnvFiles: mode 0640, the group, and each file reads back as the
// secret in its own format.
func checkEnvFiles(t *testing.T, root, app string, gid int) {
	t.Helper()
	shell := filepath.Join(root, "etc/profile.d", app+".sh")
	systemd := filepath.Join(root, "etc", app, "env")
	for _, p := range []string{shell, systemd} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", p, fi.Mode().Perm())
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Gid) != gid {
			t.Errorf("%s: group %d, want %d", p, st.Gid, gid)
		}
	}
	sh, _ := os.ReadFile(shell)
	if !strings.Contains(string(sh), `export DATABASE_PASSWORD='p@ss'\''w"rd $(reboot) `+"`id`'") || !strings.Contains(string(sh), "export RAILS_MAX_THREADS='5'") {
		t.Errorf("shell file:\n%s", sh)
	}
	sd, _ := os.ReadFile(systemd)
	if !strings.Contains(string(sd), `DATABASE_PASSWORD="p@ss'w\"rd \$(reboot) \`+"`id\\`\"") || !strings.Contains(string(sd), `FEATURE_X="true"`) {
		t.Errorf("systemd file:\n%s", sd)
	}
}

// AL2: yum, the secret from a file, no release version.
func TestPrepareAL2(t *testing.T) {
	b1, b2 := "ALAS2-2024-2501", "ALAS2-2024-2502"
	w := newWorld(t, []string{b1, b2}, nil, nil)
	baseline := filepath.Join(t.TempDir(), "baseline")
	os.WriteFile(baseline, []byte("# carried\n"+b2+"\n"), 0o644)
	code, out, errs := run(t, w.c, "--os", "al2", "--releasever", "none", "--advisories", b1, "--advisories-from", baseline,
		"--app", "shop", "--group", w.gid, "--secret-file", w.secrets, "--root", w.root)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, errs)
	}
	noValue(t, "the log", out, errs)
	calls := w.pm.Calls(t)
	if !slices.Contains(calls, "yum update -y --advisory="+b1+" --advisory="+b2) || !slices.Contains(calls, "yum -q updateinfo list installed "+b1+" "+b2) {
		t.Errorf("calls %q", calls)
	}
	for _, c := range calls {
		if strings.Contains(c, "releasever") || strings.HasPrefix(c, "dnf") {
			t.Errorf("AL2 ran %q", c)
		}
	}
	if out != "kaizen:advisories="+b1+" "+b2+"\n" {
		t.Errorf("stdout %q", out)
	}
	m := w.manifest(t)
	if m.Secret == nil || m.Secret.Source != "file" || m.Secret.VersionID != "" || !slices.Equal(m.Verified, []string{b1, b2}) {
		t.Errorf("manifest %+v %+v", m, m.Secret)
	}
	if len(w.aws.CallsMade()) != 0 {
		t.Errorf("AWS called: %v", w.aws.CallsMade())
	}
	checkEnvFiles(t, w.root, "shop", os.Getgid())
}

// An advisory the update could not install, or one the repositories do not
// know, fails the build: exit 1, named, and nothing is written.
func TestVerificationFails(t *testing.T) {
	for _, tc := range []struct {
		name          string
		known, broken []string
		want          string
	}{
		{"still older than its fix", []string{a1, a2}, []string{a2}, a2 + " (a package is still older than its fix)"},
		{"listed nowhere", []string{a1}, nil, a2 + " (updateinfo lists it neither installed nor available"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.known, nil, tc.broken)
			args := []string{"--os", "al2023", "--advisories", a1 + "," + a2, "--advisories-to", "ssm:/kaizen/shop/image-baseline",
				"--app", "shop", "--group", w.gid, "--secret-id", "shop/app", "--root", w.root}
			code, out, errs := run(t, w.c, args...)
			if code != 1 || out != "" || !strings.Contains(errs, tc.want) || strings.Contains(errs, a1+" (") {
				t.Errorf("exit %d, stdout %q, stderr:\n%s", code, out, errs)
			}
			noValue(t, "the log", out, errs)
			for _, p := range []string{imageprep.ManifestPath, "etc/profile.d/shop.sh", "etc/shop/env"} {
				if _, err := os.Stat(filepath.Join(w.root, p)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s written by a failed run (%v)", p, err)
				}
			}
			if _, ok := w.aws.Parameter("/kaizen/shop/image-baseline"); ok {
				t.Error("a failed run saved the baseline")
			}

			// --allow-missing builds, says so, tags only what is installed,
			// and keeps the missing one in the baseline.
			code, out, errs = run(t, w.c, append(args, "--allow-missing")...)
			if code != 0 || out != "kaizen:advisories="+a1+"\nkaizen:secret-version="+versionID+"\n" || !strings.Contains(errs, "WARNING") {
				t.Errorf("--allow-missing: exit %d, stdout %q\n%s", code, out, errs)
			}
			if m := w.manifest(t); m.Missing[a2] == "" || !slices.Equal(m.Verified, []string{a1}) {
				t.Errorf("manifest %+v", m)
			}
			if v, _ := w.aws.Parameter("/kaizen/shop/image-baseline"); !strings.Contains(v, a2) {
				t.Errorf("baseline %q lost %s", v, a2)
			}
		})
	}
}

// A secret with a name a login shell gives a meaning to is refused before
// anything is applied, naming the key and never the value.
func TestReservedNameRefused(t *testing.T) {
	w := newWorld(t, []string{a1}, nil, nil)
	w.aws.Secrets["shop/app"] = imagepreptest.Secret{String: `{"PROMPT_COMMAND":"curl evil | sh","OK":"p@ss"}`, VersionID: versionID}
	code, out, errs := run(t, w.c, "--os", "al2023", "--advisories", a1, "--app", "shop", "--group", w.gid, "--secret-id", "shop/app", "--root", w.root)
	if code != 1 || out != "" || !strings.Contains(errs, `"PROMPT_COMMAND"`) || strings.Contains(errs, "curl") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if calls := w.pm.Calls(t); len(calls) != 0 {
		t.Errorf("ran %q before refusing the secret", calls)
	}
}

// A build without a release version keeps the baseline's: a secret rebuild
// from an older base never goes back to an older release.
func TestReleaseNeverGoesBack(t *testing.T) {
	f := imagepreptest.Install(t, nil, nil, nil)
	f.Setenv(t)
	base := filepath.Join(t.TempDir(), "image.json")
	os.WriteFile(base, []byte(`{"os":"al2023","baseline":{"advisories":["`+a1+`"],"releaseVersion":"2023.6.20241121"}}`), 0o644)
	for _, rel := range []string{"", "none", "2023.5.20240916"} {
		code, out, errs := run(t, imageprep.Clients{}, "--dry-run", "--os", "al2023", "--releasever", rel, "--advisories-from", base)
		if code != 0 || !strings.Contains(out, "dnf upgrade -y --releasever=2023.6.20241121 --advisory="+a1+"\n") {
			t.Errorf("--releasever %q: exit %d, %q %s", rel, code, out, errs)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--advisories", "ALAS2023-2024-001,$(reboot)"},
		{"--os", "centos"},
		{"--secret-id", "x"}, // no --app
		{"--secret-id", "x", "--secret-file", "y", "--app", "a"},
		{"--advisories-from", "ssm:relative"},
		{"extra"},
	} {
		if code, out, errs := run(t, imageprep.Clients{}, args...); code != 2 || out != "" || !strings.Contains(errs, "Usage:") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
	if code, out, _ := run(t, imageprep.Clients{}, "--help"); code != 0 || !strings.HasPrefix(out, "Usage: kaizen image prepare") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
	// A release version on AL2 is a mistake in the build, not a no-op.
	if code, _, errs := run(t, imageprep.Clients{}, "--dry-run", "--os", "al2", "--releasever", "2023.6.20241121"); code != 1 || !strings.Contains(errs, "Amazon Linux 2023") {
		t.Errorf("AL2 with a release: exit %d, %q", code, errs)
	}
}

func TestParseBaseline(t *testing.T) {
	for in, want := range map[string]imageprep.Baseline{
		"":                              {},
		a2 + ", " + a1 + "\n# x\n" + a1: {Advisories: []string{a1, a2}},
		`{"advisories":["` + a1 + `"]}`: {Advisories: []string{a1}},
		`{"baseline":{"advisories":[],"releaseVersion":"2023.6.20241121"}}`: {Advisories: []string{}, ReleaseVersion: "2023.6.20241121"},
	} {
		got, err := imageprep.ParseBaseline([]byte(in))
		if err != nil || !slices.Equal(got.Advisories, want.Advisories) || got.ReleaseVersion != want.ReleaseVersion {
			t.Errorf("%q: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"not-an-id", `{"advisories":["x"]}`, `{"releaseVersion":"2023; reboot"}`, "{"} {
		if _, err := imageprep.ParseBaseline([]byte(in)); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestTags(t *testing.T) {
	var ids []string
	for i := range 30 {
		ids = append(ids, "ALAS2023-2024-"+strconv.Itoa(100+i))
	}
	tags := imageprep.Tags(imageprep.Manifest{Verified: ids})
	v := tags[0][1]
	if tags[0][0] != imageprep.TagAdvisories || len(v) > 256 || !strings.HasPrefix(v, ids[0]+" ") || !strings.Contains(v, " +") {
		t.Errorf("advisories tag %q (%d)", v, len(v))
	}
	if got := imageprep.Tags(imageprep.Manifest{}); len(got) != 1 || got[0][1] != "none" {
		t.Errorf("no advisories: %v", got)
	}
}

func TestListedAdvisories(t *testing.T) {
	out := []byte("Last metadata expiration check: 0:01:00 ago.\n" +
		"i " + a1 + " Important/Sec. openssl-libs-1:3.0.8-1.amzn2023.0.14.x86_64\n" +
		a2 + " Medium/Sec. curl-8.5.0-1.amzn2023.0.4.x86_64\n" +
		"ALAS2023-2024-0011 Low/Sec. x\n" + // a longer id is another advisory
		"updateinfo list done\n")
	got := imageprep.ListedAdvisories(out, []string{a1, a2, a3, "ALAS2023-2024-001"})
	if !got[a1] || !got[a2] || got[a3] || len(got) != 2 {
		t.Errorf("%v", got)
	}
}
