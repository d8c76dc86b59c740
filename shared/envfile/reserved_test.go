package envfile

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// refusedNames is written out by hand, independently of reservedNames, so
// that removing a name (or a prefix) from reserved.go fails
// TestReservedNamesRefused: every variable that bash (manual, "Shell
// Variables"), dash/POSIX sh or a login shell gives a meaning to, and the
// glibc/ld.so ones, plus samples of each reserved family.
var refusedNames = []string{
	// bash: Bourne shell variables.
	"CDPATH", "HOME", "IFS", "MAIL", "MAILPATH", "OPTARG", "OPTIND", "PS1", "PS2",
	// bash: Bash variables.
	"_", "BASH", "BASHOPTS", "BASHPID", "BASH_ALIASES", "BASH_ARGC", "BASH_ARGV",
	"BASH_ARGV0", "BASH_CMDS", "BASH_COMMAND", "BASH_COMPAT", "BASH_ENV",
	"BASH_EXECUTION_STRING", "BASH_LINENO", "BASH_LOADABLES_PATH",
	"BASH_MONOSECONDS", "BASH_REMATCH", "BASH_SOURCE", "BASH_SUBSHELL",
	"BASH_TRAPSIG", "BASH_VERSINFO", "BASH_VERSION", "BASH_XTRACEFD",
	"BASH_FUNC_ls", "BASHFOO", "CHILD_MAX", "COLUMNS", "COMP_CWORD", "COMP_KEY",
	"COMP_LINE", "COMP_POINT", "COMP_TYPE", "COMP_WORDBREAKS", "COMP_WORDS",
	"COMPREPLY", "COPROC", "COPROC_PID", "DIRSTACK", "EMACS", "ENV",
	"EPOCHREALTIME", "EPOCHSECONDS", "EUID", "EXECIGNORE", "FCEDIT", "FIGNORE",
	"FUNCNAME", "FUNCNEST", "GLOBIGNORE", "GLOBSORT", "GROUPS", "histchars",
	"HISTCMD", "HISTCONTROL", "HISTFILE", "HISTFILESIZE", "HISTIGNORE",
	"HISTSIZE", "HISTTIMEFORMAT", "HOSTFILE", "HOSTNAME", "HOSTTYPE",
	"IGNOREEOF", "INPUTRC", "INSIDE_EMACS", "LANG", "LC_ALL", "LC_COLLATE",
	"LC_CTYPE", "LC_MESSAGES", "LC_NUMERIC", "LC_TIME", "LC_MONETARY",
	"LC_ADDRESS", "LC_IDENTIFICATION", "LC_MEASUREMENT", "LC_NAME", "LC_PAPER",
	"LC_TELEPHONE", "LINENO", "LINES", "MACHTYPE", "MAILCHECK", "MAPFILE",
	"OLDPWD", "OPTERR", "OSTYPE", "PIPESTATUS", "POSIXLY_CORRECT", "PPID",
	"PROMPT_COMMAND", "PROMPT_DIRTRIM", "PS0", "PS3", "PS4", "PWD", "RANDOM",
	"READLINE_ARGUMENT", "READLINE_LINE", "READLINE_MARK", "READLINE_POINT",
	"REPLY", "SECONDS", "SHELL", "SHELLOPTS", "SHLVL", "SRANDOM", "TIMEFORMAT",
	"TMOUT", "TMPDIR", "UID",
	// bash: job control and locale translation.
	"auto_resume", "TEXTDOMAIN", "TEXTDOMAINDIR", "LANGUAGE",
	// dash, POSIX sh, login.
	"PATH", "TERM", "NLSPATH", "USER", "LOGNAME",
	// glibc unsecvars.h and ld.so.
	"GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES", "LD_AUDIT",
	"LD_DEBUG", "LD_DEBUG_OUTPUT", "LD_DYNAMIC_WEAK", "LD_HWCAP_MASK",
	"LD_LIBRARY_PATH", "LD_ORIGIN_PATH", "LD_PRELOAD", "LD_PROFILE",
	"LD_SHOW_AUXV", "LD_BIND_NOW", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE",
	"NIS_PATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TZDIR",
}

// acceptedNames look like reserved names but mean nothing to any shell:
// matching is case-sensitive as in shells, and only the families that
// shells define are refused by prefix.
var acceptedNames = []string{
	"DB_PASSWORD", "MAIL_PASSWORD", "MAILGUN_API_KEY", "MAILER_DSN", "PS5",
	"PSQL_PASSWORD", "PS", "HISTCHARS", "Histchars", "AUTO_RESUME", "Path",
	"path", "home", "Home", "LC", "LCD_TOKEN", "LD", "LDAP_PASSWORD", "COMP",
	"COMPANY_ID", "READLINE", "BAS", "USERNAME", "USER_ID", "HOME_DIR",
	"TERMINAL", "PATHS", "ENVIRONMENT", "ENV_NAME", "LANG_CODE", "UIDS", "__",
	"_X", "X_PATH", "APP_HOME", "ld_preload", "bash_env", "ps1",
}

