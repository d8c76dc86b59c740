package envfile

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRender renders {key: value, "K_FIXED": value} in both formats. When
// Render accepts the input, sourcing the shell file with bash and dash must
// set exactly these values and run nothing (no canary file), and the
// systemd file must read back the same with the reference parser and with
// libsystemd. When Render refuses it, the error must not contain the value.
// bash, dash, gcc and libsystemd-shared must be installed (see needTool and
// systemdOracle); the skips below only filter inputs.
func FuzzRender(f *testing.F) {
	for _, s := range [][2]string{
		{"DB_PASSWORD", "p'w\"$(touch CANARY)`touch CANARY`\\\n\r\t!"},
		{"K", ""},
		{"K", "'\\''"},
		{"K", "ends with \\"},
		{"1BAD", "hostile value"},
		{"PATH", "/tmp"},
		{"K", "a\x00b"},
		{"K", "\ufffe"},
		{"K", "🔑 \u202e ${X}"},
	} {
		f.Add(s[0], s[1])
	}
	// Build the libsystemd reference once, outside the fuzz function; a
	// missing gcc or libsystemd fails here rather than skipping the check.
	systemdOracle(f)
	needTool(f, "bash")
	needTool(f, "dash")
	f.Fuzz(func(t *testing.T, key, value string) {
		if !utf8.ValidString(key) || !utf8.ValidString(value) {
			t.Skip("json.Marshal would change invalid UTF-8; FuzzJSONInput covers raw bytes")
		}
		if strings.ContainsRune(key, '☃') {
			t.Skip("key holds ☃, the character this test wraps values in to detect leaks")
		}
		values := map[string]string{key: value, "K_FIXED": value}
		in, err := json.Marshal(values)
		if err != nil {
			t.Fatal(err)
		}
		if len(in) > MaxInputBytes {
			t.Skip("input over MaxInputBytes; TestRenderExactlyAtLimit covers the limit")
		}
		keyOK := validName(key) && !reservedName(key)
		noNUL := !strings.Contains(value, "\x00")
		_, sdBad := systemdRejects(value)

		for _, format := range []string{FormatShell, FormatSystemd} {
			out, err := Render(in, Options{Format: format, SecretID: "fuzz"})
			wantOK := keyOK && noNUL && (format == FormatShell || !sdBad)
			if (err == nil) != wantOK {
				t.Fatalf("%s: Render error %v, want success %v", format, err, wantOK)
			}
			if err != nil {
				// The same input with the value wrapped in snowmen must fail
				// without a snowman in the message.
				marked := map[string]string{key: "☃" + value + "☃", "K_FIXED": "☃" + value + "☃"}
				in2, _ := json.Marshal(marked)
				if _, err2 := Render(in2, Options{Format: format}); err2 == nil || strings.ContainsRune(err2.Error(), '☃') {
					t.Fatalf("%s: error %v leaks the value (or the marked input did not fail)", format, err2)
				}
				continue
			}
			if format == FormatShell {
				ref, err := parseShellFile(out)
				if err != nil {
					t.Fatalf("reference reader: %v\n%q", err, out)
				}
				compareEnv(t, "reference reader", ref, nil, values)
				checkShellRoundTrip(t, out, values)
				continue
			}
			ref, err := parseSystemd(out)
			if err != nil {
				t.Fatalf("reference parser: %v\n%q", err, out)
			}
			compareEnv(t, "reference parser", ref, nil, values)
			file := filepath.Join(t.TempDir(), "app.env")
			if err := os.WriteFile(file, out, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := loadWithSystemd(t, file)
			if err != nil {
				t.Fatalf("libsystemd: %v", err)
			}
			compareEnv(t, "libsystemd", got, nil, values)
		}
	})
}

// FuzzJSONInput feeds arbitrary bytes to Render. It must not panic; when
// it accepts the input, the input must be valid JSON and both outputs must
// read back (with the reference readers) to the values encoding/json finds.
func FuzzJSONInput(f *testing.F) {
	for _, s := range []string{
		`{"A":"1","B":2e10,"C":true,"D":"\u00e9\ud83d\udd11'\"\\"}`,
		`{"A":"1","A":"2"}`,
		`{"A":{"B":1}}`,
		`{"A":"\ud800"}`,
		`{"A":"x"} {}`,
		`[1]`,
		``,
		"{\"A\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, format := range []string{FormatShell, FormatSystemd} {
			out, err := Render(data, Options{Format: format})
			if err != nil {
				continue
			}
			if !json.Valid(data) {
				t.Fatalf("%s: accepted invalid JSON %q", format, data)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(data, &raw); err != nil {
				t.Fatalf("%s: accepted %q, which encoding/json refuses: %v", format, data, err)
			}
			want := map[string]string{}
			for k, v := range raw {
				if !validName(k) || reservedName(k) {
					t.Fatalf("%s: accepted key %q", format, k)
				}
				v = bytes.TrimSpace(v)
				if v[0] == '"' {
					var s string
					if err := json.Unmarshal(v, &s); err != nil {
						t.Fatal(err)
					}
					want[k] = s
				} else {
					want[k] = string(v)
				}
			}
			var got map[string]string
			if format == FormatShell {
				got, err = parseShellFile(out)
			} else {
				got, err = parseSystemd(out)
			}
			if err != nil {
				t.Fatalf("%s: reading the output back: %v\n%q", format, err, out)
			}
			compareEnv(t, format, got, nil, want)
		}
	})
}
