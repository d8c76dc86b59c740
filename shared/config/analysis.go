package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Analysis configures metric analysis of a release: the new color's
// metrics compared with the old color's, per target group, on the preview,
// at each weighted step and through the bake.
type Analysis struct {
	// Provider is "cloudwatch" (the default) or "datadog".
	Provider string `json:"provider,omitempty"`
	// Datadog is where the Datadog provider asks (provider "datadog").
	Datadog *Datadog `json:"datadog,omitempty"`
	// Requests is each color's request count per minute: the sample size
	// every metric's minSample is checked against. By default the ALB's
	// RequestCount of the color's target group.
	Requests *MetricQuery `json:"requests,omitempty"`
	// Metrics are judged besides the defaults (the ALB's per target group
	// error ratio, TargetResponseTime p50 and p99, UnHealthyHostCount);
	// one named like a default replaces it. With provider "datadog" there
	// are no defaults: every metric names its query.
	Metrics []AnalysisMetric `json:"metrics,omitempty"`
	// NoDefaults drops the default metrics.
	NoDefaults bool `json:"noDefaults,omitempty"`
	// Alpha is the significance a difference must reach to fail a metric
	// (default 1e-5: a release is judged every minute of every step, and
	// across those many looks a looser level rolls back healthy AMIs on noise:
	// TestAnalysisFalsePositiveAndNegativeRates measures it).
	Alpha float64 `json:"alpha,omitempty"`
	// InconclusiveMinutes is how long an inconclusive verdict holds a
	// weighted step or the end of the bake (default 10); then
	// OnInconclusive decides: "pass" (the default: go on) or "fail" (roll
	// back).
	InconclusiveMinutes int    `json:"inconclusiveMinutes,omitempty"`
	OnInconclusive      string `json:"onInconclusive,omitempty"`
	// WindowMinutes bounds the bake's interval: the last WindowMinutes of
	// the bake against the old color's same length before the cutover
	// (default 30).
	WindowMinutes int `json:"windowMinutes,omitempty"`
}

// Datadog is the Datadog site and the Secrets Manager secret its keys are
// read from (never the keys: the configuration is not a secret, and an
// environment variable of a Lambda function is shown to anyone who may
// read the function's configuration).
type Datadog struct {
	// Site is the API host's domain, "datadoghq.com" by default
	// ("datadoghq.eu", "us3.datadoghq.com" ...).
	Site string `json:"site,omitempty"`
	// SecretARN is the complete ARN of the secret holding the keys, in
	// kaizen's account and region: a JSON object
	// {"apiKey": "...", "appKey": "..."}. The tick reads it once per
	// container (secretsmanager:GetSecretValue on exactly this ARN).
	SecretARN string `json:"secretArn,omitempty"`
	// KMSKeyARN is the customer managed key the secret is encrypted
	// with, if it is not Secrets Manager's own (aws/secretsmanager): the
	// tick is then allowed kms:Decrypt on it, through Secrets Manager only.
	KMSKeyARN string `json:"kmsKeyArn,omitempty"`
	// APIKeyEnv and AppKeyEnv are refused: they named environment
	// variables holding the keys. Kept so that a configuration still
	// using them gets an error saying what replaced them.
	APIKeyEnv string `json:"apiKeyEnv,omitempty"`
	AppKeyEnv string `json:"appKeyEnv,omitempty"`
}

// AnalysisMetric is one metric and how it is judged.
type AnalysisMetric struct {
	Name string `json:"name"`
	// Kind is "ratio" (query over requests, summed over the interval),
	// "distribution" (per-minute values such as a latency percentile,
	// Mann-Whitney U) or "gauge" (a level, compared by its mean).
	Kind string `json:"kind"`
	// Direction is "lower" (lower is better, the default) or "higher".
	Direction string `json:"direction,omitempty"`
	// Tolerance is how much worse the new color may be: relative for ratio
	// and distribution (0.5 = half as bad again), absolute for a gauge.
	Tolerance *float64 `json:"tolerance,omitempty"`
	// MinSample is the requests each color must have served in the
	// interval; below it the metric is inconclusive (default 300).
	MinSample *float64 `json:"minSample,omitempty"`
	// Limit is the absolute bound on the preview, where only office
	// traffic reaches the new color (0: the metric is not judged there).
	Limit float64 `json:"limit,omitempty"`
	// Alpha is this metric's significance (default: the analysis' alpha,
	// but 0.001 for a distribution: a Mann-Whitney test of ten per-minute
	// points a color cannot reach 1e-5, and its tolerance on the medians
	// is what keeps noise out).
	Alpha *float64 `json:"alpha,omitempty"`
	// Phases lists where the metric applies: "preview", "shift", "bake"
	// (default: shift and bake, and preview when it has a limit).
	Phases []string `json:"phases,omitempty"`
	// Query is the metric (a ratio's numerator); for a ratio, Requests is
	// the denominator (default: the analysis' requests).
	Query    MetricQuery  `json:"query"`
	Requests *MetricQuery `json:"requests,omitempty"`
}

