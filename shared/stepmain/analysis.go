package stepmain

import (
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"

	cwanalysis "github.com/kaizen-sre/kaizen/shared/analysis/cloudwatch"
	"github.com/kaizen-sre/kaizen/shared/analysis/datadog"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/steps"
)

// providers are metric analysis' providers: only tick judges releases by
// their metrics, and only for the providers the configuration uses.
// Datadog's keys are read from the environment variables the
// configuration names; a missing key leaves Datadog out (its apps'
// verdicts say so) and is logged by name, never by value.
func providers(function string, cfg *config.File, awsCfg aws.Config) steps.Providers {
	if function != route.Tick {
		return nil
	}
	out := steps.Providers{}
	for i := range cfg.Apps {
		an := cfg.Apps[i].Analysis
		if an == nil {
			continue
		}
		switch an.Provider {
		case config.ProviderCloudWatch:
			if out[an.Provider] == nil {
				out[an.Provider] = &cwanalysis.Provider{API: cloudwatch.NewFromConfig(awsCfg)}
			}
		case config.ProviderDatadog:
			if out[an.Provider] != nil || an.Datadog == nil {
				continue
			}
			api, app := os.Getenv(an.Datadog.APIKeyEnv), os.Getenv(an.Datadog.AppKeyEnv)
			if api == "" || app == "" {
				slog.Warn("metric analysis: Datadog keys not set; Datadog apps are not judged", "apiKeyEnv", an.Datadog.APIKeyEnv, "appKeyEnv", an.Datadog.AppKeyEnv)
				continue
			}
			out[an.Provider] = datadog.New(an.Datadog.Site, api, app)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
