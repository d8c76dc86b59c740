package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if oracleDir != "" {
		os.RemoveAll(oracleDir)
	}
	os.Exit(code)
}

// shells are the POSIX shells the shell format is checked against: the
// /etc/profile.d/ files are sourced by login shells, which may be bash or sh.
var shells = []struct {
	name string
	argv []string
}{
	{"bash", []string{"bash", "--noprofile", "--norc"}},
	{"dash", []string{"dash"}},
}

// debianPackage names the Debian package that provides each program the
// tests run. A missing program fails the test, with the command that
// installs it: a skipped check is a check that CI never ran.
var debianPackage = map[string]string{
	"bash":  "bash",
	"dash":  "dash",
	"env":   "coreutils",
	"touch": "coreutils",
	"gcc":   "gcc libc6-dev",
}

// needTool returns the path of program name, failing the test when it is
// not installed.
func needTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		pkg := debianPackage[name]
		if pkg == "" {
			pkg = name
		}
		tb.Fatalf("%s not found: run `make deps` (apt-get install %s)", name, pkg)
	}
	return p
}

// sourceEnv sources file with `set -a; . FILE` in a shell started with a
// clean environment in dir, and returns the environment that env -0 prints.
func sourceEnv(tb testing.TB, argv []string, file, dir string) map[string]string {
	tb.Helper()
	shell := needTool(tb, argv[0])
	envPath := needTool(tb, "env")
	args := []string{"-i", "PATH=/usr/bin:/bin", shell}
	args = append(args, argv[1:]...)
	args = append(args, "-c", `set -a; . "$1"; exec env -0`, "sh", file)
	cmd := exec.Command(envPath, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s: sourcing failed: %v; stderr: %q", argv[0], err, stderr.String())
	}
	if stderr.Len() > 0 {
		tb.Fatalf("%s: sourcing wrote to stderr: %q", argv[0], stderr.String())
	}
	env := map[string]string{}
	for _, kv := range strings.Split(strings.TrimSuffix(stdout.String(), "\x00"), "\x00") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			tb.Fatalf("%s: env -0 printed %q", argv[0], kv)
		}
		env[k] = v
	}
	return env
}

var baselines sync.Map // shell name -> map[string]string

// baseline is the environment a shell reports after sourcing an empty file.
func baseline(tb testing.TB, argv []string) map[string]string {
	tb.Helper()
	if b, ok := baselines.Load(argv[0]); ok {
		return b.(map[string]string)
	}
	dir := tb.TempDir()
	f := filepath.Join(dir, "empty.env")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		tb.Fatal(err)
	}
	b := sourceEnv(tb, argv, f, dir)
	baselines.Store(argv[0], b)
	return b
}

// checkShellRoundTrip writes data to a file in a fresh directory, sources it
// with every shell and checks that exactly the variables of want were added
// with exactly their values, and that nothing was created in the directory
// (no canary file from a command substitution).
func checkShellRoundTrip(tb testing.TB, data []byte, want map[string]string) {
	tb.Helper()
	for _, sh := range shells {
		base := baseline(tb, sh.argv)
		dir := tb.TempDir()
		file := filepath.Join(dir, "secrets.sh")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			tb.Fatal(err)
		}
		got := sourceEnv(tb, sh.argv, file, dir)
		compareEnv(tb, sh.name, got, base, want)
		checkOnlyFile(tb, dir, "secrets.sh")
	}
}

