package stepmain

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/kaizen-sre/kaizen/shared/analysis"
	cwanalysis "github.com/kaizen-sre/kaizen/shared/analysis/cloudwatch"
	"github.com/kaizen-sre/kaizen/shared/analysis/datadog"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

const (
	ddSecretARN = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:kaizen/datadog-AbCdEf"
	ddAPIKey    = "dd-api-0123456789abcdef0123456789abcdef"
	ddAppKey    = "dd-app-fedcba9876543210fedcba9876543210fedcba98"
)

// datadogConfig is the example with its app judged by Datadog, the keys
// in ddSecretARN.
func datadogConfig(t *testing.T) *config.File {
	t.Helper()
	cfg, err := config.Load("../../examples/kaizen.json")
	if err != nil {
		t.Fatal(err)
	}
	a := &cfg.Apps[0]
	a.WeightSteps, a.StepMinutes = []int{10, 50, 100}, 10
	a.Analysis = &config.Analysis{Provider: config.ProviderDatadog, Datadog: &config.Datadog{SecretARN: ddSecretARN},
		Requests: &config.MetricQuery{Datadog: "sum:aws.applicationelb.request_count{targetgroup:{targetGroup}}.as_count()"},
		Metrics: []config.AnalysisMetric{{Name: "errors", Kind: "ratio",
			Query: config.MetricQuery{Datadog: "sum:aws.applicationelb.httpcode_target_5xx{targetgroup:{targetGroup}}.as_count()"}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// captureLog sends the default logger to a buffer for the test.
func captureLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

func secretReads(c *sim.Cloud) int {
	n := 0
	for _, call := range c.Calls() {
		if call.Op == string(sim.OpGetSecretValue) {
			n++
		}
	}
	return n
}

// datadogAPI answers the timeseries query when both keys are the
// secret's, and records the keys it was sent.
func datadogAPI(t *testing.T, got *[]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*got = append(*got, r.Header.Get("DD-API-KEY")+" "+r.Header.Get("DD-APPLICATION-KEY"))
		if r.URL.Path != datadog.Path || r.Header.Get("DD-API-KEY") != ddAPIKey || r.Header.Get("DD-APPLICATION-KEY") != ddAppKey {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":["Forbidden"]}`))
			return
		}
		_, _ = w.Write([]byte(`{"data":{"type":"timeseries_response","attributes":{"times":[1764550800000],"series":[{"query_index":0}],"values":[[42]]}}}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func fetchOne(ctx context.Context, p analysis.Provider) (map[string]analysis.Series, error) {
	at := time.UnixMilli(1764550800000).UTC()
	return p.Fetch(ctx, at, at.Add(time.Minute), []analysis.Query{{ID: "q0", DatadogQuery: "sum:x{*}"}})
}

// The tick reads Datadog's keys from the secret once, at start-up, uses
// them for every fetch, and logs neither.
func TestDatadogKeysFromSecret(t *testing.T) {
	logs := captureLog(t)
	cfg := datadogConfig(t)
	c := sim.New(time.Now())
	c.AddSecret(ddSecretARN, `{"apiKey":"`+ddAPIKey+`","appKey":"`+ddAppKey+`"}`)
	sm := func() datadog.SecretsAPI { return c.SecretsManager() }
	cw := func() cwanalysis.API { return c.CloudWatch() }

	if ps := providersWith(route.Guard, cfg, cw, sm); ps != nil || secretReads(c) != 0 {
		t.Fatalf("guard got providers %v and read the secret %d times: only tick judges", ps, secretReads(c))
	}
	ps := providersWith(route.Tick, cfg, cw, sm)
	p, ok := ps[config.ProviderDatadog].(*datadog.SecretProvider)
	if !ok || ps[config.ProviderCloudWatch] != nil {
		t.Fatalf("tick's providers %v, want Datadog's only", ps)
	}
	if n := secretReads(c); n != 1 {
		t.Fatalf("%d GetSecretValue calls at start-up, want 1", n)
	}
	if in, ok := c.Calls()[0].Input.(*secretsmanager.GetSecretValueInput); !ok || aws.ToString(in.SecretId) != ddSecretARN {
		t.Fatalf("GetSecretValue asked for %+v, want %s", c.Calls()[0].Input, ddSecretARN)
	}
	var sent []string
	p.Provider().BaseURL = datadogAPI(t, &sent).URL
	for range 3 {
		got, err := fetchOne(t.Context(), p)
		if err != nil || len(got["q0"]) != 1 || got["q0"][0].Value != 42 {
			t.Fatalf("fetch with the secret's keys: %v %v", got, err)
		}
	}
	if n := secretReads(c); n != 1 {
		t.Fatalf("%d GetSecretValue calls after three fetches, want the one at start-up", n)
	}
	if len(sent) != 3 || sent[0] != ddAPIKey+" "+ddAppKey {
		t.Fatalf("Datadog was sent %d requests, the first with other keys", len(sent))
	}
	for _, k := range []string{ddAPIKey, ddAppKey} {
		if strings.Contains(logs.String(), k) {
			t.Fatalf("a key is in the log: %s", logs)
		}
	}
}

// A malformed or missing secret is refused with an error that names the
// secret and what is wrong, never a value; until it is fixed Datadog's
// fetches fail with that reason (the apps' verdicts are inconclusive),
// and the next fetch after the fix reads it.
func TestDatadogMalformedSecret(t *testing.T) {
	cases := []struct {
		name, value string // "" value: no secret at all
		says        string
	}{
		{"no appKey", `{"apiKey":"` + ddAPIKey + `"}`, "has no appKey"},
		{"no apiKey", `{"appKey":"` + ddAppKey + `","apikey":"` + ddAPIKey + `"}`, "has no apiKey"},
		{"empty appKey", `{"apiKey":"` + ddAPIKey + `","appKey":""}`, "appKey must be a non-empty string"},
		{"a number", `{"apiKey":"` + ddAPIKey + `","appKey":12345678}`, "appKey must be a non-empty string"},
		{"not JSON", ddAPIKey + ":" + ddAppKey, "is not a JSON object"},
		{"a JSON string", `"` + ddAPIKey + `"`, "is not a JSON object"},
		{"no secret", "", "ResourceNotFoundException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			logs := captureLog(t)
			cfg := datadogConfig(t)
			c := sim.New(time.Now())
			if tc.value != "" {
				c.AddSecret(ddSecretARN, tc.value)
			}
			ps := providersWith(route.Tick, cfg, nil, func() datadog.SecretsAPI { return c.SecretsManager() })
			p := ps[config.ProviderDatadog].(*datadog.SecretProvider)
			if p.Provider() != nil {
				t.Fatal("a provider was made from a bad secret")
			}
			line := logs.String()
			if !strings.Contains(line, ddSecretARN) || !strings.Contains(line, tc.says) || !strings.Contains(line, `"level":"ERROR"`) {
				t.Fatalf("start-up log %q, want an error naming %s and saying %q", line, ddSecretARN, tc.says)
			}
			_, err := fetchOne(t.Context(), p)
			if err == nil || !strings.Contains(err.Error(), ddSecretARN) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("fetch: %v, want the secret's problem", err)
			}
			for _, k := range []string{ddAPIKey, ddAppKey, "12345678"} {
				if strings.Contains(line, k) || strings.Contains(err.Error(), k) {
					t.Fatalf("a secret value is in the log or the error:\n%s\n%v", line, err)
				}
			}
			// Fixed: the next fetch reads it.
			c.AddSecret(ddSecretARN, `{"apiKey":"`+ddAPIKey+`","appKey":"`+ddAppKey+`"}`)
			before := secretReads(c)
			if err := p.Load(t.Context()); err != nil || p.Provider() == nil || secretReads(c) != before+1 {
				t.Fatalf("after the fix: %v (%d reads)", err, secretReads(c)-before)
			}
		})
	}
}
