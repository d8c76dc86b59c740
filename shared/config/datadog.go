package config

import (
	"regexp"
	"strings"
)

// datadogSecretARN is a secret's complete ARN: Secrets Manager appends a
// hyphen and six characters to the name, and IAM's grant names exactly
// that ARN.
var datadogSecretARN = regexp.MustCompile(`^secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`)

// datadog checks an app's Datadog block (provider "datadog") and fills
// its defaults: the site, and the secret the keys are read from. Every
// app judged by Datadog reads the same organization: one site, one
// secret (the tick holds one Datadog client).
func (v *validator) datadog(dp string, a *App) {
	an := a.Analysis
	if an.Datadog == nil {
		an.Datadog = &Datadog{}
	}
	d := an.Datadog
	if d.Site == "" {
		d.Site = "datadoghq.com"
	}
	if !siteName.MatchString(d.Site) {
		v.add(dp+".site", "must be a Datadog site such as datadoghq.com or datadoghq.eu, got %q", d.Site)
	}
	for f, e := range map[string]string{"apiKeyEnv": d.APIKeyEnv, "appKeyEnv": d.AppKeyEnv} {
		if e != "" {
			v.add(dp+"."+f, "is no longer read: a function's environment variables are visible to anyone who may read its configuration; "+
				"put the keys in a Secrets Manager secret (a JSON object with apiKey and appKey) and name it in %s.secretArn", dp)
		}
	}
	v.ownARN(dp+".secretArn", d.SecretARN, "secretsmanager", datadogSecretARN,
		"arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf (the complete ARN, with the six characters Secrets Manager appends)")
	if d.KMSKeyARN != "" {
		v.ownARN(dp+".kmsKeyArn", d.KMSKeyARN, "kms", kmsKeyARN.resource, "arn:aws:kms:REGION:ACCOUNT:key/KEY-ID (a key, not an alias)")
	}
	for i := range v.f.Apps {
		o := &v.f.Apps[i]
		if o == a {
			break
		}
		if o.Analysis == nil || o.Analysis.Provider != ProviderDatadog || o.Analysis.Datadog == nil {
			continue
		}
		od := o.Analysis.Datadog
		if od.SecretARN != d.SecretARN || od.Site != d.Site || od.KMSKeyARN != d.KMSKeyARN {
			v.add(dp, "must name the same site, secretArn and kmsKeyArn as apps[%d] (%s): kaizen reads one Datadog organization", i, o.Name)
		}
		break
	}
}

// ownARN checks an ARN of a resource in kaizen's own account and region
// (the file's), which the functions reach with their own role.
func (v *validator) ownARN(field, value, service string, resource *regexp.Regexp, like string) {
	if value == "" {
		v.add(field, "required")
		return
	}
	if strings.ContainsAny(value, "*?") {
		v.add(field, "must name one resource, not a wildcard pattern: %q", value)
		return
	}
	p := strings.SplitN(value, ":", 6)
	if len(p) != 6 || p[0] != "arn" || !partition.MatchString(p[1]) || p[2] != service || !resource.MatchString(p[5]) {
		v.add(field, "must be an ARN like %s, got %q", like, value)
		return
	}
	if p[3] != v.f.Region || p[4] != v.f.Account {
		v.add(field, "must be in kaizen's own region %s and account %s (the tick reads it with its own role), got %q", v.f.Region, v.f.Account, value)
	}
}
