package lambdamain

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/logging"
)

// awsConfig is the SDK configuration of a function running in Lambda, read
// from the environment Lambda sets: the region and the execution role's
// credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN), with the SDK's variables for endpoints
// (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>,
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS, AWS_USE_DUALSTACK_ENDPOINT,
// AWS_USE_FIPS_ENDPOINT) and retries (AWS_MAX_ATTEMPTS, AWS_RETRY_MODE).
// Every value is read and defaulted as config.LoadDefaultConfig reads it
// (TestAWSConfigMatchesSDK holds the two together); an SDK variable this
// does not read is refused, so nothing is silently ignored.
//
// Why not LoadDefaultConfig: package config links the STS, SSO, SSO OIDC
// and Sign-In clients, the IMDS client and the shared-file parsers for its
// credential chain, about 1.5 MiB of every bootstrap and their schema
// tables built at init, none of which a function uses: Lambda hands the
// role's credentials over in the environment.
func awsConfig() (aws.Config, error) {
	for _, k := range unsupportedEnv {
		if os.Getenv(k) != "" {
			return aws.Config{}, fmt.Errorf("%s: not supported by kaizen's functions (unset it)", k)
		}
	}
	region := firstEnv("AWS_REGION", "AWS_DEFAULT_REGION")
	if region == "" {
		return aws.Config{}, fmt.Errorf("AWS_REGION: required (Lambda sets it)")
	}
	creds := aws.Credentials{
		AccessKeyID:     firstEnv("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"),
		SecretAccessKey: firstEnv("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		AccountID:       os.Getenv("AWS_ACCOUNT_ID"),
		Source:          "EnvConfigCredentials", // as config.CredentialsSourceName
	}
	if !creds.HasKeys() {
		return aws.Config{}, fmt.Errorf("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: required (Lambda sets them from the execution role)")
	}
	var src envSource
	ignore, _, err := envBool("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	if err != nil {
		return aws.Config{}, err
	}
	src.ignoreEndpoints = ignore
	if on, set, err := envBool("AWS_USE_DUALSTACK_ENDPOINT"); err != nil {
		return aws.Config{}, err
	} else if set {
		src.dualStack = aws.DualStackEndpointStateDisabled
		if on {
			src.dualStack = aws.DualStackEndpointStateEnabled
		}
	}
	if on, set, err := envBool("AWS_USE_FIPS_ENDPOINT"); err != nil {
		return aws.Config{}, err
	} else if set {
		src.fips = aws.FIPSEndpointStateDisabled
		if on {
			src.fips = aws.FIPSEndpointStateEnabled
		}
	}
	cfg := aws.Config{
		Region: region,
		Credentials: aws.NewCredentialsCache(credentials.StaticCredentialsProvider{
			Value: creds, Source: []aws.CredentialSource{aws.CredentialSourceEnvVars},
		}),
		Logger:        logging.NewStandardLogger(os.Stderr),
		ConfigSources: []any{src},
		AppID:         os.Getenv("AWS_SDK_UA_APP_ID"),
		// LoadDefaultConfig's defaults when nothing sets them.
		DefaultsMode:                aws.DefaultsModeLegacy,
		RequestMinCompressSizeBytes: 10240,
		AccountIDEndpointMode:       aws.AccountIDEndpointModePreferred,
		RequestChecksumCalculation:  aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation:  aws.ResponseChecksumValidationWhenSupported,
		RestrictFilePermissions:     aws.RestrictFilePermissionsUserReadWrite,
	}
	if v := os.Getenv("AWS_ENDPOINT_URL"); v != "" && !src.ignoreEndpoints {
		cfg.BaseEndpoint = aws.String(v)
	}
	if v := os.Getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return aws.Config{}, fmt.Errorf("AWS_MAX_ATTEMPTS: %q is not a number", v)
		}
		cfg.RetryMaxAttempts = int(n)
	}
	if v := os.Getenv("AWS_RETRY_MODE"); v != "" {
		mode, err := aws.ParseRetryMode(v)
		if err != nil {
			return aws.Config{}, fmt.Errorf("AWS_RETRY_MODE: %w", err)
		}
		cfg.RetryMode = mode
	}
	return cfg, nil
}

// unsupportedEnv are the SDK's variables that change what a client does
// and that awsConfig does not read. Those of its credential chain and
// shared files (AWS_PROFILE, AWS_CONFIG_FILE, AWS_EC2_METADATA_DISABLED,
// ...) do not matter: the credentials come from the environment.
var unsupportedEnv = []string{
	"AWS_DEFAULTS_MODE",
	"AWS_CA_BUNDLE",
	"AWS_ENABLE_ENDPOINT_DISCOVERY",
	"AWS_ACCOUNT_ID_ENDPOINT_MODE",
	"AWS_REQUEST_CHECKSUM_CALCULATION",
	"AWS_RESPONSE_CHECKSUM_VALIDATION",
	"AWS_DISABLE_REQUEST_COMPRESSION",
	"AWS_REQUEST_MIN_COMPRESSION_SIZE_BYTES",
	"AWS_DISABLE_CLOCK_SKEW_CORRECTION",
	"AWS_AUTH_SCHEME_PREFERENCE",
}

// envSource is the environment as the clients' configuration source: they
// ask it for per-service endpoints, and whether to use dual-stack or FIPS
// endpoints (the methods are those of the SDK's internal configsources
// interfaces, which config.EnvConfig implements too).
type envSource struct {
	ignoreEndpoints bool
	dualStack       aws.DualStackEndpointState
	fips            aws.FIPSEndpointState
}

// GetIgnoreConfiguredEndpoints reports AWS_IGNORE_CONFIGURED_ENDPOINT_URLS.
func (s envSource) GetIgnoreConfiguredEndpoints(context.Context) (bool, bool, error) {
	return s.ignoreEndpoints, s.ignoreEndpoints, nil
}

// GetServiceBaseEndpoint reads AWS_ENDPOINT_URL_<SERVICE>, the service's
// SDK id in upper case with spaces as underscores
// (AWS_ENDPOINT_URL_AUTO_SCALING).
func (s envSource) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	v := os.Getenv("AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_"))
	return v, v != "", nil
}

// GetUseDualStackEndpoint reports AWS_USE_DUALSTACK_ENDPOINT.
func (s envSource) GetUseDualStackEndpoint(context.Context) (aws.DualStackEndpointState, bool, error) {
	return s.dualStack, s.dualStack != aws.DualStackEndpointStateUnset, nil
}

// GetUseFIPSEndpoint reports AWS_USE_FIPS_ENDPOINT.
func (s envSource) GetUseFIPSEndpoint(context.Context) (aws.FIPSEndpointState, bool, error) {
	return s.fips, s.fips != aws.FIPSEndpointStateUnset, nil
}

// firstEnv is the first of the variables that is set and not empty.
func firstEnv(keys ...string) string {
	for _, k := range keys {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// envBool reads a true/false variable (in any case); unset or empty is
// not set.
func envBool(k string) (value, set bool, err error) {
	switch v := os.Getenv(k); {
	case v == "":
		return false, false, nil
	case strings.EqualFold(v, "true"):
		return true, true, nil
	case strings.EqualFold(v, "false"):
		return false, true, nil
	default:
		return false, false, fmt.Errorf("%s: %q is neither true nor false", k, v)
	}
}
