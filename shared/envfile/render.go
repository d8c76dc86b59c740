package envfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"
)

// MaxInputBytes is the largest secret Render accepts: the Secrets Manager
// limit for a secret value.
const MaxInputBytes = 65536

// Output formats accepted in Options.Format.
const (
	FormatShell   = "shell"
	FormatSystemd = "systemd"
)

// Options controls Render.
type Options struct {
	// Format is FormatShell (the default when empty) or FormatSystemd.
	Format string
	// Prefix is prepended to every key to form the variable name.
	Prefix string
	// Only, when not empty, lists the keys of the secret (without Prefix) to
	// write; the others are skipped without being checked. Naming a key that
	// is not in the secret is an error.
	Only []string
	// SecretID is shown in the header comment, nothing else. It must consist
	// of the characters of a secret name or ARN: ASCII letters, digits and
	// / _ + = . @ - :
	SecretID string
}

// reservedNames are valid names that Render refuses: a shell or the dynamic
// loader runs code or looks up commands through them, or bash or dash treat
// them as read-only or dynamic so that the value after sourcing would not be
// the value of the secret.
var reservedNames = map[string]bool{
	// Run code, or change how commands are found or parsed.
	"ENV": true, "PROMPT_COMMAND": true, "PS0": true, "PS1": true, "PS2": true,
	"PS3": true, "PS4": true, "IFS": true, "PATH": true, "CDPATH": true,
	"SHELLOPTS": true, "BASHOPTS": true, "BASH": true, "BASHPID": true,
	"GCONV_PATH": true,
	// Read-only or dynamic in bash or dash.
	"DIRSTACK": true, "EPOCHREALTIME": true, "EPOCHSECONDS": true, "EUID": true,
	"FUNCNAME": true, "GROUPS": true, "HISTCMD": true, "LINENO": true,
	"OPTIND": true, "PIPESTATUS": true, "PPID": true, "RANDOM": true,
	"SECONDS": true, "SHLVL": true, "SRANDOM": true, "UID": true, "PWD": true,
	"OLDPWD": true, "_": true,
}

// reservedPrefixes: BASH_ENV, BASH_FUNC_*, BASH_XTRACEFD, BASH_VERSINFO...;
// LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT...
var reservedPrefixes = []string{"BASH_", "LD_"}

