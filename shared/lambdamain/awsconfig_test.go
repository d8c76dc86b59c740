package lambdamain

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// lambdaEnv is what Lambda sets, plus the SDK variables the tests and the
// emulator runs use. Every other AWS_* variable is unset for the test.
func lambdaEnv(t *testing.T, extra map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restored after the test
			os.Unsetenv(k)
		}
	}
	env := map[string]string{
		"AWS_REGION":                  "eu-west-1",
		"AWS_DEFAULT_REGION":          "eu-west-1",
		"AWS_ACCESS_KEY_ID":           "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":       "secret",
		"AWS_SESSION_TOKEN":           "token",
		"AWS_EXECUTION_ENV":           "AWS_Lambda_provided.al2023",
		"AWS_LAMBDA_FUNCTION_NAME":    "kaizen-tick",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
	for k, v := range extra {
		env[k] = v
	}
	for k, v := range env {
		if v == "-" {
			continue
		}
		t.Setenv(k, v)
	}
}

// TestAWSConfigMatchesSDK checks that awsConfig gives the clients what
// config.LoadDefaultConfig gives them in Lambda's environment: region,
// credentials, retries, endpoints (global, per service, ignored),
// dual-stack and FIPS, and the defaults.
func TestAWSConfigMatchesSDK(t *testing.T) {
	cases := map[string]map[string]string{
		"lambda": nil,
		"endpoints and retries": {
			"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
			"AWS_ENDPOINT_URL_AUTO_SCALING": "http://127.0.0.1:9000",
			"AWS_MAX_ATTEMPTS":              "2", "AWS_RETRY_MODE": "adaptive",
		},
		"service endpoint only":  {"AWS_ENDPOINT_URL_SNS": "http://127.0.0.1:9911"},
		"ignored endpoints":      {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_SNS": "http://x:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE"},
		"not ignored endpoints":  {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false"},
		"dual-stack and FIPS":    {"AWS_USE_DUALSTACK_ENDPOINT": "true", "AWS_USE_FIPS_ENDPOINT": "True"},
		"no dual-stack nor FIPS": {"AWS_USE_DUALSTACK_ENDPOINT": "false", "AWS_USE_FIPS_ENDPOINT": "false"},
		"default region only":    {"AWS_REGION": "-", "AWS_DEFAULT_REGION": "us-east-2"},
		"account and app ids":    {"AWS_ACCOUNT_ID": "111122223333", "AWS_SDK_UA_APP_ID": "kaizen"},
		"legacy key names": {
			"AWS_ACCESS_KEY_ID": "-", "AWS_SECRET_ACCESS_KEY": "-", "AWS_ACCESS_KEY": "AKIDOLD", "AWS_SECRET_KEY": "old",
		},
	}
	for name, extra := range cases {
		t.Run(name, func(t *testing.T) {
			lambdaEnv(t, extra)
			ctx := context.Background()
			want, err := awsconfig.LoadDefaultConfig(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got, err := awsConfig()
			if err != nil {
				t.Fatal(err)
			}
			eq := func(what string, g, w any) {
				t.Helper()
				if g != w {
					t.Errorf("%s = %v, LoadDefaultConfig has %v", what, g, w)
				}
			}
			eq("Region", got.Region, want.Region)
			eq("RetryMaxAttempts", got.RetryMaxAttempts, want.RetryMaxAttempts)
			eq("RetryMode", got.RetryMode, want.RetryMode)
			eq("AppID", got.AppID, want.AppID)
			eq("BaseEndpoint", aws.ToString(got.BaseEndpoint), aws.ToString(want.BaseEndpoint))
			eq("DefaultsMode", got.DefaultsMode, want.DefaultsMode)
			eq("RequestMinCompressSizeBytes", got.RequestMinCompressSizeBytes, want.RequestMinCompressSizeBytes)
			eq("DisableRequestCompression", got.DisableRequestCompression, want.DisableRequestCompression)
			eq("DisableClockSkewCorrection", got.DisableClockSkewCorrection, want.DisableClockSkewCorrection)
			eq("AccountIDEndpointMode", got.AccountIDEndpointMode, want.AccountIDEndpointMode)
			eq("RequestChecksumCalculation", got.RequestChecksumCalculation, want.RequestChecksumCalculation)
			eq("ResponseChecksumValidation", got.ResponseChecksumValidation, want.ResponseChecksumValidation)
			eq("RestrictFilePermissions", got.RestrictFilePermissions, want.RestrictFilePermissions)
			eq("len(AuthSchemePreference)", len(got.AuthSchemePreference), len(want.AuthSchemePreference))

			gc, err := got.Credentials.Retrieve(ctx)
			if err != nil {
				t.Fatal(err)
			}
			wc, err := want.Credentials.Retrieve(ctx)
			if err != nil {
				t.Fatal(err)
			}
			gc.Expires, wc.Expires = wc.Expires, gc.Expires
			eq("Credentials", gc, wc)

			// What the clients make of either configuration.
			gd, wd := dynamodb.NewFromConfig(got).Options(), dynamodb.NewFromConfig(want).Options()
			eq("dynamodb BaseEndpoint", aws.ToString(gd.BaseEndpoint), aws.ToString(wd.BaseEndpoint))
			eq("dynamodb dual-stack", gd.EndpointOptions.UseDualStackEndpoint, wd.EndpointOptions.UseDualStackEndpoint)
			eq("dynamodb FIPS", gd.EndpointOptions.UseFIPSEndpoint, wd.EndpointOptions.UseFIPSEndpoint)
			eq("dynamodb retries", gd.RetryMaxAttempts, wd.RetryMaxAttempts)
			eq("dynamodb endpoint discovery", gd.EndpointDiscovery.EnableEndpointDiscovery, wd.EndpointDiscovery.EnableEndpointDiscovery)
			gs, ws := sns.NewFromConfig(got).Options(), sns.NewFromConfig(want).Options()
			eq("sns BaseEndpoint", aws.ToString(gs.BaseEndpoint), aws.ToString(ws.BaseEndpoint))
			eq("sns region", gs.Region, ws.Region)
			ga, wa := autoscaling.NewFromConfig(got).Options(), autoscaling.NewFromConfig(want).Options()
			eq("autoscaling BaseEndpoint", aws.ToString(ga.BaseEndpoint), aws.ToString(wa.BaseEndpoint))
			eq("autoscaling FIPS", ga.EndpointOptions.UseFIPSEndpoint, wa.EndpointOptions.UseFIPSEndpoint)
		})
	}
}

func TestAWSConfigRefuses(t *testing.T) {
	for name, extra := range map[string]map[string]string{
		"no region":              {"AWS_REGION": "-", "AWS_DEFAULT_REGION": "-"},
		"no credentials":         {"AWS_ACCESS_KEY_ID": "-"},
		"a bad max attempts":     {"AWS_MAX_ATTEMPTS": "two"},
		"a bad retry mode":       {"AWS_RETRY_MODE": "eager"},
		"a bad dual-stack":       {"AWS_USE_DUALSTACK_ENDPOINT": "yes"},
		"a setting it ignores":   {"AWS_DEFAULTS_MODE": "standard"},
		"a checksum setting":     {"AWS_REQUEST_CHECKSUM_CALCULATION": "when_required"},
		"a bad ignore endpoints": {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "1"},
	} {
		t.Run(name, func(t *testing.T) {
			lambdaEnv(t, extra)
			if _, err := awsConfig(); err == nil {
				t.Error("no error")
			} else {
				t.Log(err)
			}
		})
	}
}

// TestAWSConfigEndpoints pins what the comparison above relies on: the
// emulator runs point every client at the simulated AWS and DynamoDB at
// its own endpoint.
func TestAWSConfigEndpoints(t *testing.T) {
	lambdaEnv(t, map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"})
	cfg, err := awsConfig()
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(dynamodb.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:8000" {
		t.Errorf("dynamodb endpoint %q", got)
	}
	if got := aws.ToString(sns.NewFromConfig(cfg).Options().BaseEndpoint); got != "http://127.0.0.1:4566" {
		t.Errorf("sns endpoint %q", got)
	}
}