// TestReservedNamesRefused renders every refused name without a prefix (it
// must fail, naming the key and the reason, without the value) and with
// --prefix APP_ (it must give APP_NAME), in both formats, through Render
// and through the command.
func TestReservedNamesRefused(t *testing.T) {
	for _, name := range refusedNames {
		t.Run(name, func(t *testing.T) {
			in := []byte(`{"OK":"1","` + name + `":"HOSTILE $(touch CANARY)"}`)
			for _, format := range []string{FormatShell, FormatSystemd} {
				out, err := Render(in, Options{Format: format})
				if err == nil {
					t.Fatalf("%s: %s accepted:\n%s", format, name, out)
				}
				msg := err.Error()
				why := reservedWhy(name)
				if !strings.Contains(msg, `key "`+name+`" is reserved: `+why) || why == "" {
					t.Errorf("%s: error %q does not name the key and say why", format, msg)
				}
				if strings.Contains(msg, marker) || strings.Contains(msg, "touch") {
					t.Errorf("%s: error %q shows the value", format, msg)
				}

				out, err = Render(in, Options{Format: format, Prefix: "APP_"})
				if err != nil {
					t.Fatalf("%s: with prefix APP_: %v", format, err)
				}
				var got map[string]string
				if format == FormatShell {
					got, err = parseShellFile(out)
				} else {
					got, err = parseSystemd(out)
				}
				if err != nil {
					t.Fatal(err)
				}
				compareEnv(t, format+" with prefix", got, nil, map[string]string{"APP_OK": "1", "APP_" + name: "HOSTILE $(touch CANARY)"})
			}

			dir := t.TempDir()
			file := filepath.Join(dir, "secrets.sh")
			r := runCLI(t, []string{"--out", file}, string(in), nil)
			if r.code != 1 || !strings.Contains(r.stderr, `kaizen envfile: key "`+name+`" is reserved: `) || !strings.Contains(r.stderr, "--prefix") {
				t.Errorf("command: exit %d, stderr %q; want 1 and an error naming the key and --prefix", r.code, r.stderr)
			}
			if strings.Contains(r.stderr, marker) {
				t.Errorf("command: stderr %q shows the value", r.stderr)
			}
			checkOnlyFile(t, dir)
			r = runCLI(t, []string{"--out", file, "--prefix", "APP_"}, string(in), nil)
			if r.code != 0 {
				t.Fatalf("command with --prefix APP_: exit %d, stderr %q", r.code, r.stderr)
			}
			if b, _ := os.ReadFile(file); !strings.Contains(string(b), "\nexport APP_"+name+"='HOSTILE $(touch CANARY)'\n") {
				t.Errorf("command with --prefix APP_ wrote %q", b)
			}
		})
	}
}

// TestReservedNameAfterPrefix: the name is checked after the prefix is
// added, so a prefix cannot be used to build a reserved name.
func TestReservedNameAfterPrefix(t *testing.T) {
	for _, c := range []struct{ prefix, key, name string }{
		{"LD_", "PRELOAD", "LD_PRELOAD"},
		{"BASH_", "ENV", "BASH_ENV"},
		{"PS", "1", "PS1"},
		{"P", "ATH", "PATH"},
		{"MAIL", "PATH", "MAILPATH"},
		{"LC_", "ALL", "LC_ALL"},
		{"HOME", "", "HOME"},
	} {
		_, err := Render([]byte(`{"`+c.key+`":"HOSTILE"}`), Options{Prefix: c.prefix})
		if err == nil || !strings.Contains(err.Error(), `key "`+c.key+`": name "`+c.name+`" is reserved: `) {
			t.Errorf("prefix %q key %q: error %v, want one naming %s as reserved", c.prefix, c.key, err, c.name)
		}
	}
}

func TestLookalikeNamesAccepted(t *testing.T) {
	for _, name := range acceptedNames {
		out, err := Render([]byte(`{"`+name+`":"v"}`), Options{})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !strings.Contains(string(out), "\nexport "+name+"='v'\n") {
			t.Errorf("%s: output %q", name, out)
		}
	}
}

// TestReservedListMatchesTests keeps reserved.go and refusedNames in step:
// every name and prefix in reserved.go is exercised above, and no listed
// name is also covered by a prefix. It logs the size of the rule.
func TestReservedListMatchesTests(t *testing.T) {
	inTest := map[string]bool{}
	for _, n := range refusedNames {
		if inTest[n] {
			t.Errorf("%s is twice in refusedNames", n)
		}
		inTest[n] = true
	}
	var names []string
	for n, why := range reservedNames {
		names = append(names, n)
		if !validName(n) {
			t.Errorf("reserved name %q is not a valid name", n)
		}
		if why == "" {
			t.Errorf("reserved name %s has no reason", n)
		}
		if !inTest[n] {
			t.Errorf("reserved name %s is not in refusedNames", n)
		}
		for _, p := range reservedPrefixes {
			if strings.HasPrefix(n, p.prefix) {
				t.Errorf("reserved name %s is already covered by prefix %s", n, p.prefix)
			}
		}
	}
	for _, p := range reservedPrefixes {
		n := 0
		for _, name := range refusedNames {
			if strings.HasPrefix(name, p.prefix) {
				n++
			}
		}
		if n < 2 {
			t.Errorf("prefix %s has %d examples in refusedNames, want at least 2", p.prefix, n)
		}
	}
	sort.Strings(names)
	t.Logf("%d names and %d prefixes reserved", len(names), len(reservedPrefixes))
}
