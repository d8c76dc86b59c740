//go:build unix

package envfile

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// codeCase is a reserved name and a shell session in which a file that
// exports it, sourced the way /etc/profile.d files are, runs the value as
// code. Every value creates the file CANARY in the session's directory.
type codeCase struct {
	desc  string
	name  string
	value string   // "@DIR@" is replaced by the session's directory
	argv  []string // "@FILE@" is replaced by the path of the sourced file
	env   []string // added to PATH, HOME, HISTFILE= and TERM=dumb
	stdin string
	setup func(t *testing.T, dir string)
}

var (
	bashRC       = []string{"bash", "--noprofile", "--rcfile", "@FILE@", "-i"}
	bashSourceCh = func(then string) []string {
		return []string{"bash", "--noprofile", "--norc", "-c", `. "$1"; ` + then, "sh", "@FILE@"}
	}
)

var codeCases = []codeCase{
	{desc: "bash -i expands PS1 before each prompt", name: "PS1", value: "$(touch CANARY)", argv: bashRC, stdin: ":\nexit\n"},
	{desc: "dash -i expands PS1 before each prompt", name: "PS1", value: "$(touch CANARY)", argv: []string{"dash", "-i"}, env: []string{"ENV=@FILE@"}, stdin: ":\nexit\n"},
	{desc: "bash -i expands PS0 before each command", name: "PS0", value: "$(touch CANARY)", argv: bashRC, stdin: ":\nexit\n"},
	{desc: "bash -i expands PS2 on a continuation line", name: "PS2", value: "$(touch CANARY)", argv: bashRC, stdin: "if :\nthen :\nfi\nexit\n"},
	{desc: "bash -i runs PROMPT_COMMAND before each prompt", name: "PROMPT_COMMAND", value: "touch CANARY", argv: bashRC, stdin: ":\nexit\n"},
	{
		desc: "bash -i expands the MAILPATH message when the mailbox changes", name: "MAILPATH",
		value: "@DIR@/mbox?$(touch CANARY)", argv: bashRC, stdin: ":\nexit\n",
		// Check at every prompt instead of once a minute (the default).
		env: []string{"MAILCHECK=0"},
		setup: func(t *testing.T, dir string) {
			mbox := filepath.Join(dir, "mbox")
			if err := os.WriteFile(mbox, []byte("From x\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			later := time.Now().Add(time.Hour) // new mail, after the shell started
			if err := os.Chtimes(mbox, later.Add(-time.Minute), later); err != nil {
				t.Fatal(err)
			}
		},
	},
	{desc: "every later non-interactive bash expands BASH_ENV", name: "BASH_ENV", value: "$(touch CANARY)", argv: bashSourceCh("bash -c :")},
	{desc: "a later interactive POSIX-mode shell expands ENV", name: "ENV", value: "$(touch CANARY)", argv: bashSourceCh("bash --posix -i -c :")},
	{desc: "bash expands PS4 before each command traced by set -x", name: "PS4", value: "$(touch CANARY)", argv: bashSourceCh("set -x; :")},
}

// runSession runs c's shell session in dir with file as the sourced file,
// in a new session without a controlling terminal (so that the interactive
// shells cannot take over the terminal of the test), and returns what it
// printed.
func runSession(t *testing.T, c codeCase, dir, file string) string {
	t.Helper()
	needTool(t, "touch")
	repl := strings.NewReplacer("@FILE@", file, "@DIR@", dir)
	argv := make([]string, len(c.argv))
	for i, a := range c.argv {
		argv[i] = repl.Replace(a)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, needTool(t, argv[0]), argv[1:]...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "HISTFILE=", "TERM=dumb"}
	for _, e := range c.env {
		cmd.Env = append(cmd.Env, repl.Replace(e))
	}
	cmd.Stdin = strings.NewReader(c.stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out, _ := cmd.CombinedOutput() // interactive shells without a terminal complain; the canary is what counts
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish: %s", argv[0], out)
	}
	return string(out)
}

func canary(dir string) bool {
	_, err := os.Lstat(filepath.Join(dir, "CANARY"))
	return err == nil
}

// TestReservedNamesRunCodeInShells shows why the names are refused: a file
// that exported them, written with the very quoting Render uses, runs the
// value as code in bash or dash. Render refuses each of them, and the same
// value under --prefix APP_ runs nothing.
func TestReservedNamesRunCodeInShells(t *testing.T) {
	for _, c := range codeCases {
		t.Run(c.name+"/"+c.argv[0], func(t *testing.T) {
			// 1. The file Render would write without the check.
			dir := t.TempDir()
			if c.setup != nil {
				c.setup(t, dir)
			}
			value := strings.ReplaceAll(c.value, "@DIR@", dir)
			var b bytes.Buffer
			b.WriteString("# Written by the test with writeShell, bypassing the reserved-name check.\n")
			writeShell(&b, entry{name: c.name, value: value})
			file := filepath.Join(dir, "secrets.sh")
			if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			if out := runSession(t, c, dir, file); !canary(dir) {
				t.Fatalf("%s: %s=%q did not run; the case no longer shows the danger. Output:\n%s", c.desc, c.name, value, out)
			}

			// 2. Render refuses it.
			in := hostileInput(t, map[string]string{c.name: value})
			if out, err := Render(in, Options{}); err == nil || !strings.Contains(err.Error(), `key "`+c.name+`" is reserved`) {
				t.Fatalf("Render accepted %s (error %v):\n%s", c.name, err, out)
			}

			// 3. With a prefix the same value is inert.
			dir = t.TempDir()
			if c.setup != nil {
				c.setup(t, dir)
			}
			value = strings.ReplaceAll(c.value, "@DIR@", dir)
			rendered, err := Render(hostileInput(t, map[string]string{c.name: value}), Options{Prefix: "APP_"})
			if err != nil {
				t.Fatal(err)
			}
			file = filepath.Join(dir, "secrets.sh")
			if err := os.WriteFile(file, rendered, 0o600); err != nil {
				t.Fatal(err)
			}
			if out := runSession(t, c, dir, file); canary(dir) {
				t.Errorf("APP_%s ran code. Output:\n%s", c.name, out)
			}
		})
	}
}
