package envfile

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// fakeSecretsManager answers GetSecretValue like the service's JSON 1.1
// protocol does, and records what it was asked.
type fakeSecretsManager struct {
	t       *testing.T
	mu      sync.Mutex
	secrets map[string]map[string]any // SecretId -> response fields
	asked   []string
}

func (f *fakeSecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := f.t
	if r.Method != http.MethodPost {
		t.Errorf("method %s, want POST", r.Method)
	}
	if got := r.Header.Get("X-Amz-Target"); got != "secretsmanager.GetSecretValue" {
		t.Errorf("X-Amz-Target %q, want secretsmanager.GetSecretValue", got)
	}
	if got := r.Header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type %q", got)
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(auth, "/secretsmanager/aws4_request") {
		t.Errorf("Authorization %q: request not signed for secretsmanager with the static credentials", auth)
	}
	body, _ := io.ReadAll(r.Body)
	var req struct {
		SecretID     string `json:"SecretId"`
		VersionID    string `json:"VersionId"`
		VersionStage string `json:"VersionStage"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Errorf("request body %q: %v", body, err)
	}
	if req.VersionID != "" || req.VersionStage != "" {
		t.Errorf("asked for version %q stage %q, want the current version", req.VersionID, req.VersionStage)
	}
	f.mu.Lock()
	f.asked = append(f.asked, req.SecretID)
	resp, ok := f.secrets[req.SecretID]
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if !ok {
		w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]string{
			"__type":  "ResourceNotFoundException",
			"message": "Secrets Manager can't find the specified secret.",
		})
		return
	}
	json.NewEncoder(w).Encode(resp)
}

func newFakeClient(t *testing.T, secrets map[string]map[string]any) (*secretsmanager.Client, *fakeSecretsManager) {
	t.Helper()
	fake := &fakeSecretsManager{t: t, secrets: secrets}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client := secretsmanager.New(secretsmanager.Options{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDTEST", "SECRETTEST", ""),
		RetryMaxAttempts: 1,
	})
	return client, fake
}

func TestSecretsManagerGetter(t *testing.T) {
	const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/app-AbCdEf"
	secretJSON := `{"DB_PASSWORD":"p'w $(touch CANARY)","API_TOKEN":"t"}`
	client, fake := newFakeClient(t, map[string]map[string]any{
		"prod/app": {"ARN": arn, "Name": "prod/app", "SecretString": secretJSON, "VersionId": "v1"},
		"binary":   {"ARN": arn, "Name": "binary", "SecretBinary": base64.StdEncoding.EncodeToString([]byte(`{"B":"bin"}`))},
		"neither":  {"ARN": arn, "Name": "neither"},
	})
	get := SecretsManagerGetter(client)
	ctx := context.Background()

	got, err := get(ctx, "prod/app")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != secretJSON {
		t.Errorf("got %q, want %q", got, secretJSON)
	}

	got, err = get(ctx, "binary")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"B":"bin"}` {
		t.Errorf("SecretBinary: got %q", got)
	}

	_, err = get(ctx, "neither")
	if err == nil || !strings.Contains(err.Error(), `"neither"`) {
		t.Errorf("secret without value: error %v", err)
	}

	_, err = get(ctx, "prod/missing")
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("error %v, want ResourceNotFoundException", err)
	}
	if err == nil || !strings.Contains(err.Error(), `"prod/missing"`) {
		t.Errorf("error %v does not name the secret id", err)
	}

	if _, err := get(ctx, ""); err == nil {
		t.Error("empty id: no error")
	}

	if want := []string{"prod/app", "binary", "neither", "prod/missing"}; strings.Join(fake.asked, ",") != strings.Join(want, ",") {
		t.Errorf("asked for %q, want %q", fake.asked, want)
	}
}

// TestRunRenderWithSecretsManager runs the command end to end against the
// fake service.
func TestRunRenderWithSecretsManager(t *testing.T) {
	client, _ := newFakeClient(t, map[string]map[string]any{
		"prod/app": {"Name": "prod/app", "SecretString": `{"DB_PASSWORD":"p'w $(touch CANARY)","PORT":5432}`},
	})
	dir := t.TempDir()
	out := filepath.Join(dir, "secrets.sh")
	var stdout, stderr bytes.Buffer
	code := RunRender(context.Background(), []string{"--secret-id", "prod/app", "--out", out}, nil, &stdout, &stderr, SecretsManagerGetter(client))
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	checkShellRoundTrip(t, b, map[string]string{"DB_PASSWORD": "p'w $(touch CANARY)", "PORT": "5432"})

	stderr.Reset()
	code = RunRender(context.Background(), []string{"--secret-id", "prod/missing", "--out", filepath.Join(dir, "other.sh")}, nil, &stdout, &stderr, SecretsManagerGetter(client))
	if code != 1 || !strings.Contains(stderr.String(), `kaizen envfile: get secret "prod/missing"`) {
		t.Errorf("exit %d, stderr %q", code, stderr.String())
	}
	checkOnlyFile(t, dir, "secrets.sh")
}

// fakeAPI checks that the interface is all SecretsManagerGetter needs.
type fakeAPI struct {
	out *secretsmanager.GetSecretValueOutput
}

func (f fakeAPI) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return f.out, nil
}

func TestSecretsManagerGetterCopiesBinary(t *testing.T) {
	bin := []byte(`{"A":"1"}`)
	got, err := SecretsManagerGetter(fakeAPI{&secretsmanager.GetSecretValueOutput{SecretBinary: bin}})(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	got[0] = 'X'
	if bin[0] != '{' {
		t.Error("the returned slice aliases the SDK's")
	}
	if _, err := SecretsManagerGetter(fakeAPI{nil})(context.Background(), "x"); err == nil {
		t.Error("nil output: no error")
	}
	if _, err := SecretsManagerGetter(nil)(context.Background(), "x"); err == nil {
		t.Error("nil client: no error")
	}
}