func reservedName(name string) bool {
	if reservedNames[name] {
		return true
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// validName reports whether s matches ^[A-Za-z_][A-Za-z0-9_]*$.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// validSecretID reports whether id only holds characters of a secret name or
// ARN, so that it cannot end the header comment or continue it (a trailing
// backslash continues a comment line in systemd before v254).
func validSecretID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case strings.IndexByte("/_+=.@-:", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// qkey quotes a key for an error message, shortened when very long.
func qkey(k string) string {
	const max = 64
	if len(k) <= max {
		return fmt.Sprintf("%q", k)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(k[cut]) {
		cut--
	}
	return fmt.Sprintf("%q... (%d bytes)", k[:cut], len(k))
}

type entry struct {
	name  string // Prefix + key
	value string
}

// Render turns input, a JSON object, into an environment file.
//
// Input must be valid UTF-8 of at most MaxInputBytes bytes holding exactly
// one JSON object without duplicate keys. Each selected member's name, with
// Prefix, must match ^[A-Za-z_][A-Za-z0-9_]*$ and not be reserved (see the
// package documentation). Its value must be a string, a number or a boolean;
// numbers and booleans are written as their JSON text (1e3 stays 1e3).
// Strings must not contain NUL, nor an unpaired UTF-16 surrogate escape (which
// encoding/json would silently replace). Variables are written sorted by name
// after a header comment that names Options.SecretID.
//
// Errors name keys and limits but never contain a value.
func Render(input []byte, opts Options) ([]byte, error) {
	format := opts.Format
	if format == "" {
		format = FormatShell
	}
	if format != FormatShell && format != FormatSystemd {
		return nil, fmt.Errorf("unknown format %q (want %q or %q)", format, FormatShell, FormatSystemd)
	}
	if opts.Prefix != "" && !validName(opts.Prefix) {
		return nil, fmt.Errorf("prefix %q is not a valid environment variable name", opts.Prefix)
	}
	if !validSecretID(opts.SecretID) {
		return nil, fmt.Errorf("secret id %q has a character that is not an ASCII letter, digit or one of \"/_+=.@-:\"", opts.SecretID)
	}
	if len(input) > MaxInputBytes {
		return nil, fmt.Errorf("input is %d bytes, over the limit of %d bytes", len(input), MaxInputBytes)
	}
	if !utf8.Valid(input) {
		return nil, fmt.Errorf("input is not valid UTF-8 (first bad byte at offset %d)", invalidUTF8Offset(input))
	}

	var only map[string]bool
	if len(opts.Only) > 0 {
		only = make(map[string]bool, len(opts.Only))
		for _, k := range opts.Only {
			only[k] = true
		}
	}

	entries, err := decode(input, only, format, opts.Prefix)
	if err != nil {
		return nil, err
	}

	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	size := 100 + len(opts.SecretID)
	for _, e := range entries {
		size += len(e.name) + len(e.value) + 16
	}
	var b bytes.Buffer
	b.Grow(size)
	if opts.SecretID != "" {
		fmt.Fprintf(&b, "# Generated by kaizen envfile from secret %s. Do not edit.\n", opts.SecretID)
	} else {
		b.WriteString("# Generated by kaizen envfile. Do not edit.\n")
	}
	for _, e := range entries {
		if format == FormatShell {
			writeShell(&b, e)
		} else {
			writeSystemd(&b, e)
		}
	}
	return b.Bytes(), nil
}

// decode reads the JSON object and returns the selected entries, unsorted.
func decode(input []byte, only map[string]bool, format, prefix string) ([]entry, error) {
	dec := json.NewDecoder(bytes.NewReader(input))
	dec.UseNumber()

	tok, err := dec.Token()
	if err == io.EOF {
		return nil, errors.New("input is empty, want a JSON object")
	}
	if err != nil {
		return nil, syntaxError(err, "")
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("input must be a JSON object, got %s", tokenType(tok))
	}

	seen := make(map[string]bool)
	var entries []entry
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err, "")
		}
		key, ok := tok.(string)
		if !ok { // cannot happen after '{' and More, but never trust it
			return nil, errors.New("input is not valid JSON: object key is not a string")
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate key %s", qkey(key))
		}
		seen[key] = true

		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(err, key)
		}
		if only != nil && !only[key] {
			continue
		}

		name := prefix + key
		if !validName(name) {
			if prefix != "" {
				return nil, fmt.Errorf("key %s: name %s is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)", qkey(key), qkey(name))
			}
			return nil, fmt.Errorf("key %s is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)", qkey(key))
		}
		if reservedName(name) {
			return nil, fmt.Errorf("key %s: name %s is reserved (a shell or the dynamic loader gives it a meaning of its own)", qkey(key), qkey(name))
		}

		value, err := scalar(key, raw)
		if err != nil {
			return nil, err
		}
		if strings.IndexByte(value, 0) >= 0 {
			return nil, fmt.Errorf("value of key %s contains a NUL byte, which no environment variable can hold", qkey(key))
		}
		if format == FormatSystemd {
			if off, bad := systemdRejects(value); bad {
				return nil, fmt.Errorf("value of key %s contains a Unicode noncharacter or U+FEFF (at byte offset %d of the value), which systemd's EnvironmentFile= refuses", qkey(key), off)
			}
		}
		entries = append(entries, entry{name: name, value: value})
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, syntaxError(err, "")
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, syntaxError(err, "")
		}
		return nil, fmt.Errorf("input has data after the JSON object (%s)", tokenType(tok))
	}

	if only != nil {
		var missing []string
		for k := range only {
			if !seen[k] {
				missing = append(missing, qkey(k))
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			if len(missing) == 1 {
				return nil, fmt.Errorf("key %s listed in Only is not in the secret", missing[0])
			}
			return nil, fmt.Errorf("keys %s listed in Only are not in the secret", strings.Join(missing, ", "))
		}
	}
	return entries, nil
}

