package envfile

import "strings"

// Why a name is reserved. The error for a reserved key names the key and
// gives one of these reasons; it never shows the value.
const (
	whyCode    = "bash or dash runs code through it (a prompt or mail message it expands, a command it runs, or a startup file it reads)"
	whyLookup  = "it changes how a shell finds commands or files, splits words or reads its input"
	whyDynamic = "bash or dash sets it itself or treats it as read-only, so after sourcing it would not hold the secret's value"
	whyLoader  = "the dynamic loader or the C library loads code or data through it"
	whyMeaning = "bash, dash or a login shell gives it a meaning of its own"
	whyBash    = "bash gives every name starting with BASH a meaning of its own (BASH_ENV names a file that every non-interactive bash runs, BASH_FUNC_* imports functions, most others are read-only)"
)

// reservedNames are valid names that Render refuses unless a prefix turns
// them into other names: every variable that bash, dash (POSIX sh) or a
// login shell gives a meaning to, and those through which the dynamic
// loader or the C library loads code. Sourced from /etc/profile.d by an
// interactive or login shell, such a name runs code (PS1='$(cmd)',
// PROMPT_COMMAND, MAILPATH='file?$(cmd)', ENV, BASH_ENV, HOME through
// ~/.bash_profile), changes what later commands do (PATH, IFS, HISTFILE,
// TMOUT, LANG...) or does not keep its value (UID, RANDOM...).
//
// Names are matched case-sensitively, as shells do. bash has two lower-case
// variables, histchars and auto_resume; they are listed as such (HISTCHARS
// means nothing to any shell).
//
// Sources, one group each below:
//   - GNU Bash Reference Manual (bash 5.3): 5.1 Bourne Shell Variables,
//     5.2 Bash Variables, 7.3 Job Control Variables (auto_resume),
//     3.1.2.5 Locale-Specific Translation (TEXTDOMAIN, TEXTDOMAINDIR; bash
//     also reads LANGUAGE through gettext);
//   - dash(1) "Builtins" and "Environment", and POSIX.1-2024 XCU 2.5.3
//     Shell Variables and sh(1) ENVIRONMENT VARIABLES;
//   - login(1), su(1) and pam_env: the variables a login session sets;
//   - glibc sysdeps/generic/unsecvars.h (UNSECURE_ENVVARS), the variables
//     ld.so drops for setuid programs because they load code or data.
//
// Families of names are in reservedPrefixes. A map literal cannot hold a
// key twice, so the compiler keeps this list free of duplicates; a test
// checks that no name here is also covered by a prefix.
var reservedNames = map[string]string{
	// Bash manual 5.1, Bourne shell variables (also dash and POSIX sh).
	"CDPATH":   whyLookup,
	"HOME":     whyCode, // login shells read ~/.bash_profile, ~/.profile... from it
	"IFS":      whyLookup,
	"MAIL":     whyMeaning,
	"MAILPATH": whyCode, // the message after '?' undergoes command substitution
	"OPTARG":   whyDynamic,
	"OPTIND":   whyDynamic,
	"PS1":      whyCode,
	"PS2":      whyCode,

	// Bash manual 5.2, Bash variables (BASH* are in reservedPrefixes).
	"_":               whyDynamic,
	"CHILD_MAX":       whyMeaning,
	"COLUMNS":         whyMeaning,
	"COMPREPLY":       whyDynamic,
	"COPROC":          whyDynamic,
	"COPROC_PID":      whyDynamic, // set with COPROC by an unnamed coproc
	"DIRSTACK":        whyDynamic,
	"EMACS":           whyMeaning,
	"ENV":             whyCode, // expanded and sourced by sh/dash and bash --posix interactive shells
	"EPOCHREALTIME":   whyDynamic,
	"EPOCHSECONDS":    whyDynamic,
	"EUID":            whyDynamic,
	"EXECIGNORE":      whyLookup,
	"FCEDIT":          whyCode, // the editor fc runs
	"FIGNORE":         whyLookup,
	"FUNCNAME":        whyDynamic,
	"FUNCNEST":        whyMeaning,
	"GLOBIGNORE":      whyLookup,
	"GLOBSORT":        whyLookup,
	"GROUPS":          whyDynamic,
	"histchars":       whyLookup, // changes the history expansion characters
	"HISTCMD":         whyDynamic,
	"HISTCONTROL":     whyMeaning,
	"HISTFILE":        whyMeaning, // the shell writes its history there on exit
	"HISTFILESIZE":    whyMeaning,
	"HISTIGNORE":      whyMeaning,
	"HISTSIZE":        whyMeaning,
	"HISTTIMEFORMAT":  whyMeaning,
	"HOSTFILE":        whyMeaning,
	"HOSTNAME":        whyDynamic,
	"HOSTTYPE":        whyDynamic,
	"IGNOREEOF":       whyMeaning,
	"INPUTRC":         whyCode, // readline's init file: key bindings and macros
	"INSIDE_EMACS":    whyMeaning,
	"LANG":            whyMeaning,
	"LINENO":          whyDynamic,
	"LINES":           whyMeaning,
	"MACHTYPE":        whyDynamic,
	"MAILCHECK":       whyMeaning,
	"MAPFILE":         whyDynamic,
	"OLDPWD":          whyDynamic,
	"OPTERR":          whyMeaning,
	"OSTYPE":          whyDynamic,
	"PIPESTATUS":      whyDynamic,
	"POSIXLY_CORRECT": whyLookup, // turns on POSIX mode
	"PPID":            whyDynamic,
	"PROMPT_COMMAND":  whyCode,
	"PROMPT_DIRTRIM":  whyMeaning,
	"PS0":             whyCode,
	"PS3":             whyMeaning, // the select prompt, printed without expansion
	"PS4":             whyCode,    // expanded before each command traced by set -x
	"PWD":             whyDynamic,
	"RANDOM":          whyDynamic,
	"REPLY":           whyDynamic,
	"SECONDS":         whyDynamic,
	"SHELL":           whyMeaning,
	"SHELLOPTS":       whyDynamic,
	"SHLVL":           whyDynamic,
	"SRANDOM":         whyDynamic,
	"TIMEFORMAT":      whyMeaning,
	"TMOUT":           whyMeaning, // logs an idle interactive shell out
	"TMPDIR":          whyMeaning, // also in glibc's unsecvars.h
	"UID":             whyDynamic,

	// Bash manual 7.3 and 3.1.2.5; LANGUAGE is read by gettext, which bash
	// uses for its messages and $"..." strings.
	"auto_resume":   whyMeaning,
	"TEXTDOMAIN":    whyMeaning,
	"TEXTDOMAINDIR": whyLoader, // where bash loads $"..." translations from
	"LANGUAGE":      whyMeaning,

	// dash(1) and POSIX sh, beyond the above.
	"PATH":    whyLookup,
	"TERM":    whyMeaning,
	"NLSPATH": whyLoader, // also in glibc's unsecvars.h

	// login(1), su(1), pam_env, beyond the above.
	"USER":    whyMeaning,
	"LOGNAME": whyMeaning,

	// glibc unsecvars.h, beyond LD_* (in reservedPrefixes), NLSPATH and TMPDIR.
	"GCONV_PATH":       whyLoader,
	"GETCONF_DIR":      whyLoader,
	"GLIBC_TUNABLES":   whyLoader,
	"HOSTALIASES":      whyLoader,
	"LOCALDOMAIN":      whyLoader,
	"LOCPATH":          whyLoader,
	"MALLOC_TRACE":     whyLoader,
	"NIS_PATH":         whyLoader,
	"RESOLV_HOST_CONF": whyLoader,
	"RES_OPTIONS":      whyLoader,
	"TZDIR":            whyLoader,
}

// reservedPrefixes are the families of reserved names: every name that
// starts with one of them is refused. MAIL, MAILCHECK and MAILPATH are the
// only MAIL names any shell reads, so they are listed one by one and
// MAIL_PASSWORD stays usable; likewise PS0 to PS4.
var reservedPrefixes = []struct{ prefix, why string }{
	{"BASH", whyBash},         // BASH, BASHOPTS, BASHPID, BASH_ENV, BASH_FUNC_*, BASH_XTRACEFD, BASH_LOADABLES_PATH...
	{"LC_", whyMeaning},       // LC_ALL, LC_CTYPE, LC_MESSAGES...: locale
	{"COMP_", whyDynamic},     // programmable completion: COMP_WORDS, COMP_LINE...
	{"READLINE_", whyDynamic}, // READLINE_LINE, READLINE_POINT...
	{"LD_", whyLoader},        // LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT...
}

// reservedWhy returns why name is reserved, or "" when it is not.
func reservedWhy(name string) string {
	if why, ok := reservedNames[name]; ok {
		return why
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.why
		}
	}
	return ""
}

func reservedName(name string) bool { return reservedWhy(name) != "" }
