// Package imagepreptest gives tests of "kaizen image prepare" a fake Amazon
// Linux: yum, dnf, rpm and sudo as small shell scripts on PATH, and a fake
// Secrets Manager and SSM over HTTP (for AWS_ENDPOINT_URL). The scripts
// record their arguments and answer updateinfo queries from a state
// directory, so a test decides which advisories the base image has, which
// the update installs and which it cannot.
package imagepreptest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// pm is the fake package manager, installed as yum and dnf. State files in
// $FAKE_PM_STATE, one advisory id a line:
//
//	known        advisories the repositories have (others are listed nowhere)
//	installed    advisories whose packages are installed (the base image's, then
//	             what an update added)
//	broken       advisories an update cannot install
//
// Every call is appended to $FAKE_PM_STATE/calls as "name arg arg...".
const pm = `#!/bin/sh
set -eu
state="${FAKE_PM_STATE:?FAKE_PM_STATE not set}"
name=$(basename "$0")
echo "$name $*" >> "$state/calls"
touch "$state/known" "$state/installed" "$state/broken"
has() { grep -qx "$1" "$state/$2"; }
case " $* " in
*" updateinfo "*)
	which=""; ids=""
	for a in "$@"; do
		case "$a" in
		--installed|installed) which=installed ;;
		--available|available) which=available ;;
		ALAS*) ids="$ids $a" ;;
		esac
	done
	# Noise a real package manager prints around the list.
	[ "$name" = dnf ] && echo "Last metadata expiration check: 0:00:07 ago on Mon 25 Nov 2024 09:00:00 AM UTC."
	for id in $ids; do
		has "$id" known || continue
		if has "$id" installed; then
			[ "$which" = installed ] && echo "$id Important/Sec. openssl-libs-1:3.0.8-1.amzn2023.0.14.x86_64"
		else
			[ "$which" = available ] && echo "$id Important/Sec. openssl-libs-1:3.0.8-1.amzn2023.0.14.x86_64"
		fi
	done
	[ "$name" = yum ] && echo "updateinfo list done"
	exit 0 ;;
*" upgrade "*|*" update "*)
	for a in "$@"; do
		case "$a" in
		--advisory=*)
			id="${a#--advisory=}"
			if has "$id" known && ! has "$id" broken && ! has "$id" installed; then
				echo "$id" >> "$state/installed"
				echo "Upgraded: openssl-libs for $id"
			fi ;;
		--releasever=*) echo "${a#--releasever=}" > "$state/releasever" ;;
		esac
	done
	echo "Complete!"
	exit 0 ;;
esac
echo "$name: unexpected arguments: $*" >&2
exit 1
`

const rpm = `#!/bin/sh
set -eu
echo "rpm $*" >> "${FAKE_PM_STATE:?}/calls"
if [ "$*" = "-q system-release" ]; then
	if [ -f "$FAKE_PM_STATE/releasever" ]; then
		echo "system-release-$(cat "$FAKE_PM_STATE/releasever")-0.amzn2023.noarch"
	else
		echo "system-release-2023.6.20241111-0.amzn2023.noarch"
	fi
	exit 0
fi
echo "rpm: unexpected arguments: $*" >&2
exit 1
`

// sudo runs the command as is (tests are not root, or already are).
const sudo = `#!/bin/sh
echo "sudo $*" >> "${FAKE_PM_STATE:?}/calls"
exec "$@"
`

// Fakes is a fake Amazon Linux for one test.
type Fakes struct {
	Bin   string // put first on PATH
	State string // FAKE_PM_STATE
}

