package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

var (
	appName    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	accountID  = regexp.MustCompile(`^[0-9]{12}$`)
	regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	ltID       = regexp.MustCompile(`^lt-[0-9a-f]{8,17}$`)
	asgName    = regexp.MustCompile(`^[^:*?]{1,255}$`)
	hhmm       = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	partition  = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	severities = map[string]bool{"critical": true, "important": true, "medium": true, "low": true}
	alVersions = map[string]bool{"1": true, "2": true, "2023": true}
	errBadZone = errors.New("not an IANA time zone")
)

// arnKind is what one ARN field must name: the service and the resource type.
type arnKind struct {
	service  string
	resource *regexp.Regexp
	like     string // the ARN as people read it, for the message
	regional bool   // region and account must be the configured ones
}

var (
	targetGroupARN = arnKind{"elasticloadbalancing", regexp.MustCompile(`^targetgroup/[^/]+/[^/]+$`),
		"arn:aws:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID", true}
	listenerARN = arnKind{"elasticloadbalancing", regexp.MustCompile(`^listener/(app|net)/[^/]+/[^/]+/[^/]+$`),
		"arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener/app/LB/ID/ID (or listener/net/...)", true}
	ruleARN = arnKind{"elasticloadbalancing", regexp.MustCompile(`^listener-rule/app/[^/]+/[^/]+/[^/]+/[^/]+$`),
		"arn:aws:elasticloadbalancing:REGION:ACCOUNT:listener-rule/app/LB/ID/ID/ID", true}
	topicARN = arnKind{"sns", regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}(\.fifo)?$`),
		"arn:aws:sns:REGION:ACCOUNT:TOPIC (a topic, not a subscription)", true}
	roleARN = arnKind{"iam", regexp.MustCompile(`^role/([^/]+/)*[^/]+$`),
		"arn:aws:iam::ACCOUNT:role/NAME (a role, not an instance profile)", false}
	secretARN = arnKind{"secretsmanager", regexp.MustCompile(`^secret:[^:]+$`),
		"arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME (or the secret's name)", false}
)

// FieldError names the configuration field that is wrong.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks the whole file and returns every problem, each naming its
// field (for example `apps[0].blue.asg: required`). It also parses each
// change window's time zone once, for ChangeWindow.Location and Open.
// Presence checks (a missing bakeMinutes) need the JSON document: only
// Parse makes them.
func (f *File) Validate() error { return errors.Join(f.validate()...) }

func (f *File) validate() []error {
	v := &validator{f: f, claims: map[string]map[string]string{}}
	v.file()
	return v.errs
}

type validator struct {
	f      *File
	errs   []error
	claims map[string]map[string]string // resource kind -> value -> the field that has it
	tags   []tagClaim
	// cur is the app being checked: its ARNs must name its account and
	// region, and its names are claimed within them (accounts.go).
	cur *App
}

type tagClaim struct {
	tag   string
	app   *App
	field string
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
}

// missing reports whether the JSON document lacks the key (never for a
// File not made by Parse: the zero value may be deliberate there).
func (v *validator) missing(field string) bool {
	return v.f.present != nil && !v.f.present[field]
}

// claim records that field uses a resource no other field may use: two apps
// (or two colors) on one resource would fight over it.
func (v *validator) claim(kind, value, field string) {
	if value == "" {
		return
	}
	kind = v.claimScope(kind)
	m := v.claims[kind]
	if m == nil {
		m = map[string]string{}
		v.claims[kind] = m
	}
	if prev, ok := m[value]; ok {
		v.add(field, "%q is already %s", value, prev)
		return
	}
	m[value] = field
}

func (v *validator) arn(field, value string, kind arnKind, required bool) {
	if value == "" {
		if required {
			v.add(field, "required")
		}
		return
	}
	if strings.ContainsAny(value, "*?") {
		v.add(field, "must name one resource, not a wildcard pattern: %q", value)
		return
	}
	p := strings.SplitN(value, ":", 6)
	if len(p) != 6 || p[0] != "arn" || !partition.MatchString(p[1]) || p[2] != kind.service || !kind.resource.MatchString(p[5]) {
		v.add(field, "must be an ARN like %s, got %q", kind.like, value)
		return
	}
	account, region, why := v.place()
	switch {
	case (kind.regional || v.strict(kind)) && (p[3] != region || p[4] != account):
		v.add(field, "ARN must be in region %s and account %s%s, got %q", region, account, why, value)
	case kind.service == "iam" && (p[3] != "" || p[4] != account):
		v.add(field, "must be an IAM ARN of account %s%s (IAM ARNs have no region), got %q", account, why, value)
	}
}

func (v *validator) nonNegative(field string, n int) {
	if n < 0 {
		v.add(field, "must not be negative, got %d", n)
	}
}

func (v *validator) file() {
	f := v.f
	if !accountID.MatchString(f.Account) {
		v.add("account", "must be a 12-digit AWS account id, got %q", f.Account)
	}
	if !regionName.MatchString(f.Region) {
		v.add("region", "must be an AWS region such as eu-west-1, got %q", f.Region)
	}
	if len(f.Apps) == 0 {
		v.add("apps", "at least one app is required")
	}
	for i := range f.Apps {
		v.app(fmt.Sprintf("apps[%d]", i), &f.Apps[i])
	}
}

func (v *validator) app(p string, a *App) {
	v.cur = a
	defer func() { v.cur = nil }()
	v.accounts(p, a)
	switch {
	case a.Name == "":
		v.add(p+".name", "required")
	case !appName.MatchString(a.Name):
		v.add(p+".name", "must be lower-case letters, digits and dashes (at most 63), got %q", a.Name)
	default:
		v.claim("app name", a.Name, p+".name")
	}
	for _, c := range Colors {
		cc := a.Color(c)
		cp := p + "." + string(c)
		if cc.ASG == "" {
			v.add(cp+".asg", "required")
		} else if !asgName.MatchString(cc.ASG) {
			v.add(cp+".asg", "not a valid Auto Scaling group name: %q", cc.ASG)
		} else {
			v.claim("asg", cc.ASG, cp+".asg")
		}
		v.arn(cp+".targetGroupArn", cc.TargetGroupARN, targetGroupARN, true)
		v.claim("target group", cc.TargetGroupARN, cp+".targetGroupArn")
		if !ltID.MatchString(cc.LaunchTemplateID) {
			v.add(cp+".launchTemplateId", "must be a launch template id (lt-...), got %q", cc.LaunchTemplateID)
		} else {
			v.claim("launch template", cc.LaunchTemplateID, cp+".launchTemplateId")
		}
	}
	// kaizen sets the listener's default action: one listener, one app.
	v.arn(p+".listenerArn", a.ListenerARN, listenerARN, true)
	v.claim("listener", a.ListenerARN, p+".listenerArn")
	v.preview(p, a)
	v.image(p, a)

	for _, n := range []struct {
		field string
		value int
	}{{"floor", a.Floor}, {"previewSize", a.PreviewSize}} {
		switch {
		case v.missing(p + "." + n.field):
			v.add(p+"."+n.field, "required (at least 1)")
		case n.value < 1:
			v.add(p+"."+n.field, "must be at least 1, got %d: the %s may never be zero instances", n.value, map[string]string{"floor": "live color", "previewSize": "preview"}[n.field])
		}
	}
	if v.missing(p + ".bakeMinutes") {
		v.add(p+".bakeMinutes", "required: minutes the previous color stays up after cutover so a rollback is one listener call (0 retires it at cutover)")
	}
	v.nonNegative(p+".bakeMinutes", a.BakeMinutes)
	if a.CutoverHealthyPercent < 1 || a.CutoverHealthyPercent > 100 {
		v.add(p+".cutoverHealthyPercent", "must be between 1 and 100, got %d", a.CutoverHealthyPercent)
	}
	if a.CutoverTimeoutMinutes < 1 {
		v.add(p+".cutoverTimeoutMinutes", "must be at least 1, got %d", a.CutoverTimeoutMinutes)
	}
	prev := 0
	for j, w := range a.WeightSteps {
		if w <= prev || w > 100 {
			v.add(fmt.Sprintf("%s.weightSteps[%d]", p, j), "steps must rise strictly, between 1 and 100, got %d", w)
		}
		prev = w
	}
	if len(a.WeightSteps) > 0 && prev != 100 {
		v.add(p+".weightSteps", "the last step must be 100, got %d", prev)
	}
	v.nonNegative(p+".stepMinutes", a.StepMinutes)
	v.nonNegative(p+".retireHoldMinutes", a.RetireHoldMinutes)
	v.nonNegative(p+".minImageAgeDays", a.MinImageAgeDays)
	for _, n := range []struct {
		field string
		value int
	}{{"windowWaitHours", a.WindowWaitHours}, {"alarmSkewSeconds", a.AlarmSkewSeconds}, {"noProgressTicks", a.NoProgressTicks}} {
		if n.value < 1 {
			v.add(p+"."+n.field, "must be at least 1 (0 takes the default), got %d", n.value)
		}
	}

	ap := a.Approval
	for _, s := range []struct{ field, value string }{{"pipeline", ap.Pipeline}, {"stage", ap.Stage}, {"action", ap.Action}} {
		if s.value == "" {
			v.add(p+".approval."+s.field, "required")
		}
	}
	if ap.Pipeline != "" && ap.Stage != "" && ap.Action != "" {
		// One approval promotes one app.
		v.claim("approval", ap.Pipeline+"/"+ap.Stage+"/"+ap.Action, p+".approval")
	}
	if (a.Rebuild.CodeBuildProject == "") == (a.Rebuild.Pipeline == "") {
		v.add(p+".rebuild", "set exactly one of codeBuildProject and pipeline")
	}
	for j, al := range a.Alarms {
		alp := fmt.Sprintf("%s.alarms[%d]", p, j)
		if al.Name == "" {
			v.add(alp+".name", "required")
		} else {
			v.claim("alarm", al.Name, alp+".name")
		}
		if al.Role != RoleGuard && al.Role != RoleCapacity {
			v.add(alp+".role", "must be %q or %q, got %q", RoleGuard, RoleCapacity, al.Role)
		}
		v.nonNegative(alp+".step", al.Step)
		v.nonNegative(alp+".cooldownMinutes", al.CooldownMinutes)
	}
	if !alVersions[a.ALAS.AmazonLinux] && len(a.ALAS.Feeds) == 0 {
		v.add(p+".alas.amazonLinux", `must be "1", "2" or "2023" (or list alas.feeds), got %q`, a.ALAS.AmazonLinux)
	}
	for j, u := range a.ALAS.Feeds {
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			v.add(fmt.Sprintf("%s.alas.feeds[%d]", p, j), "must be an http(s) URL, got %q", u)
		}
	}
	if !severities[a.ALAS.MinSeverity] {
		v.add(p+".alas.minSeverity", "must be critical, important, medium or low, got %q", a.ALAS.MinSeverity)
	}
	v.nonNegative(p+".alas.digestHours", a.ALAS.DigestHours)
	v.staging(p, a)
	v.arn(p+".topicArn", a.TopicARN, topicARN, true)
	v.arn(p+".instanceRoleArn", a.InstanceRoleARN, roleARN, false)
	switch {
	case strings.HasPrefix(a.Secret, "arn:"):
		v.arn(p+".secret", a.Secret, secretARN, false)
	case strings.ContainsAny(a.Secret, "*?"):
		v.add(p+".secret", "must name one secret, not a wildcard pattern: %q", a.Secret)
	}
	if w := a.ChangeWindow; w != nil {
		v.window(p+".changeWindow", w)
	}
	if a.ScalingPolicies != ScalingCopy && a.ScalingPolicies != ScalingVerify {
		v.add(p+".scalingPolicies", "must be %q or %q, got %q", ScalingCopy, ScalingVerify, a.ScalingPolicies)
	}
	v.dbRefresh(p, a)
	v.analysis(p, a) // analysis.go
}

func (v *validator) preview(p string, a *App) {
	v.arn(p+".preview.ruleArn", a.Preview.RuleARN, ruleARN, true)
	v.claim("preview rule", a.Preview.RuleARN, p+".preview.ruleArn")
	if len(a.Preview.OfficeCIDRs) == 0 {
		v.add(p+".preview.officeCidrs", "at least one office CIDR is required")
	}
	for j, c := range a.Preview.OfficeCIDRs {
		field := fmt.Sprintf("%s.preview.officeCidrs[%d]", p, j)
		pfx, err := netip.ParsePrefix(c)
		if err != nil {
			v.add(field, "not a CIDR: %q", c)
			continue
		}
		if m := pfx.Masked(); m != pfx {
			v.add(field, "%q has host bits set: the network is %s", c, m)
			continue
		}
		bits, least, wide := wideness(pfx)
		switch {
		case bits == 0:
			v.add(field, "%q matches every address: the preview rule would send the public to the idle color", c)
		case wide && !a.AllowWidePreview:
			v.add(field, "%q is wider than /%d: set allowWidePreview to preview from that many addresses", c, least)
		}
	}
	if h := a.Preview.Header; h != nil && (h.Name == "" || h.Value == "") {
		v.add(p+".preview.header", "name and value are both required")
	}
}

// wideness returns the prefix length (in IPv4 terms for an IPv4 or
// IPv4-mapped prefix), the narrowest length allowed without
// allowWidePreview, and whether the prefix is wider than that.
func wideness(pfx netip.Prefix) (bits, least int, wide bool) {
	bits = pfx.Bits()
	switch {
	case pfx.Addr().Is4():
		least = 16
	case pfx.Addr().Is4In6() && bits >= 96:
		bits, least = bits-96, 16
	default:
		least = 48
	}
	return bits, least, bits < least
}

func (v *validator) image(p string, a *App) {
	if a.ImageTag.Key == "" {
		v.add(p+".imageTag.key", "required")
	}
	for j, o := range a.ImageOwners {
		if !accountID.MatchString(o) {
			v.add(fmt.Sprintf("%s.imageOwners[%d]", p, j), "must be a 12-digit AWS account id, got %q", o)
		}
	}
	// An app and its staging app stage the same AMIs; any other two apps
	// on one image tag would both take every image.
	tag := a.ImageTag.Key + "=" + a.ImageTag.Value
	for _, c := range v.tags {
		if c.tag == tag && samePlace(a, c.app) && !related(a, c.app) {
			v.add(p+".imageTag", "%q is already %s (only an app and its staging app may share an image tag)", tag, c.field)
			return
		}
	}
	v.tags = append(v.tags, tagClaim{tag: tag, app: a, field: p + ".imageTag"})
}

func related(a, b *App) bool {
	return a.StagingApp == b.Name || b.StagingApp == a.Name || (a.StagingApp != "" && a.StagingApp == b.StagingApp)
}

func (v *validator) staging(p string, a *App) {
	v.nonNegative(p+".stagingSoakMinutes", a.StagingSoakMinutes)
	if a.PreviewURL != "" {
		if u, err := url.Parse(a.PreviewURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			v.add(p+".previewUrl", "must be an http(s) URL without credentials, got %q", a.PreviewURL)
		}
	}
	if a.StagingApp == "" {
		if a.StagingSoakMinutes > 0 {
			v.add(p+".stagingSoakMinutes", "needs stagingApp: the soak is time live and healthy on the staging app")
		}
		return
	}
	if a.StagingApp == a.Name {
		v.add(p+".stagingApp", "an app cannot be its own staging")
		return
	}
	s, ok := v.f.App(a.StagingApp)
	if !ok {
		v.add(p+".stagingApp", "no app named %q in this file", a.StagingApp)
		return
	}
	chain := []string{a.Name, s.Name}
	for range v.f.Apps {
		if s.StagingApp == "" {
			return
		}
		if s.StagingApp == a.Name {
			v.add(p+".stagingApp", "staging apps form a loop: %s -> %s", strings.Join(chain, " -> "), a.Name)
			return
		}
		next, ok := v.f.App(s.StagingApp)
		if !ok {
			return // reported at that app
		}
		s = next
		chain = append(chain, s.Name)
	}
}

func (v *validator) window(wp string, w *ChangeWindow) {
	w.loc = nil
	if len(w.Days) == 0 {
		v.add(wp+".days", "at least one day is required")
	}
	seen := map[string]bool{}
	for j, d := range w.Days {
		l := strings.ToLower(d)
		if _, ok := weekdays[l]; !ok {
			v.add(fmt.Sprintf("%s.days[%d]", wp, j), "must be mon..sun, got %q", d)
		} else if seen[l] {
			v.add(fmt.Sprintf("%s.days[%d]", wp, j), "%q is listed twice", d)
		}
		seen[l] = true
	}
	from, okFrom := minutes(w.From)
	to, okTo := minutes(w.To)
	if !okFrom {
		v.add(wp+".from", "must be HH:MM (00:00 to 23:59), got %q", w.From)
	}
	if !okTo {
		v.add(wp+".to", "must be HH:MM (00:00 to 23:59), got %q", w.To)
	}
	if okFrom && okTo && from == to {
		v.add(wp+".to", "must differ from from (%s): a window of no time, or of all day, is not a window", w.From)
	}
	loc, err := loadZone(w.TimeZone)
	if err != nil {
		v.add(wp+".timeZone", "must be an IANA time zone such as Europe/Berlin, got %q", w.TimeZone)
		return
	}
	w.loc = loc
}

// Warnings lists what is valid but probably not meant, each naming its
// field. Parse returns no warnings; ask for them after it succeeds.
func (f *File) Warnings() []string {
	var out []string
	warn := func(field, format string, args ...any) {
		out = append(out, field+": "+fmt.Sprintf(format, args...))
	}
	for i := range f.Apps {
		a := &f.Apps[i]
		p := fmt.Sprintf("apps[%d]", i)
		if a.BakeMinutes == 0 {
			warn(p+".bakeMinutes", "0 retires the previous color at cutover; a rollback then needs new instances")
		}
		guards := 0
		for j, al := range a.Alarms {
			if al.Role == RoleGuard {
				guards++
				if al.Step != 0 || al.CooldownMinutes != 0 {
					warn(fmt.Sprintf("%s.alarms[%d]", p, j), "step and cooldownMinutes apply to capacity alarms only")
				}
			}
		}
		if guards == 0 {
			msg := "no guard alarm: nothing rolls a bad release back but a person"
			if a.AutoPromote {
				msg += ", and autoPromote puts it live without one"
			}
			warn(p+".alarms", "%s", msg)
		}
		if a.StepMinutes != 0 && len(a.WeightSteps) == 0 {
			warn(p+".stepMinutes", "has no effect without weightSteps")
		}
		for j, c := range a.Preview.OfficeCIDRs {
			if pfx, err := netip.ParsePrefix(c); err == nil {
				if bits, least, wide := wideness(pfx); wide && bits > 0 {
					warn(fmt.Sprintf("%s.preview.officeCidrs[%d]", p, j), "%s is wider than /%d (allowed by allowWidePreview)", c, least)
				}
			}
		}
		if lst, rule := a.ListenerARN, a.Preview.RuleARN; lst != "" && rule != "" {
			if on := strings.Replace(rule[:max(strings.LastIndexByte(rule, '/'), 0)], ":listener-rule/", ":listener/", 1); on != lst {
				warn(p+".preview.ruleArn", "the rule is on listener %s, not listenerArn", on)
			}
		}
		for j, o := range a.ImageOwners {
			if o == a.Account {
				warn(fmt.Sprintf("%s.imageOwners[%d]", p, j), "%s is the configured account (the app's), whose images are always allowed", o)
			}
		}
	}
	return out
}