// MetricQuery names one per-minute series of one color. Placeholders in
// any of its strings: {color} (blue, green), {targetGroup} (the
// CloudWatch dimension value, targetgroup/NAME/ID), {targetGroupArn},
// {loadBalancer} (app/NAME/ID) and {app}.
type MetricQuery struct {
	// A CloudWatch metric ...
	Namespace  string            `json:"namespace,omitempty"`
	MetricName string            `json:"metricName,omitempty"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
	Stat       string            `json:"stat,omitempty"`
	// ... or a CloudWatch metric-math expression (self-contained, such as
	// a SEARCH) ...
	Expression string `json:"expression,omitempty"`
	// ... or a Datadog metrics query.
	Datadog string `json:"datadog,omitempty"`
}

// The analysis phases and providers.
const (
	PhasePreview = "preview"
	PhaseShift   = "shift"
	PhaseBake    = "bake"

	ProviderCloudWatch = "cloudwatch"
	ProviderDatadog    = "datadog"
)

func f64(x float64) *float64 { return &x }

// albDims are the dimensions the ALB publishes per target group metrics
// under (TargetGroup with LoadBalancer).
func albDims() map[string]string {
	return map[string]string{"TargetGroup": "{targetGroup}", "LoadBalancer": "{loadBalancer}"}
}

func alb(name, stat string) MetricQuery {
	return MetricQuery{Namespace: "AWS/ApplicationELB", MetricName: name, Dimensions: albDims(), Stat: stat}
}

// DefaultRequests is the ALB's RequestCount of a color's target group.
func DefaultRequests() MetricQuery { return alb("RequestCount", "Sum") }

// DefaultAnalysisMetrics are the ALB's per target group metrics: the
// target 5xx ratio, TargetResponseTime p50 and p99, UnHealthyHostCount.
func DefaultAnalysisMetrics() []AnalysisMetric {
	return []AnalysisMetric{
		{Name: "error-ratio", Kind: "ratio", Tolerance: f64(0.5), Limit: 0.05, Query: alb("HTTPCode_Target_5XX_Count", "Sum")},
		{Name: "latency-p50", Kind: "distribution", Tolerance: f64(0.2), Limit: 1, Query: alb("TargetResponseTime", "p50")},
		{Name: "latency-p99", Kind: "distribution", Tolerance: f64(0.3), Limit: 3, Query: alb("TargetResponseTime", "p99")},
		{Name: "unhealthy-hosts", Kind: "gauge", Tolerance: f64(0.5), Query: alb("UnHealthyHostCount", "Average")},
	}
}

// Effective is the metrics judged: the defaults (unless NoDefaults, and
// never for Datadog) with the configured ones replacing or adding.
func (an *Analysis) Effective() []AnalysisMetric {
	var out []AnalysisMetric
	if !an.NoDefaults && an.Provider != ProviderDatadog {
		out = DefaultAnalysisMetrics()
	}
	for _, m := range an.Metrics {
		replaced := false
		for i := range out {
			if out[i].Name == m.Name {
				out[i], replaced = m, true
			}
		}
		if !replaced {
			out = append(out, m)
		}
	}
	for i := range out {
		m := &out[i]
		if m.Direction == "" {
			m.Direction = "lower"
		}
		if m.Tolerance == nil {
			m.Tolerance = f64(0.5)
		}
		if m.MinSample == nil {
			m.MinSample = f64(300)
		}
		if m.Alpha == nil && m.Kind == "distribution" {
			m.Alpha = f64(max(an.Alpha, 0.001))
		}
		if len(m.Phases) == 0 {
			m.Phases = []string{PhaseShift, PhaseBake}
			if m.Limit > 0 {
				m.Phases = append([]string{PhasePreview}, m.Phases...)
			}
		}
	}
	return out
}

// RequestsQuery is the sample-size series' query.
func (an *Analysis) RequestsQuery() MetricQuery {
	if an.Requests != nil {
		return *an.Requests
	}
	return DefaultRequests()
}

// Applies reports whether m is judged in phase.
func (m AnalysisMetric) Applies(phase string) bool {
	for _, p := range m.Phases {
		if p == phase {
			return true
		}
	}
	return false
}

var (
	metricName  = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	placeholder = regexp.MustCompile(`\{[^{}]*\}`)
	// In an expression, braces also open a SEARCH schema ({AWS/EC2,InstanceId}):
	// only a lower-case identifier in braces is taken for a placeholder.
	exprHolder     = regexp.MustCompile(`\{[a-z][a-zA-Z]*\}`)
	knownHolders   = map[string]bool{"{color}": true, "{targetGroup}": true, "{targetGroupArn}": true, "{loadBalancer}": true, "{app}": true}
	analysisPhases = map[string]bool{PhasePreview: true, PhaseShift: true, PhaseBake: true}
	kinds          = map[string]bool{"ratio": true, "distribution": true, "gauge": true}
	siteName       = regexp.MustCompile(`^([a-z0-9-]+\.)*datadoghq\.(com|eu)$|^([a-z0-9-]+\.)*ddog-gov\.com$`)
)

// analysis checks an app's analysis block and fills its defaults.
func (v *validator) analysis(p string, a *App) {
	an := a.Analysis
	if an == nil {
		return
	}
	ap := p + ".analysis"
	if an.Provider == "" {
		an.Provider = ProviderCloudWatch
	}
	switch an.Provider {
	case ProviderCloudWatch:
		if an.Datadog != nil {
			v.add(ap+".datadog", "only for provider %q (the provider is %q)", ProviderDatadog, an.Provider)
		}
	case ProviderDatadog:
		if an.Datadog == nil {
			an.Datadog = &Datadog{}
		}
		v.datadog(ap+".datadog", a)
		if an.Requests == nil {
			v.add(ap+".requests", "required with provider %q: the Datadog query of each color's request count", ProviderDatadog)
		}
	default:
		v.add(ap+".provider", "must be %q or %q, got %q", ProviderCloudWatch, ProviderDatadog, an.Provider)
		return
	}
	if len(a.WeightSteps) == 0 {
		v.add(ap, "needs weightSteps: analysis compares the colors under the same traffic at each weighted step")
	}
	if an.Alpha == 0 {
		an.Alpha = 1e-5
	}
	if an.Alpha <= 0 || an.Alpha >= 0.5 {
		v.add(ap+".alpha", "must be between 0 and 0.5, got %g", an.Alpha)
	}
	if an.InconclusiveMinutes == 0 {
		an.InconclusiveMinutes = 10
	}
	v.nonNegative(ap+".inconclusiveMinutes", an.InconclusiveMinutes)
	if an.WindowMinutes == 0 {
		an.WindowMinutes = 30
	}
	if an.WindowMinutes < 5 || an.WindowMinutes > 180 {
		v.add(ap+".windowMinutes", "must be between 5 and 180 (GetMetricData's one-minute points of one call), got %d", an.WindowMinutes)
	}
	switch an.OnInconclusive {
	case "":
		an.OnInconclusive = "pass"
	case "pass", "fail":
	default:
		v.add(ap+".onInconclusive", `must be "pass" or "fail", got %q`, an.OnInconclusive)
	}
	if an.Requests != nil {
		v.metricQuery(ap+".requests", an.Provider, *an.Requests)
	}
	seen := map[string]bool{}
	for i, m := range an.Metrics {
		mp := fmt.Sprintf("%s.metrics[%d]", ap, i)
		if !metricName.MatchString(m.Name) {
			v.add(mp+".name", "must be lower-case letters, digits and dashes, starting with a letter, got %q", m.Name)
		} else if seen[m.Name] {
			v.add(mp+".name", "%q is named twice", m.Name)
		}
		seen[m.Name] = true
		if !kinds[m.Kind] {
			v.add(mp+".kind", `must be "ratio", "distribution" or "gauge", got %q`, m.Kind)
		}
		if m.Direction != "" && m.Direction != "lower" && m.Direction != "higher" {
			v.add(mp+".direction", `must be "lower" or "higher", got %q`, m.Direction)
		}
		if m.Tolerance != nil && (*m.Tolerance < 0 || m.Kind != "gauge" && *m.Tolerance > 10) {
			v.add(mp+".tolerance", "must be between 0 and 10 (relative: 0.5 is half as bad again), got %g", *m.Tolerance)
		}
		if m.Alpha != nil && (*m.Alpha <= 0 || *m.Alpha >= 0.5) {
			v.add(mp+".alpha", "must be between 0 and 0.5, got %g", *m.Alpha)
		}
		if m.MinSample != nil && *m.MinSample < 0 {
			v.add(mp+".minSample", "must not be negative, got %g", *m.MinSample)
		}
		if m.Limit < 0 {
			v.add(mp+".limit", "must not be negative, got %g", m.Limit)
		}
		for j, ph := range m.Phases {
			if !analysisPhases[ph] {
				v.add(fmt.Sprintf("%s.phases[%d]", mp, j), `must be "preview", "shift" or "bake", got %q`, ph)
			}
			if ph == PhasePreview && m.Limit == 0 {
				v.add(fmt.Sprintf("%s.phases[%d]", mp, j), "the preview has no old color to compare with: a metric judged there needs a limit")
			}
		}
		v.metricQuery(mp+".query", an.Provider, m.Query)
		if m.Requests != nil {
			if m.Kind != "ratio" {
				v.add(mp+".requests", "only a ratio has a denominator")
			}
			v.metricQuery(mp+".requests", an.Provider, *m.Requests)
		}
	}
	if len(an.Effective()) == 0 {
		v.add(ap+".metrics", "no metric to judge (noDefaults is set, or the provider is datadog, and no metric is listed)")
	}
}

func (v *validator) metricQuery(field, provider string, q MetricQuery) {
	var texts []string
	switch provider {
	case ProviderDatadog:
		if q.Datadog == "" {
			v.add(field+".datadog", "required with provider %q", ProviderDatadog)
		}
		if q.Namespace != "" || q.MetricName != "" || q.Expression != "" || len(q.Dimensions) > 0 {
			v.add(field, "a CloudWatch metric or expression, but the provider is %q", provider)
		}
		texts = append(texts, q.Datadog)
	default:
		metric := q.Namespace != "" || q.MetricName != ""
		switch {
		case q.Datadog != "":
			v.add(field+".datadog", "only for provider %q (the provider is %q)", ProviderDatadog, provider)
		case metric && q.Expression != "":
			v.add(field, "names both a metric and an expression: one or the other")
		case q.Expression != "":
			if len(q.Expression) > 2048 {
				v.add(field+".expression", "at most 2048 characters (GetMetricData's limit), got %d", len(q.Expression))
			}
		case q.Namespace == "" || q.MetricName == "":
			v.add(field, "needs namespace and metricName, or an expression")
		}
		texts = append(texts, q.Namespace, q.MetricName, q.Stat)
		for k, val := range q.Dimensions {
			texts = append(texts, k, val)
		}
	}
	holders := exprHolder.FindAllString(q.Expression, -1)
	for _, t := range texts {
		holders = append(holders, placeholder.FindAllString(t, -1)...)
	}
	for _, h := range holders {
		if !knownHolders[h] {
			v.add(field, "unknown placeholder %s (known: {color}, {targetGroup}, {targetGroupArn}, {loadBalancer}, {app})", h)
		}
	}
}

// Expand fills a query's placeholders for one color of the app.
func (q MetricQuery) Expand(a *App, c Color) MetricQuery {
	tg := a.Color(c).TargetGroupARN
	r := strings.NewReplacer("{color}", string(c), "{targetGroup}", ResourceLabel(tg, "targetgroup/"),
		"{targetGroupArn}", tg, "{loadBalancer}", loadBalancerLabel(a.ListenerARN), "{app}", a.Name)
	out := MetricQuery{Namespace: r.Replace(q.Namespace), MetricName: r.Replace(q.MetricName), Stat: r.Replace(q.Stat),
		Expression: r.Replace(q.Expression), Datadog: r.Replace(q.Datadog)}
	if len(q.Dimensions) > 0 {
		out.Dimensions = map[string]string{}
		for k, val := range q.Dimensions {
			out.Dimensions[r.Replace(k)] = r.Replace(val)
		}
	}
	return out
}

// ResourceLabel is the part of an ARN from prefix on
// (arn:...:targetgroup/NAME/ID → targetgroup/NAME/ID), as CloudWatch's
// TargetGroup dimension names it.
func ResourceLabel(arn, prefix string) string {
	if i := strings.Index(arn, ":"+prefix); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// loadBalancerLabel is the LoadBalancer dimension (app/NAME/ID) of a
// listener ARN (arn:...:listener/app/NAME/ID/LISTENER).
func loadBalancerLabel(listener string) string {
	l := ResourceLabel(listener, "listener/")
	parts := strings.Split(strings.TrimPrefix(l, "listener/"), "/")
	if len(parts) < 3 {
		return ""
	}
	return strings.Join(parts[:3], "/")
}
