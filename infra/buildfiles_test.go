package main

// The golden-image build files (buildspec, Packer template, Ansible
// playbook) are checked with the tools made for them, and their exact shell
// lines are run against a fake Amazon Linux (shared/imageprep/imagepreptest)
// with a kaizen binary built from this tree.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/kaizen-sre/kaizen/infra/stacks"
	"github.com/kaizen-sre/kaizen/shared/imageprep/imagepreptest"
)

const (
	packerDir    = "infra/packer"
	packerFile   = "infra/packer/golden.pkr.hcl"
	playbookFile = "infra/ansible/playbook.yml"
)

// buildTools are the Debian packages these tests run (make deps installs them).
const buildTools = "ansible-core ansible-lint packer shellcheck jq"

func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run `make deps` (Debian packages: %s)", name, buildTools)
	}
	return p
}

func readRepo(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// buildspec is the part of a CodeBuild buildspec these tests read.
type buildspec struct {
	Env struct {
		Shell     string            `yaml:"shell"`
		Variables map[string]string `yaml:"variables"`
		Exported  []string          `yaml:"exported-variables"`
	} `yaml:"env"`
	Phases map[string]struct {
		Commands []string `yaml:"commands"`
		Finally  []string `yaml:"finally"`
	} `yaml:"phases"`
}

func readBuildspec(t *testing.T) buildspec {
	t.Helper()
	var b buildspec
	if err := yaml.Unmarshal([]byte(readRepo(t, stacks.BuildspecPath)), &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// phaseScript is the commands of the given phases as CodeBuild runs them:
// in order, in one shell.
func (b buildspec) phaseScript(phases ...string) string {
	var s strings.Builder
	for _, p := range phases {
		for _, c := range b.Phases[p].Commands {
			s.WriteString(c)
			if !strings.HasSuffix(c, "\n") {
				s.WriteString("\n")
			}
		}
		for _, c := range b.Phases[p].Finally {
			s.WriteString(c + "\n")
		}
	}
	return s.String()
}

// shellProvisioner is the Packer template's shell provisioner: its
// environment ("NAME" -> the HCL expression it is set from) and its inline
// lines, as Packer runs them.
type shellProvisioner struct {
	env    [][2]string
	inline []string
}

var hclString = regexp.MustCompile(`^\s*("(?:[^"\\]|\\.)*")\s*,?\s*$`)

// hclList reads the list of string literals after `name = [` in block.
func hclList(t *testing.T, block, name string) []string {
	t.Helper()
	i := strings.Index(block, name+" = [")
	if i < 0 {
		t.Fatalf("no %s in the shell provisioner", name)
	}
	var out []string
	for _, line := range strings.Split(block[i:], "\n")[1:] {
		if strings.TrimSpace(line) == "]" {
			return out
		}
		m := hclString.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s: not a plain string literal: %q", name, line)
		}
		s, err := strconv.Unquote(m[1])
		if err != nil {
			t.Fatalf("%s: %q: %v", name, line, err)
		}
		out = append(out, s)
	}
	t.Fatalf("%s: no closing ]", name)
	return nil
}

func readShellProvisioner(t *testing.T) shellProvisioner {
	t.Helper()
	hcl := readRepo(t, packerFile)
	start := strings.Index(hcl, `provisioner "shell" {`)
	if start < 0 {
		t.Fatal("no shell provisioner in " + packerFile)
	}
	block := hcl[start:]
	block = block[:strings.Index(block, "\n  }\n")]
	var p shellProvisioner
	for _, kv := range hclList(t, block, "environment_vars") {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(v, "${") || !strings.HasSuffix(v, "}") {
			t.Fatalf("environment_vars %q: want NAME=${expression}", kv)
		}
		p.env = append(p.env, [2]string{k, v[2 : len(v)-1]})
	}
	p.inline = hclList(t, block, "inline")
	for _, l := range p.inline {
		if strings.Contains(l, "${") {
			t.Fatalf("inline line %q: an HCL interpolation; the lines must be plain shell, with their inputs in environment_vars", l)
		}
	}
	return p
}

// script is the provisioner's lines as Packer runs them (inline_shebang
// "/bin/sh -e").
func (p shellProvisioner) script() string {
	return "#!/bin/sh -e\n" + strings.Join(p.inline, "\n") + "\n"
}

// TestBuildFilesLint checks the build files with their own tools. It fails
// (does not skip) when a tool is missing: `make deps` installs them.
func TestBuildFilesLint(t *testing.T) {
	t.Run("ansible-playbook --syntax-check and ansible-lint", func(t *testing.T) {
		playbook := needTool(t, "ansible-playbook")
		lint := needTool(t, "ansible-lint")
		home := t.TempDir()
		env := append(os.Environ(), "HOME="+home, "ANSIBLE_LOCAL_TEMP="+filepath.Join(home, "tmp"), "ANSIBLE_NOCOLOR=1", "NO_COLOR=1")
		run := func(name string, args ...string) {
			cmd := exec.Command(name, args...)
			cmd.Dir, cmd.Env = filepath.Join(repoRoot, "infra/ansible"), env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
			}
		}
		run(playbook, "--syntax-check", "-i", "localhost,", "-e", "app=shop", "playbook.yml")
		// --offline: no Galaxy; the production profile is the strictest.
		run(lint, "--offline", "--profile", "production", "playbook.yml")
	})

	t.Run("packer fmt and validate", func(t *testing.T) {
		packer := needTool(t, "packer")
		out, _ := exec.Command(packer, "version").CombinedOutput()
		t.Logf("%s", bytes.TrimSpace(out))
		for _, f := range []string{"golden.pkr.hcl", "plugins.pkr.hcl"} {
			cmd := exec.Command(packer, "fmt", "-check", "-diff", f)
			cmd.Dir = filepath.Join(repoRoot, packerDir)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("packer fmt -check %s: %v\n%s", f, err, out)
			}
		}
		// The plugins (amazon, ansible) cannot be downloaded here, and
		// Debian's Packer (1.6.6) predates required_plugins and the amazon
		// builder's newer arguments: the build file alone gets the
		// HCL syntax check. A Packer with the plugins installed (packer
		// init infra/packer/) validates everything, as the build does.
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "golden.pkr.hcl"), []byte(readRepo(t, packerFile)), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(packer, "validate", "-syntax-only", "golden.pkr.hcl")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("packer validate -syntax-only: %v\n%s", err, out)
		}
		if full := os.Getenv("KAIZEN_PACKER_FULL_VALIDATE"); full != "" {
			cmd := exec.Command(packer, "validate", "-var", "app=shop", "-var", "region=eu-west-1", "-var", "baseline_parameter=/kaizen/shop/image-baseline",
				"-var", "instance_profile=p", "-var", "kms_key_id=k", "-var", "kaizen_binary="+os.Args[0], packerDir)
			cmd.Dir = repoRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("packer validate: %v\n%s", err, out)
			}
		}
	})

	t.Run("shellcheck every shell step", func(t *testing.T) {
		sc := needTool(t, "shellcheck")
		b := readBuildspec(t)
		if b.Env.Shell != "bash" {
			t.Fatalf("buildspec shell %q, want bash", b.Env.Shell)
		}
		dir := t.TempDir()
		check := func(name, shell, script string) {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(script), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(sc, "--shell="+shell, "--severity=style", "--format=gcc", p).CombinedOutput(); err != nil {
				t.Errorf("shellcheck %s: %v\n%s\n--- script:\n%s", name, err, out, script)
			}
		}
		check("buildspec.sh", "bash", "#!/bin/bash\n"+b.phaseScript("install", "pre_build", "build", "post_build"))
		check("packer-shell.sh", "sh", readShellProvisioner(t).script())
	})
}