// scalar returns the text of a string, number or boolean JSON value.
func scalar(key string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", fmt.Errorf("value of key %s is missing", qkey(key))
	}
	switch c := raw[0]; {
	case c == '"':
		if unpairedSurrogate(raw) {
			return "", fmt.Errorf("value of key %s contains an unpaired UTF-16 surrogate escape (\\uD800-\\uDFFF), which is not a character", qkey(key))
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("value of key %s is not a valid JSON string", qkey(key))
		}
		return s, nil
	case c == '-' || ('0' <= c && c <= '9'):
		return string(raw), nil // JSON number text, as written
	case c == 't' || c == 'f':
		return string(raw), nil // true or false
	case c == 'n':
		return "", fmt.Errorf("value of key %s is null, want a string, number or boolean", qkey(key))
	case c == '{':
		return "", fmt.Errorf("value of key %s is an object, want a string, number or boolean", qkey(key))
	case c == '[':
		return "", fmt.Errorf("value of key %s is an array, want a string, number or boolean", qkey(key))
	default:
		return "", fmt.Errorf("value of key %s is not a JSON value", qkey(key))
	}
}

// unpairedSurrogate reports whether the JSON string literal raw has a \u
// escape for a UTF-16 surrogate that is not part of a high-low pair.
func unpairedSurrogate(raw []byte) bool {
	hex4 := func(i int) (rune, bool) {
		if i+4 > len(raw) {
			return 0, false
		}
		var r rune
		for _, c := range raw[i : i+4] {
			switch {
			case '0' <= c && c <= '9':
				r = r<<4 | rune(c-'0')
			case 'a' <= c && c <= 'f':
				r = r<<4 | rune(c-'a'+10)
			case 'A' <= c && c <= 'F':
				r = r<<4 | rune(c-'A'+10)
			default:
				return 0, false
			}
		}
		return r, true
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if i >= len(raw) || raw[i] != 'u' {
			continue
		}
		r, ok := hex4(i + 1)
		if !ok {
			return false // not valid JSON; json.Unmarshal reports it
		}
		i += 4 // last hex digit
		switch {
		case 0xDC00 <= r && r <= 0xDFFF:
			return true
		case 0xD800 <= r && r <= 0xDBFF:
			if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				if lo, ok := hex4(i + 3); ok && 0xDC00 <= lo && lo <= 0xDFFF {
					i += 6
					continue
				}
			}
			return true
		}
	}
	return false
}

// systemdRejects returns the byte offset of the first rune that systemd's
// env-file loader (or its documentation) does not accept in a value: Unicode
// noncharacters and U+FEFF.
func systemdRejects(s string) (int, bool) {
	for i, r := range s {
		if r == 0xFEFF || (0xFDD0 <= r && r <= 0xFDEF) || r&0xFFFE == 0xFFFE {
			return i, true
		}
	}
	return 0, false
}

func writeShell(b *bytes.Buffer, e entry) {
	b.WriteString("export ")
	b.WriteString(e.name)
	b.WriteString("='")
	v := e.value
	for {
		i := strings.IndexByte(v, '\'')
		if i < 0 {
			break
		}
		b.WriteString(v[:i])
		b.WriteString(`'\''`)
		v = v[i+1:]
	}
	b.WriteString(v)
	b.WriteString("'\n")
}

func writeSystemd(b *bytes.Buffer, e entry) {
	b.WriteString(e.name)
	b.WriteString(`="`)
	v := e.value
	for {
		i := strings.IndexAny(v, "\"\\`$")
		if i < 0 {
			break
		}
		b.WriteString(v[:i])
		b.WriteByte('\\')
		b.WriteByte(v[i])
		v = v[i+1:]
	}
	b.WriteString(v)
	b.WriteString("\"\n")
}

// syntaxError reports a JSON error by offset only: encoding/json's messages
// quote a character of the input, which may belong to a value.
func syntaxError(err error, key string) error {
	where := ""
	if key != "" {
		where = " in the value of key " + qkey(key)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("input is not valid JSON: syntax error%s near byte offset %d", where, se.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("input is not valid JSON: unexpected end of input%s", where)
	}
	return fmt.Errorf("input is not valid JSON%s", where)
}

func tokenType(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			return "an array"
		case '{':
			return "an object"
		}
		return "a delimiter"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "an unknown token"
}

func invalidUTF8Offset(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}