// compareEnv checks that got is base plus exactly want.
func compareEnv(tb testing.TB, who string, got, base, want map[string]string) {
	tb.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			tb.Errorf("%s: %s not set", who, k)
			continue
		}
		if g != v {
			tb.Errorf("%s: %s = %s, want %s", who, k, short(g), short(v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; ok {
			continue
		}
		if bv, ok := base[k]; !ok || (bv != v && k != "PWD") { // PWD is the test's directory
			tb.Errorf("%s: unexpected variable %s=%s", who, k, short(v))
		}
	}
}

func checkOnlyFile(tb testing.TB, dir string, names ...string) {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	sort.Strings(got)
	sort.Strings(names)
	if strings.Join(got, "\x00") != strings.Join(names, "\x00") {
		tb.Errorf("directory holds %q, want only %q (a canary file means a value ran as code)", got, names)
	}
}

func short(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%q...(%d bytes)", s[:80], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// parseSystemd is a reference parser for the files systemd's
// EnvironmentFile= reads, written from systemd.exec(5) and env-file.c: lines
// starting with # or ; are comments; KEY=VALUE with leading and trailing
// blanks of the key and around the value dropped; a value may be made of
// unquoted, '...' and "..." parts. Unquoted: backslash keeps the next
// character (a backslash-newline is a continuation), trailing blanks
// dropped. Single quotes: everything literal. Double quotes: backslash
// followed by " \ ` $ gives that character, backslash-newline is a
// continuation, backslash before anything else is kept. Values that are not
// valid UTF-8 in systemd's sense (which excludes noncharacters) make the
// whole file fail, like systemd does.
func parseSystemd(data []byte) (map[string]string, error) {
	const (
		preKey = iota
		inKey
		preValue
		value
		valueEscape
		singleQuote
		doubleQuote
		doubleQuoteEscape
		comment
		commentEscape
	)
	isNL := func(c byte) bool { return c == '\n' || c == '\r' }
	isWS := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

	env := map[string]string{}
	state := preKey
	var key, val []byte
	valSet := false
	lastKeyWS, lastValWS := -1, -1
	push := func(trimValue bool) error {
		k := key
		if lastKeyWS >= 0 {
			k = k[:lastKeyWS]
		}
		v := val
		if trimValue && lastValWS >= 0 {
			v = v[:lastValWS]
		}
		if !sdUTF8Valid(k) || !sdUTF8Valid(v) {
			return fmt.Errorf("invalid UTF-8 in assignment of %q", k)
		}
		if valSet {
			env[string(k)] = string(v)
		} else {
			env[string(k)] = ""
		}
		key, val, valSet = key[:0], nil, false
		return nil
	}
	add := func(c byte) { val = append(val, c); valSet = true }

	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == 0 { // systemd reads the file as a C string
			break
		}
		switch state {
		case preKey:
			if c == '#' || c == ';' {
				state = comment
			} else if !isWS(c) {
				state = inKey
				lastKeyWS = -1
				key = append(key[:0], c)
			}
		case inKey:
			if isNL(c) {
				state = preKey
				key = key[:0]
			} else if c == '=' {
				state = preValue
				lastValWS = -1
			} else {
				if !isWS(c) {
					lastKeyWS = -1
				} else if lastKeyWS < 0 {
					lastKeyWS = len(key)
				}
				key = append(key, c)
			}
		case preValue:
			switch {
			case isNL(c):
				state = preKey
				if err := push(false); err != nil {
					return nil, err
				}
			case c == '\'':
				state = singleQuote
				valSet = true
			case c == '"':
				state = doubleQuote
				valSet = true
			case c == '\\':
				state = valueEscape
			case !isWS(c):
				state = value
				add(c)
			}
		case value:
			switch {
			case isNL(c):
				state = preKey
				if err := push(true); err != nil {
					return nil, err
				}
			case c == '\\':
				state = valueEscape
				lastValWS = -1
			default:
				if !isWS(c) {
					lastValWS = -1
				} else if lastValWS < 0 {
					lastValWS = len(val)
				}
				add(c)
			}
		case valueEscape:
			state = value
			if !isNL(c) {
				add(c)
			}
		case singleQuote:
			if c == '\'' {
				state = preValue
			} else {
				add(c)
			}
		case doubleQuote:
			if c == '"' {
				state = preValue
			} else if c == '\\' {
				state = doubleQuoteEscape
			} else {
				add(c)
			}
		case doubleQuoteEscape:
			state = doubleQuote
			if strings.IndexByte("\"\\`$", c) >= 0 {
				add(c)
			} else if c != '\n' {
				add('\\')
				add(c)
			}
		case comment:
			if c == '\\' {
				state = commentEscape
			} else if isNL(c) {
				state = preKey
			}
		case commentEscape:
			// Before v254 a backslash-newline continued a comment; since
			// then it does not. Output of Render never has one.
			if isNL(c) {
				return nil, errors.New("comment line ends with a backslash: its meaning depends on the systemd version")
			}
			state = comment
		}
	}
	switch state {
	case preValue, value, valueEscape, singleQuote, doubleQuote, doubleQuoteEscape:
		if err := push(state == value); err != nil {
			return nil, err
		}
	}
	return env, nil
}

// sdUTF8Valid is systemd's utf8_is_valid: valid UTF-8 without surrogates or
// noncharacters.
func sdUTF8Valid(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if (0xFDD0 <= r && r <= 0xFDEF) || r&0xFFFE == 0xFFFE {
			return false
		}
	}
	return true
}

var (
	oracleOnce sync.Once
	oracleDir  string
	oracleBin  string
	oracleWhy  string
)

// systemdOracle returns the path of a program that loads an environment file
// with libsystemd-shared's load_env_file, the function behind
// EnvironmentFile=, building it on first use. It fails the test, saying
// what to install, when gcc or the library is missing.
func systemdOracle(tb testing.TB) string {
	tb.Helper()
	bin, why := buildOracle()
	if bin == "" {
		tb.Fatal(why)
	}
	return bin
}