// Install writes yum, dnf, rpm and sudo into a new directory and returns
// it with an empty state. known, installed and broken seed the state files.
func Install(t testing.TB, known, installed, broken []string) *Fakes {
	t.Helper()
	f := &Fakes{Bin: t.TempDir(), State: t.TempDir()}
	for name, script := range map[string]string{"yum": pm, "dnf": pm, "rpm": rpm, "sudo": sudo} {
		if err := os.WriteFile(filepath.Join(f.Bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for file, ids := range map[string][]string{"known": known, "installed": installed, "broken": broken} {
		if err := os.WriteFile(filepath.Join(f.State, file), []byte(lines(ids)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func lines(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return strings.Join(ids, "\n") + "\n"
}

// Env is the environment that puts the fakes first: PATH and FAKE_PM_STATE.
func (f *Fakes) Env() []string {
	return []string{"PATH=" + f.Bin + string(os.PathListSeparator) + os.Getenv("PATH"), "FAKE_PM_STATE=" + f.State}
}

// Setenv puts the fakes first on this process's PATH for the test.
func (f *Fakes) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range f.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Calls returns the recorded calls, one "name arg..." string each.
func (f *Fakes) Calls(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.State, "calls"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// Installed returns the advisories the fake now has installed.
func (f *Fakes) Installed(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.State, "installed"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// Secret is one version of a secret the fake Secrets Manager serves.
type Secret struct {
	String    string
	VersionID string
}

// AWS is a fake Secrets Manager (GetSecretValue) and SSM (GetParameter,
// PutParameter) speaking the services' JSON 1.1 protocol.
type AWS struct {
	*httptest.Server
	mu         sync.Mutex
	Secrets    map[string]Secret
	Parameters map[string]string
	Calls      []string // "Service.Operation id"
}

// NewAWS starts the fake; it stops with the test.
func NewAWS(t testing.TB) *AWS {
	a := &AWS{Secrets: map[string]Secret{}, Parameters: map[string]string{}}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		_ = json.Unmarshal(body, &req)
		target := r.Header.Get("X-Amz-Target")
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fail := func(code int, typ, msg string) {
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
			fail(403, "UnrecognizedClientException", "unsigned request")
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		switch target {
		case "secretsmanager.GetSecretValue":
			id, _ := req["SecretId"].(string)
			a.Calls = append(a.Calls, "GetSecretValue "+id)
			s, ok := a.Secrets[id]
			if !ok {
				fail(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{
				"ARN": "arn:aws:secretsmanager:eu-west-1:111122223333:secret:" + id + "-AbCdEf", "Name": id,
				"SecretString": s.String, "VersionId": s.VersionID, "VersionStages": []string{"AWSCURRENT"},
			})
		case "AmazonSSM.GetParameter":
			name, _ := req["Name"].(string)
			a.Calls = append(a.Calls, "GetParameter "+name)
			v, ok := a.Parameters[name]
			if !ok {
				fail(400, "ParameterNotFound", "")
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{"Name": name, "Value": v, "Type": "String", "Version": 1}})
		case "AmazonSSM.PutParameter":
			name, _ := req["Name"].(string)
			v, _ := req["Value"].(string)
			a.Calls = append(a.Calls, "PutParameter "+name)
			if ow, _ := req["Overwrite"].(bool); !ow && a.Parameters[name] != "" {
				fail(400, "ParameterAlreadyExists", "")
				return
			}
			a.Parameters[name] = v
			_ = json.NewEncoder(w).Encode(map[string]any{"Version": 2, "Tier": "Standard"})
		default:
			fail(400, "UnknownOperationException", target)
		}
	}))
	t.Cleanup(a.Close)
	return a
}

// Env is what points the AWS SDK (and the kaizen binary) at the fake.
func (a *AWS) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + a.URL, "AWS_REGION=eu-west-1",
		"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_SESSION_TOKEN=",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
}

// Setenv points this process's AWS SDK at the fake for the test.
func (a *AWS) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range a.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// CallsMade returns a copy of the calls so far.
func (a *AWS) CallsMade() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.Calls)
}

// Parameter returns a parameter's value.
func (a *AWS) Parameter(name string) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.Parameters[name]
	return v, ok
}
