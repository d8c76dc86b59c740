// Package envfile turns one Secrets Manager secret (a JSON object of at most
// 65,536 bytes) into an environment file for the golden image build: either a
// shell file for /etc/profile.d/ or a file for systemd's EnvironmentFile=.
//
// # Shell format: single quotes
//
// Every value is written inside single quotes:
//
//	export DATABASE_PASSWORD='p@ss'\''word$(x)'
//
// Inside single quotes no character is special to a POSIX shell: not $, not
// a backquote, not a backslash, not !, not a newline. The only character that
// cannot appear inside them is the single quote itself, so a value's single
// quote is written as these four characters: close the quoted string, an
// escaped quote, open a new quoted string.
//
//	'\''
//
// A value therefore can never be expanded, substituted or run as code:
// sourcing the file sets each variable to exactly the bytes of the secret's
// value. Double quotes were not used because $, ` and \ stay
// special inside them; a single forgotten escape would be a command injection.
//
// Keys are written unquoted, so they must be valid names
// ([A-Za-z_][A-Za-z0-9_]*, after the prefix is added). Valid names are
// still refused when bash, dash (POSIX sh) or a login shell gives them a
// meaning, or when the dynamic loader or the C library loads code through
// them: a file in /etc/profile.d is sourced by every login shell, and
// PS1='$(cmd)', PROMPT_COMMAND, MAILPATH='file?$(cmd)', ENV, BASH_ENV or
// HOME (through ~/.bash_profile) would run code; PATH, IFS, HISTFILE, LANG
// or TMOUT would change what the shell does; UID or RANDOM would not keep
// the value. The full list, with its sources, is reservedNames and
// reservedPrefixes in reserved.go. A prefix (--prefix APP_) turns every key
// into a name of its own and makes such keys usable; the name after the
// prefix is checked all the same.
//
// # systemd format
//
// systemd's EnvironmentFile= parser (env-file.c) treats double-quoted values
// like a POSIX shell does: inside "..." a backslash followed by one of
// " \ ` $ stands for that character, a backslash followed by a newline is a
// line continuation, a backslash followed by anything else is kept as is, and
// every other byte, including newline, carriage return and tab, is taken
// literally. Values are written as KEY="value" with exactly those four
// characters escaped, so the file reads back the same in systemd and in a
// POSIX shell. EnvironmentFile= does not expand $VAR; the escaping of $ is
// only there so that the file means the same thing when sourced by a shell.
//
// systemd refuses the whole file (and logs the offending value) when a value
// is not valid UTF-8 in its own sense, which excludes the Unicode
// noncharacters (U+FDD0..U+FDEF and U+xFFFE, U+xFFFF); its documentation also
// excludes U+FEFF. Render rejects values containing any of these in systemd
// format, naming the key.
//
// # Errors never contain values
//
// Error messages name keys (quoted with %q), types, byte offsets and limits,
// never a value or a fragment of one: not even the one character that
// encoding/json puts in its syntax errors.
package envfile