// buildOracle builds the libsystemd reference program once and returns its
// path, or "" and the reason it cannot be built.
func buildOracle() (bin, why string) {
	oracleOnce.Do(func() {
		gcc, err := exec.LookPath("gcc")
		if err != nil {
			oracleWhy = "gcc not found (needed to build the libsystemd reference, testdata/sdoracle.c): run `make deps` (apt-get install gcc libc6-dev)"
			return
		}
		var lib string
		re := regexp.MustCompile(`^libsystemd-shared-(\d+)[.\w~-]*\.so$`)
		dirs := []string{"/usr/lib/x86_64-linux-gnu/systemd", "/usr/lib/aarch64-linux-gnu/systemd", "/usr/lib64/systemd", "/usr/lib/systemd"}
		for _, d := range dirs {
			ms, _ := filepath.Glob(filepath.Join(d, "libsystemd-shared-*.so"))
			for _, m := range ms {
				sub := re.FindStringSubmatch(filepath.Base(m))
				if sub == nil {
					continue
				}
				if v, _ := strconv.Atoi(sub[1]); v >= 243 {
					lib = m
				}
			}
			if lib != "" {
				break
			}
		}
		if lib == "" {
			oracleWhy = fmt.Sprintf("libsystemd-shared-NNN.so (v243 or later) not found in %s: run `make deps` (apt-get install libsystemd-shared; before Debian 12 it is in the systemd package)", strings.Join(dirs, ", "))
			return
		}
		src, err := filepath.Abs("testdata/sdoracle.c")
		if err != nil {
			oracleWhy = err.Error()
			return
		}
		oracleDir, err = os.MkdirTemp("", "envfile-sdoracle-")
		if err != nil {
			oracleWhy = err.Error()
			return
		}
		bin := filepath.Join(oracleDir, "sdoracle")
		out, err := exec.Command(gcc, "-o", bin, src,
			"-L"+filepath.Dir(lib), "-l:"+filepath.Base(lib),
			"-Wl,-rpath,"+filepath.Dir(lib)).CombinedOutput()
		if err != nil {
			oracleWhy = fmt.Sprintf("building the libsystemd reference (testdata/sdoracle.c) with %s failed: %v: %s (is libc6-dev installed? run `make deps`)", lib, err, out)
			return
		}
		oracleBin = bin
	})
	return oracleBin, oracleWhy
}

// loadWithSystemd loads file with libsystemd's load_env_file.
func loadWithSystemd(tb testing.TB, file string) (map[string]string, error) {
	tb.Helper()
	bin := systemdOracle(tb)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, file)
	cmd.Env = []string{"SYSTEMD_LOG_LEVEL=err"}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%v: %s", err, stderr.String())
	}
	env := map[string]string{}
	if stdout.Len() == 0 {
		return env, nil
	}
	for _, kv := range strings.Split(strings.TrimSuffix(stdout.String(), "\x00"), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env, nil
}

// parseShellFile is a reference reader for Render's shell format: a comment
// line, then lines `export NAME='...'` where the value is a sequence of
// single-quoted strings and \' . It rejects anything else, so it also checks
// that the output has no other shape.
func parseShellFile(data []byte) (map[string]string, error) {
	s := string(data)
	env := map[string]string{}
	line, rest, ok := strings.Cut(s, "\n")
	if !ok || !strings.HasPrefix(line, "# ") {
		return nil, errors.New("no header comment line")
	}
	s = rest
	for s != "" {
		if !strings.HasPrefix(s, "export ") {
			return nil, fmt.Errorf("line does not start with export: %q", short(s))
		}
		s = s[len("export "):]
		eq := strings.IndexByte(s, '=')
		if eq < 0 || !validName(s[:eq]) {
			return nil, fmt.Errorf("bad name in %q", short(s))
		}
		name := s[:eq]
		s = s[eq+1:]
		var v strings.Builder
		for {
			switch {
			case strings.HasPrefix(s, "'"):
				end := strings.IndexByte(s[1:], '\'')
				if end < 0 {
					return nil, errors.New("unterminated single quote")
				}
				v.WriteString(s[1 : 1+end])
				s = s[end+2:]
				continue
			case strings.HasPrefix(s, `\'`):
				v.WriteByte('\'')
				s = s[2:]
				continue
			case strings.HasPrefix(s, "\n"):
				s = s[1:]
			default:
				return nil, fmt.Errorf("unexpected text after value of %s", name)
			}
			break
		}
		if _, dup := env[name]; dup {
			return nil, fmt.Errorf("%s set twice", name)
		}
		env[name] = v.String()
	}
	return env, nil
}
