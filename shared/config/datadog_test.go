package config

import (
	"strings"
	"testing"
)

const ddSecret = "arn:aws:secretsmanager:eu-west-1:111122223333:secret:kaizen/datadog-AbCdEf"

func datadogAnalysis(d *Datadog) *Analysis {
	return &Analysis{Provider: ProviderDatadog, Datadog: d,
		Requests: &MetricQuery{Datadog: "sum:aws.applicationelb.request_count{targetgroup:{targetGroup}}.as_count()"},
		Metrics:  []AnalysisMetric{{Name: "errors", Kind: "ratio", Query: MetricQuery{Datadog: "sum:aws.applicationelb.httpcode_target_5xx{targetgroup:{targetGroup}}.as_count()"}}}}
}

func TestDatadogSecret(t *testing.T) {
	f := analysisFile(t, datadogAnalysis(&Datadog{SecretARN: ddSecret}))
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if d := f.Apps[0].Analysis.Datadog; d.Site != "datadoghq.com" || d.SecretARN != ddSecret || d.KMSKeyARN != "" {
		t.Fatalf("defaults: %+v", d)
	}
	key := "arn:aws:kms:eu-west-1:111122223333:key/0f0e0d0c-0b0a-4908-8706-050403020100"
	f = analysisFile(t, datadogAnalysis(&Datadog{Site: "datadoghq.eu", SecretARN: ddSecret, KMSKeyARN: key}))
	if err := f.Validate(); err != nil {
		t.Fatalf("a customer managed key: %v", err)
	}
}

func TestDatadogSecretBadInput(t *testing.T) {
	const p = "apps[0].analysis.datadog"
	tests := []struct {
		name  string
		d     *Datadog
		field string
		says  string
	}{
		{"no secret", nil, p + ".secretArn", "required"},
		{"no secret, empty block", &Datadog{}, p + ".secretArn", "required"},
		{"a name, not an ARN", &Datadog{SecretARN: "kaizen/datadog"}, p + ".secretArn", "must be an ARN like"},
		{"a partial ARN", &Datadog{SecretARN: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:kaizen/datadog"}, p + ".secretArn", "six characters"},
		{"a wildcard", &Datadog{SecretARN: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:kaizen/*"}, p + ".secretArn", "wildcard"},
		{"another service", &Datadog{SecretARN: "arn:aws:ssm:eu-west-1:111122223333:parameter/dd-AbCdEf"}, p + ".secretArn", "must be an ARN like"},
		{"another account", &Datadog{SecretARN: strings.Replace(ddSecret, "111122223333", "444455556666", 1)}, p + ".secretArn", "account 111122223333"},
		{"another region", &Datadog{SecretARN: strings.Replace(ddSecret, "eu-west-1", "us-east-1", 1)}, p + ".secretArn", "region eu-west-1"},
		{"an alias for a key", &Datadog{SecretARN: ddSecret, KMSKeyARN: "arn:aws:kms:eu-west-1:111122223333:alias/datadog"}, p + ".kmsKeyArn", "not an alias"},
		{"keys in the environment", &Datadog{SecretARN: ddSecret, APIKeyEnv: "DD_API_KEY"}, p + ".apiKeyEnv", "Secrets Manager"},
		{"app key in the environment", &Datadog{SecretARN: ddSecret, AppKeyEnv: "DD_APP_KEY"}, p + ".appKeyEnv", "secretArn"},
	}
	for _, tc := range tests {
		f := analysisFile(t, datadogAnalysis(tc.d))
		err := f.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field+": ") || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: error %v, want one naming %s and saying %q", tc.name, err, tc.field, tc.says)
		}
	}
}

// Every app judged by Datadog reads the same organization.
func TestDatadogOneOrganization(t *testing.T) {
	load := func(second *Datadog) error {
		f, err := Load("../../examples/kaizen-multiaccount.json")
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range []*Datadog{{SecretARN: ddSecret}, second} {
			f.Apps[i].WeightSteps, f.Apps[i].StepMinutes = []int{10, 50, 100}, 10
			f.Apps[i].Analysis = datadogAnalysis(d)
		}
		return f.Validate()
	}
	if err := load(&Datadog{SecretARN: ddSecret}); err != nil {
		t.Fatalf("two apps, one organization: %v", err)
	}
	other := strings.Replace(ddSecret, "AbCdEf", "ZyXwVu", 1)
	for name, d := range map[string]*Datadog{"another secret": {SecretARN: other}, "another site": {SecretARN: ddSecret, Site: "datadoghq.eu"}} {
		if err := load(d); err == nil || !strings.Contains(err.Error(), "apps[1].analysis.datadog: must name the same site, secretArn and kmsKeyArn as apps[0] (shop)") {
			t.Errorf("%s: %v, want an error naming apps[1].analysis.datadog", name, err)
		}
	}
}