var (
	kaizenOnce sync.Once
	kaizenBin  string
	kaizenErr  error
)

// builtKaizen is cmd/kaizen built from this tree for the test machine.
func builtKaizen(t *testing.T) string {
	t.Helper()
	kaizenOnce.Do(func() {
		kaizenBin = filepath.Join(scratch, "bin", "kaizen")
		cmd := exec.Command("go", "build", "-o", kaizenBin, "./cmd/kaizen")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			kaizenErr = fmt.Errorf("go build ./cmd/kaizen: %v\n%s", err, out)
		}
	})
	if kaizenErr != nil {
		t.Fatal(kaizenErr)
	}
	return kaizenBin
}

const (
	adv1, adv2, adv3 = "ALAS2023-2024-001", "ALAS2023-2024-002", "ALAS2023-2024-003"
	release          = "2023.6.20241121"
	secretVersion    = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
	baselineName     = "/kaizen/shop/image-baseline"
)

// packerRun is one run of the Packer shell provisioner's exact lines.
type packerRun struct {
	code           int
	stdout, stderr string
	tags           string // what the provisioner left for the download
	root           string // the image's file system
	pm             *imagepreptest.Fakes
	aws            *imagepreptest.AWS
	kaizen         string // where the binary was uploaded
}

// runPackerShell runs the provisioner's lines as Packer would on an AL2023
// build instance: the uploaded kaizen, its environment_vars, sudo, dnf and
// rpm faked, Secrets Manager and SSM faked over HTTP.
func runPackerShell(t *testing.T, broken []string) packerRun {
	t.Helper()
	p := readShellProvisioner(t)
	r := packerRun{pm: imagepreptest.Install(t, []string{adv1, adv2, adv3}, []string{adv3}, broken), aws: imagepreptest.NewAWS(t), root: t.TempDir()}
	r.aws.Secrets["shop/app"] = imagepreptest.Secret{String: `{"DATABASE_PASSWORD":"p@ss'w0rd $(x)","RAILS_MAX_THREADS":5}`, VersionID: secretVersion}
	r.aws.Parameters[baselineName] = `{"advisories":["` + adv3 + `"],"releaseVersion":"2023.6.20241111"}`
	if err := os.MkdirAll(filepath.Join(r.root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(r.root, "etc/os-release"), []byte("NAME=\"Amazon Linux\"\nID=\"amzn\"\nVERSION_ID=\"2023\"\n"), 0o644)
	work := t.TempDir()
	r.kaizen = filepath.Join(work, "kaizen")
	b, err := os.ReadFile(builtKaizen(t))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(r.kaizen, b, 0o644) // the file provisioner's upload: chmod is the script's
	tagsFile := filepath.Join(work, "kaizen-image.tags")
	// Each Packer expression the provisioner's environment uses, as the
	// buildspec's -var flags and the template's locals set it.
	values := map[string]string{
		"var.app": "shop", "local.app_group": strconv.Itoa(os.Getgid()),
		"var.security_advisories": adv2 + "," + adv1, "var.release_version": release, "var.allow_missing_advisories": "false",
		"var.secret_id": "shop/app", "var.baseline_parameter": baselineName, "var.region": "eu-west-1",
		"local.remote_kaizen": r.kaizen, "local.remote_tags": tagsFile, "local.image_root": r.root,
	}
	env := append(os.Environ(), r.pm.Env()...)
	env = append(env, r.aws.Env()...)
	for _, kv := range p.env {
		v, ok := values[kv[1]]
		if !ok {
			t.Fatalf("environment_vars %s=${%s}: the test does not know this expression", kv[0], kv[1])
		}
		env = append(env, kv[0]+"="+v)
	}
	script := filepath.Join(work, "script.sh")
	os.WriteFile(script, []byte(p.script()), 0o755)
	cmd := exec.Command("/bin/sh", "-e", script)
	cmd.Dir, cmd.Env = work, env
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	r.stdout, r.stderr = out.String(), errs.String()
	tb, _ := os.ReadFile(tagsFile)
	r.tags = string(tb)
	return r
}

// TestPackerShellLines runs the exact lines of the Packer template's shell
// provisioner.
func TestPackerShellLines(t *testing.T) {
	hcl := readRepo(t, packerFile)
	for _, want := range []string{"destination = local.remote_kaizen", "source      = local.remote_tags", `direction   = "download"`} {
		if !strings.Contains(hcl, want) {
			t.Errorf("%s: no %q: the file provisioners must move the files the shell lines use", packerFile, want)
		}
	}

	t.Run("applies, verifies, renders, records and prints the tags", func(t *testing.T) {
		r := runPackerShell(t, nil)
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		want := "kaizen:advisories=" + adv1 + " " + adv2 + " " + adv3 + "\nkaizen:secret-version=" + secretVersion + "\nkaizen:release-version=" + release + "\n"
		if r.tags != want {
			t.Errorf("tags %q, want %q", r.tags, want)
		}
		calls := r.pm.Calls(t)
		if len(calls) == 0 || !strings.HasPrefix(calls[0], "sudo env AWS_REGION=eu-west-1 "+r.kaizen+" image prepare --root "+r.root+" --app shop") {
			t.Errorf("calls %q", calls)
		}
		if !slices.Contains(calls, "dnf upgrade -y --releasever="+release+" --advisory="+adv1+" --advisory="+adv2+" --advisory="+adv3) {
			t.Errorf("no upgrade to the release with every advisory: %q", calls)
		}
		for _, f := range []string{"etc/profile.d/shop.sh", "etc/shop/env", "etc/kaizen/image.json"} {
			if _, err := os.Stat(filepath.Join(r.root, f)); err != nil {
				t.Error(err)
			}
		}
		if fi, err := os.Stat(filepath.Join(r.root, "etc/shop/env")); err == nil && fi.Mode().Perm() != 0o640 {
			t.Errorf("/etc/shop/env mode %v", fi.Mode().Perm())
		}
		if v, _ := r.aws.Parameter(baselineName); !strings.Contains(v, adv1) || strings.Contains(v, adv3) || !strings.Contains(v, release) {
			t.Errorf("baseline %q", v)
		}
		if _, err := os.Stat(r.kaizen); err == nil {
			t.Error("the kaizen binary stays on the image")
		}
		if strings.Contains(r.stdout+r.stderr+r.tags, "p@ss") {
			t.Error("a secret value reached the build log")
		}
	})

	t.Run("an advisory not installed fails the build, named", func(t *testing.T) {
		r := runPackerShell(t, []string{adv2})
		if r.code == 0 || !strings.Contains(r.stderr, adv2+" (a package is still older than its fix)") || r.tags != "" {
			t.Errorf("exit %d, tags %q\n%s", r.code, r.tags, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(r.root, "etc/profile.d/shop.sh")); err == nil {
			t.Error("a failed build rendered the secret")
		}
	})
}

// TestBuildspecLines runs the exact pre_build and build commands of the
// buildspec, as CodeBuild runs them (one bash), with go, packer and aws
// faked and the tags the Packer provisioner's lines printed.
func TestBuildspecLines(t *testing.T) {
	needTool(t, "jq")
	r := runPackerShell(t, nil)
	if r.code != 0 {
		t.Fatalf("packer shell lines: exit %d\n%s", r.code, r.stderr)
	}
	b := readBuildspec(t)
	bin, work := t.TempDir(), t.TempDir()
	calls := filepath.Join(work, "calls")
	fakes := map[string]string{
		// go: cross-compiles for the image: check the target, put a binary at -o.
		"go": `#!/bin/sh
echo "go GOOS=$GOOS GOARCH=$GOARCH CGO_ENABLED=$CGO_ENABLED $*" >> "$CALLS"
out=""; prev=""
for a in "$@"; do [ "$prev" = "-o" ] && out="$a"; prev="$a"; done
mkdir -p "$(dirname "$out")" && cp "$KAIZEN_TEST_BINARY" "$out"
`,
		// packer: what a successful build leaves: the manifest and the
		// tags file downloaded from the instance.
		"packer": `#!/bin/sh
printf 'packer' >> "$CALLS"; for a in "$@"; do printf ' [%s]' "$a" >> "$CALLS"; done; echo >> "$CALLS"
tags=""
for a in "$@"; do case "$a" in tags_file=*) tags="${a#tags_file=}" ;; esac; done
cp "$FAKE_TAGS" "$tags"
echo '{"builds":[{"name":"golden","artifact_id":"eu-west-1:ami-0123456789abcdef0"}]}' > packer-manifest.json
`,
		"aws": `#!/bin/sh
printf 'aws' >> "$CALLS"; for a in "$@"; do printf ' [%s]' "$a" >> "$CALLS"; done; echo >> "$CALLS"
case "$2" in describe-images) printf 'snap-0aaa\tsnap-0bbb\n' ;; esac
`,
	}
	for name, s := range fakes {
		os.WriteFile(filepath.Join(bin, name), []byte(s), 0o755)
	}
	fakeTags := filepath.Join(work, "tags-from-instance")
	os.WriteFile(fakeTags, []byte(r.tags), 0o644)
	// The buildspec's defaults, the project's variables (pipeline.go),
	// CodeBuild's own, then what kaizen's StartBuild overrides.
	env := map[string]string{}
	for k, v := range b.Env.Variables {
		env[k] = v
	}
	for k, v := range map[string]string{
		"APP": "shop", "IMAGE_TAG_KEY": "kaizen:app", "IMAGE_TAG_VALUE": "", "PIPELINE_TAG_KEY": "kaizen:pipeline-execution",
		"BASELINE_PARAMETER": baselineName, "AMI_KMS_KEY_ID": "arn:aws:kms:eu-west-1:111122223333:key/0b8f5a2e-0000-4000-8000-000000000000",
		"BUILDER_INSTANCE_PROFILE": "KaizenPipeline-shop-BuilderInstanceProfile", "SECRET_ID": "shop/app",
		"AWS_REGION":          "eu-west-1",
		"SECURITY_ADVISORIES": adv2 + "," + adv1, "AL2023_RELEASE_VERSION": release, "KAIZEN_REASON": "kaizen alaspoll: 2 Amazon Linux security advisories",
	} {
		env[k] = v
	}
	cmdEnv := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + work,
		"CALLS=" + calls, "FAKE_TAGS=" + fakeTags, "KAIZEN_TEST_BINARY=" + builtKaizen(t)}
	for k, v := range env {
		cmdEnv = append(cmdEnv, k+"="+v)
	}
	script := filepath.Join(work, "build.sh")
	os.WriteFile(script, []byte(b.phaseScript("pre_build", "build", "post_build")), 0o755)
	cmd := exec.Command("bash", "-e", script)
	cmd.Dir, cmd.Env = work, cmdEnv
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("buildspec: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "AMI_ID=ami-0123456789abcdef0\n") {
		t.Errorf("no AMI_ID line:\n%s", out)
	}
	cb, _ := os.ReadFile(calls)
	got := strings.Split(strings.TrimSpace(string(cb)), "\n")
	if len(got) != 4 {
		t.Fatalf("calls:\n%s", cb)
	}
	if got[0] != "go GOOS=linux GOARCH=arm64 CGO_ENABLED=0 build -trimpath -buildvcs=false -o build/image/kaizen ./cmd/kaizen" {
		t.Errorf("go: %s", got[0])
	}
	for _, v := range []string{
		"[-var] [app=shop]", "[-var] [security_advisories=" + adv2 + "," + adv1 + "]", "[-var] [release_version=" + release + "]",
		"[-var] [secret_id=shop/app]", "[-var] [baseline_parameter=" + baselineName + "]", "[-var] [kms_key_id=" + env["AMI_KMS_KEY_ID"] + "]",
		"[-var] [instance_profile=" + env["BUILDER_INSTANCE_PROFILE"] + "]", "[-var] [kaizen_binary=build/image/kaizen]",
		"[-var] [image_tag_value=shop]", "[-var] [allow_missing_advisories=false]", "[infra/packer/]",
	} {
		if !strings.Contains(got[1], v) {
			t.Errorf("packer call without %s:\n%s", v, got[1])
		}
	}
	wantTag := "aws [ec2] [create-tags] [--resources] [ami-0123456789abcdef0] [snap-0aaa] [snap-0bbb] [--tags] " +
		"[Key=kaizen:advisories,Value=" + adv1 + " " + adv2 + " " + adv3 + "] [Key=kaizen:secret-version,Value=" + secretVersion + "] " +
		"[Key=kaizen:release-version,Value=" + release + "]"
	if got[3] != wantTag {
		t.Errorf("tagging:\n got %s\nwant %s", got[3], wantTag)
	}
}

// hclVariables lists the Packer template's variables and whether each has
// a default.
func hclVariables(t *testing.T) map[string]bool {
	t.Helper()
	hcl := readRepo(t, packerFile)
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^variable "([a-z_]+)" \{\n((?:  .*\n|\n)*?)\}`).FindAllStringSubmatch(hcl, -1) {
		out[m[1]] = strings.Contains(m[2], "default")
	}
	if len(out) == 0 {
		t.Fatal("no variables in " + packerFile)
	}
	return out
}

// The buildspec passes every Packer variable without a default, and only
// declared ones; every variable the buildspec reads is set by the
// buildspec, the project, the pipeline or CodeBuild.
func TestBuildFilesAgree(t *testing.T) {
	vars := hclVariables(t)
	b := readBuildspec(t)
	script := b.phaseScript("install", "pre_build", "build", "post_build")
	passed := map[string]bool{}
	for _, m := range regexp.MustCompile(`-var "([a-z_]+)=`).FindAllStringSubmatch(script, -1) {
		passed[m[1]] = true
		if _, ok := vars[m[1]]; !ok {
			t.Errorf("the buildspec passes -var %s, which %s does not declare", m[1], packerFile)
		}
	}
	for v, hasDefault := range vars {
		if !hasDefault && !passed[v] {
			t.Errorf("%s needs -var %s, which the buildspec does not pass", packerFile, v)
		}
	}

	s := full(t)
	proj := props(resources(s.template(s.stacks.Pipeline.Stack), "AWS::CodeBuild::Project")[logicalID(s.stacks.Pipeline.Project)])
	// Set by CodeBuild in every build ("Environment variables in build
	// environments" of the CodeBuild user guide).
	set := map[string]bool{"AWS_REGION": true, "CODEBUILD_SRC_DIR": true, "CODEBUILD_RESOLVED_SOURCE_VERSION": true}
	for k := range b.Env.Variables {
		set[k] = true
	}
	for _, e := range proj["Environment"].(map[string]any)["EnvironmentVariables"].([]any) {
		set[e.(map[string]any)["Name"].(string)] = true
	}
	// Shell variables the script assigns itself.
	for _, m := range regexp.MustCompile(`(?m)(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=`).FindAllStringSubmatch(script, -1) {
		set[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`\$\{?([A-Z][A-Z0-9_]*)`).FindAllStringSubmatch(script, -1) {
		if !set[m[1]] {
			t.Errorf("the buildspec reads $%s, which neither it, the project nor CodeBuild sets", m[1])
		}
	}
}
