package envfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile values: each tries to break out of the quoting, run a command
// (which would create the file CANARY in the working directory) or be
// mangled by the shell or by systemd.
var hostile = map[string]string{
	"SQ":          "it's",
	"DQ":          `say "hi"`,
	"CMD_SUBST":   "$(touch CANARY)",
	"BACKTICK":    "`touch CANARY`",
	"SEMI":        "; touch CANARY",
	"BREAK_SQ":    "'; touch CANARY; '",
	"BREAK_SQ2":   `'\''; touch CANARY; echo '`,
	"BREAK_DQ":    `"; touch CANARY; "`,
	"BREAK_DQ2":   `\"; touch CANARY; echo \"`,
	"BS_SQ":       `\'; touch CANARY #`,
	"BACKSLASH":   `C:\temp\new \\server\share \n \t \$ \`,
	"TRAILING_BS": `ends with a backslash \`,
	"NEWLINES":    "line1\nline2\n\nexport EVIL='x'\ntouch CANARY\n",
	"CR":          "a\rb\r\nc\r",
	"TAB":         "a\tb\t",
	"BANG":        "!! !$ !-1 !touch",
	"EMOJI":       "🔑🙂 пароль 密码 ñ",
	"RTL":         "\u202eevil\u202c \u05e9\u05dc\u05d5\u05dd \u200f\u200e",
	"DASHDASH":    "--help",
	"DASH_E":      "-e",
	"DASH_N":      "-n",
	"EMPTY":       "",
	"HOME_REF":    "$HOME",
	"BRACE":       "${X} ${X:-$(touch CANARY)} ${IFS}",
	"QUOTE_QUOTE": `'\''`,
	"QUOTES":      `''''""""`,
	"ONLY_SQ":     "'",
	"ONLY_DQ":     `"`,
	"SPACES":      "  leading and trailing  ",
	"GLOB":        "* ? [a-z] ~root ~",
	"HASH":        "# not a comment",
	"SEMICOLON":   "; not a comment",
	"EQUALS":      "a=b=c",
	"CONTROL":     "\x01\x07\x1b[31mred\x1b[0m\x7f",
	"ARITH":       "$((1+1)) $[1+1]",
	"HEREDOC":     "<<EOF\ntouch CANARY\nEOF",
	"PROC_SUBST":  "<(touch CANARY) >(touch CANARY)",
	"JSON":        `{"nested": "json", "n": [1, 2]}`,
	"PERCENT":     "%s %n %x %%",
	"LINE_CONT":   "a\\\nb",
	"HTML":        "<script>&amp;</script>",
}

func hostileInput(t testing.TB, values map[string]string) []byte {
	t.Helper()
	in, err := json.Marshal(values)
	if err != nil {
		t.Fatal(err)
	}
	if len(in) > MaxInputBytes {
		t.Fatalf("test input is %d bytes, over the limit", len(in))
	}
	return in
}

// bigValue returns a value of n bytes with quotes, substitutions and
// newlines scattered through it, but light enough in JSON escapes to fit
// the 65,536-byte limit.
func bigValue(n int) string {
	chunk := strings.Repeat("x", 200) + "'$(touch CANARY)`touch CANARY`\"\\\n🔑"
	s := strings.Repeat(chunk, n/len(chunk)+1)
	s = s[:n]
	for !utf8.ValidString(s) { // do not end in the middle of a rune
		s = s[:len(s)-1]
	}
	return s
}

func TestShellRoundTripHostile(t *testing.T) {
	cases := map[string]map[string]string{
		"corpus": hostile,
		"60KiB":  {"BIG": bigValue(60 * 1024), "SMALL": "$(touch CANARY)"},
	}
	for name, values := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := Render(hostileInput(t, values), Options{SecretID: "prod/app"})
			if err != nil {
				t.Fatal(err)
			}
			checkShellRoundTrip(t, out, values)

			ref, err := parseShellFile(out)
			if err != nil {
				t.Fatalf("reference reader: %v", err)
			}
			compareEnv(t, "reference reader", ref, nil, values)
		})
	}
}

// TestSystemdFormatRoundTripHostile reads the systemd format back with the
// reference parser, with libsystemd itself when it is installed, and with
// the shells (the escaping is the same as in shell double quotes).
func TestSystemdFormatRoundTripHostile(t *testing.T) {
	cases := map[string]map[string]string{
		"corpus": hostile,
		"60KiB":  {"BIG": bigValue(60 * 1024), "SMALL": "$(touch CANARY)"},
	}
	for name, values := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := Render(hostileInput(t, values), Options{Format: FormatSystemd, SecretID: "prod/app"})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := parseSystemd(out)
			if err != nil {
				t.Fatalf("reference parser: %v", err)
			}
			compareEnv(t, "reference parser", ref, nil, values)

			t.Run("libsystemd", func(t *testing.T) {
				file := filepath.Join(t.TempDir(), "app.env")
				if err := os.WriteFile(file, out, 0o600); err != nil {
					t.Fatal(err)
				}
				got, err := loadWithSystemd(t, file)
				if err != nil {
					t.Fatal(err)
				}
				compareEnv(t, "libsystemd", got, nil, values)
			})
			t.Run("shells", func(t *testing.T) {
				checkShellRoundTrip(t, out, values)
			})
		})
	}
}

// TestRoundTripNumbersAndBooleans: numbers and booleans are written as their
// JSON text.
func TestRoundTripNumbersAndBooleans(t *testing.T) {
	in := []byte(`{"EXP":1e3,"NEG":-0.50,"BIG":123456789012345678901234567890,"T":true,"F":false,"S":"1e3"}`)
	want := map[string]string{"EXP": "1e3", "NEG": "-0.50", "BIG": "123456789012345678901234567890", "T": "true", "F": "false", "S": "1e3"}
	out, err := Render(in, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkShellRoundTrip(t, out, want)
	sd, err := Render(in, Options{Format: FormatSystemd})
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseSystemd(sd)
	if err != nil {
		t.Fatal(err)
	}
	compareEnv(t, "reference parser", got, nil, want)
}

// TestReferenceParserMatchesLibsystemd checks the reference parser itself
// against libsystemd on hand-written files, including shapes Render never
// writes, so that the parser can be trusted where libsystemd is missing.
func TestReferenceParserMatchesLibsystemd(t *testing.T) {
	files := []string{
		"A=1\nB=2",
		"# comment\n; comment\n  A = spaced value  \n",
		"A=\"x\ny\r\tz \\$ \\` \\\" \\\\ \\q \\\nw\"\n",
		"A='single \\ \" $ `'\n",
		"A=unquoted\\ value\\\ncontinued  \n",
		"A=\"one\"'two'three\n",
		"A=\"\"\nB=''\nC=\n",
		"A=1\nA=2\n",
		"A=\"unterminated\n",
		"NOEQUALS\nA=1\n",
		"A=\"\xef\xbb\xbfbom\"\n",
		"A=\"\xef\xbf\xbe\"\n",
		"A=\"\xef\xb7\x90\"\n",
		"A=\"\xff\"\n",
		"A=\"a\"  \nB=\"b\"\t\n",
	}
	dir := t.TempDir()
	for i, content := range files {
		file := filepath.Join(dir, "f.env")
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		want, wantErr := loadWithSystemd(t, file)
		got, gotErr := parseSystemd([]byte(content))
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("file %d %q: libsystemd error %v, reference parser error %v", i, content, wantErr, gotErr)
			continue
		}
		if wantErr == nil {
			compareEnv(t, "reference parser vs libsystemd", got, nil, want)
		}
	}
}
