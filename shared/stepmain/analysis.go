package stepmain

import (
	"context"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	cwanalysis "github.com/kaizen-sre/kaizen/shared/analysis/cloudwatch"
	"github.com/kaizen-sre/kaizen/shared/analysis/datadog"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
	"github.com/kaizen-sre/kaizen/shared/steps"
)

// providers are metric analysis' providers: only tick judges releases by
// their metrics, and only for the providers the configuration uses.
//
// CloudWatch's is home's client here; the tick reads an app of another
// account or region through the CloudWatch client of that app's fleet
// (steps.Reconciler.providerFor), signed with the role cloud.Accounts
// assumed and cached.
//
// Datadog's keys are read from the Secrets Manager secret the
// configuration names (datadog.secretArn), once per container, here at
// start-up: a read that fails is logged (the secret's ARN and the reason,
// never a value) and tried again at the next tick, and until it succeeds
// the Datadog apps' verdicts are inconclusive and say why.
func providers(function string, cfg *config.File, awsCfg aws.Config) steps.Providers {
	return providersWith(function, cfg, func() cwanalysis.API { return cloudwatch.NewFromConfig(awsCfg) },
		func() datadog.SecretsAPI { return secretsmanager.NewFromConfig(awsCfg) })
}

// providersWith is providers over the given clients (tests pass the
// simulator's).
func providersWith(function string, cfg *config.File, cw func() cwanalysis.API, sm func() datadog.SecretsAPI) steps.Providers {
	if function != route.Tick {
		return nil
	}
	out := steps.Providers{}
	for i := range cfg.Apps {
		an := cfg.Apps[i].Analysis
		if an == nil || out[an.Provider] != nil {
			continue
		}
		switch an.Provider {
		case config.ProviderCloudWatch:
			out[an.Provider] = &cwanalysis.Provider{API: cw()}
		case config.ProviderDatadog:
			if an.Datadog == nil {
				continue
			}
			p := &datadog.SecretProvider{Site: an.Datadog.Site, SecretARN: an.Datadog.SecretARN, API: sm()}
			if err := p.Load(context.Background()); err != nil {
				slog.Error("metric analysis: Datadog keys not read; Datadog apps are judged inconclusive until they are", "secret", an.Datadog.SecretARN, "error", err.Error())
			}
			out[an.Provider] = p
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
