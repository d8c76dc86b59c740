// Package config describes the apps kaizen releases and scales: one file, read
// by the functions and by the CDK app alike, validated once with errors that
// name the field.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"
)

// Color is one half of a blue/green pair.
type Color string

const (
	Blue  Color = "blue"
	Green Color = "green"
)

// Other returns the opposite color.
func (c Color) Other() Color {
	if c == Blue {
		return Green
	}
	return Blue
}

// Valid reports whether c is blue or green.
func (c Color) Valid() bool { return c == Blue || c == Green }

// Colors lists both colors in a fixed order, for stable output.
var Colors = [2]Color{Blue, Green}

// File is the whole configuration file.
type File struct {
	// Account and Region are the ones the functions serve; events from
	// anywhere else are ignored.
	Account string `json:"account"`
	Region  string `json:"region"`
	Apps    []App  `json:"apps"`
}

// App is one blue/green fleet.
type App struct {
	Name string `json:"name"`
	// ImageTag marks the app's AMIs: key defaults to "kaizen:app", value to the
	// app's name.
	ImageTag Tag `json:"imageTag"`
	// PipelineTag is the AMI tag the image build writes with the pipeline
	// execution id, used to correlate an approval with the AMI people saw.
	PipelineTag string      `json:"pipelineTag"`
	Blue        ColorConfig `json:"blue"`
	Green       ColorConfig `json:"green"`
	ListenerARN string      `json:"listenerArn"`
	Preview     Preview     `json:"preview"`
	// PreviewSize is the idle color's capacity while people preview a release.
	PreviewSize int `json:"previewSize"`
	// Floor is the least desired capacity of the live color; never zero.
	Floor       int `json:"floor"`
	BakeMinutes int `json:"bakeMinutes"`
	// CutoverHealthyPercent of the live color's desired capacity must be
	// healthy on the new color before the public moves (default 100).
	CutoverHealthyPercent int `json:"cutoverHealthyPercent"`
	// CutoverTimeoutMinutes bounds the wait for health after approval
	// (default 30); past it the release fails and the public stays put.
	CutoverTimeoutMinutes int `json:"cutoverTimeoutMinutes"`
	// WeightSteps, if set, shift the public in weighted steps (percent to the
	// new color, ending at 100), each held for StepMinutes.
	WeightSteps []int `json:"weightSteps,omitempty"`
	StepMinutes int   `json:"stepMinutes,omitempty"`
	// RetireHoldMinutes keeps a rolled-back color up for investigation.
	RetireHoldMinutes int      `json:"retireHoldMinutes"`
	Approval          Approval `json:"approval"`
	Rebuild           Rebuild  `json:"rebuild"`
	Alarms            []Alarm  `json:"alarms,omitempty"`
	ALAS              ALAS     `json:"alas"`
	Secret            string   `json:"secret,omitempty"`
	TopicARN          string   `json:"topicArn"`
	InstanceRoleARN   string   `json:"instanceRoleArn,omitempty"`
	AutoPromote       bool     `json:"autoPromote,omitempty"`
	// StagingApp names the app (in this file) that is this app's staging
	// environment, built from the same AMIs: notifications say whether a
	// staged AMI is already live and healthy there.
	StagingApp   string        `json:"stagingApp,omitempty"`
	ChangeWindow *ChangeWindow `json:"changeWindow,omitempty"`
	// MinImageAgeDays protects young AMIs from `kaizen images prune`.
	MinImageAgeDays int `json:"minImageAgeDays,omitempty"`
	// WindowWaitHours bounds how long an approved release waits for its
	// change window (default 24); past it the release fails with a notice
	// instead of holding full capacity on two colors forever.
	WindowWaitHours int `json:"windowWaitHours,omitempty"`
	// AlarmSkewSeconds is the clock skew allowed between CloudWatch's
	// transition timestamps and kaizen's own clock (default 30): an alarm
	// that transitioned before the current color took the public, less
	// this, is stale and moves nothing.
	AlarmSkewSeconds int `json:"alarmSkewSeconds,omitempty"`
	// ImageOwners lists accounts besides the configured one whose AMIs may
	// be staged (a central image account). Any other owner is refused.
	ImageOwners []string `json:"imageOwners,omitempty"`
	// AllowWidePreview permits office CIDRs wider than /16 (IPv4) or /48
	// (IPv6) for the preview rule.
	AllowWidePreview bool `json:"allowWidePreview,omitempty"`
	// NoProgressTicks is how many ticks in a row the same corrective action
	// may be planned without the fleet converging before kaizen stops
	// acting on the app (default 5).
	NoProgressTicks int `json:"noProgressTicks,omitempty"`
}

// Tag is an EC2 tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// ColorConfig names one color's Auto Scaling group, target group and launch
// template.
type ColorConfig struct {
	ASG              string `json:"asg"`
	TargetGroupARN   string `json:"targetGroupArn"`
	LaunchTemplateID string `json:"launchTemplateId"`
}

// Preview is the listener rule that sends the office to the idle color.
type Preview struct {
	RuleARN     string   `json:"ruleArn"`
	OfficeCIDRs []string `json:"officeCidrs"`
	Header      *Header  `json:"header,omitempty"`
}

// Header is an optional extra condition on the preview rule.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Approval names the CodePipeline manual approval action that promotes.
type Approval struct {
	Pipeline string `json:"pipeline"`
	Stage    string `json:"stage"`
	Action   string `json:"action"`
}

// Rebuild names what builds the golden image: a CodeBuild project or a
// pipeline (exactly one).
type Rebuild struct {
	CodeBuildProject string `json:"codeBuildProject,omitempty"`
	Pipeline         string `json:"pipeline,omitempty"`
	// PipelineVariable carries the advisory ids when Pipeline is used.
	PipelineVariable string `json:"pipelineVariable,omitempty"`
}

// AlarmRole says what an alarm means to kaizen.
type AlarmRole string

const (
	// RoleGuard alarms watch a new color: in ALARM during a shift or bake the
	// public goes back to the previous color.
	RoleGuard AlarmRole = "guard"
	// RoleCapacity alarms step the live color up.
	RoleCapacity AlarmRole = "capacity"
)

// Alarm is a CloudWatch alarm kaizen reacts to.
type Alarm struct {
	Name string    `json:"name"`
	Role AlarmRole `json:"role"`
	// Step and CooldownMinutes apply to capacity alarms.
	Step            int `json:"step,omitempty"`
	CooldownMinutes int `json:"cooldownMinutes,omitempty"`
}

// ALAS configures the security advisory poll.
type ALAS struct {
	// AmazonLinux is "1", "2" or "2023"; it picks the default feed.
	AmazonLinux string   `json:"amazonLinux"`
	Feeds       []string `json:"feeds,omitempty"`
	// MinSeverity triggers a rebuild now; lower ones go to the digest.
	MinSeverity  string `json:"minSeverity"`
	DigestHours  int    `json:"digestHours,omitempty"`
	PackagesOnly bool   `json:"packagesOnly,omitempty"`
	// ManifestTag is the AMI tag (or SSM parameter) with the image's packages.
	ManifestTag string `json:"manifestTag,omitempty"`
}

// ChangeWindow limits when the public may be switched.
type ChangeWindow struct {
	Days     []string `json:"days"`
	From     string   `json:"from"` // "09:00"
	To       string   `json:"to"`   // "17:00"
	TimeZone string   `json:"timeZone"`
}

// Color returns the configuration of c.
func (a *App) Color(c Color) ColorConfig {
	if c == Green {
		return a.Green
	}
	return a.Blue
}

// ColorOfTargetGroup maps a target group ARN back to its color.
func (a *App) ColorOfTargetGroup(arn string) (Color, bool) {
	switch arn {
	case a.Blue.TargetGroupARN:
		return Blue, true
	case a.Green.TargetGroupARN:
		return Green, true
	}
	return "", false
}

// Alarm finds a configured alarm by name.
func (a *App) Alarm(name string) (Alarm, bool) {
	for _, al := range a.Alarms {
		if al.Name == name {
			return al, true
		}
	}
	return Alarm{}, false
}

// Bake is the bake window.
func (a *App) Bake() time.Duration { return time.Duration(a.BakeMinutes) * time.Minute }

// Feeds returns the ALAS feeds to poll: the configured ones, or the default
// feed of the app's Amazon Linux version.
func (a *App) Feeds() []string {
	if len(a.ALAS.Feeds) > 0 {
		return a.ALAS.Feeds
	}
	switch a.ALAS.AmazonLinux {
	case "1":
		return []string{"https://alas.aws.amazon.com/alas.rss"}
	case "2":
		return []string{"https://alas.aws.amazon.com/AL2/alas.rss"}
	case "2023":
		return []string{"https://alas.aws.amazon.com/AL2023/alas.rss"}
	}
	return nil
}

// App finds an app by name.
func (f *File) App(name string) (*App, bool) {
	for i := range f.Apps {
		if f.Apps[i].Name == name {
			return &f.Apps[i], true
		}
	}
	return nil, false
}

// Load reads and validates a configuration file.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return f, nil
}

// Parse decodes and validates configuration JSON. Unknown fields are errors:
// a typo in a config file must not silently fall back to a default.
func Parse(b []byte) (*File, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	f.defaults()
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func (f *File) defaults() {
	for i := range f.Apps {
		a := &f.Apps[i]
		if a.ImageTag.Key == "" {
			a.ImageTag.Key = "kaizen:app"
		}
		if a.ImageTag.Value == "" {
			a.ImageTag.Value = a.Name
		}
		if a.PipelineTag == "" {
			a.PipelineTag = "kaizen:pipeline-execution"
		}
		if a.CutoverHealthyPercent == 0 {
			a.CutoverHealthyPercent = 100
		}
		if a.CutoverTimeoutMinutes == 0 {
			a.CutoverTimeoutMinutes = 30
		}
		if a.WindowWaitHours == 0 {
			a.WindowWaitHours = 24
		}
		if a.AlarmSkewSeconds == 0 {
			a.AlarmSkewSeconds = 30
		}
		if a.NoProgressTicks == 0 {
			a.NoProgressTicks = 5
		}
		if a.RetireHoldMinutes == 0 {
			a.RetireHoldMinutes = 60
		}
		if len(a.WeightSteps) > 0 && a.StepMinutes == 0 {
			a.StepMinutes = 10
		}
		if a.ALAS.MinSeverity == "" {
			a.ALAS.MinSeverity = "important"
		}
		if a.ALAS.DigestHours == 0 {
			a.ALAS.DigestHours = 24
		}
		if a.Rebuild.Pipeline != "" && a.Rebuild.PipelineVariable == "" {
			a.Rebuild.PipelineVariable = "SECURITY_ADVISORIES"
		}
		for j := range a.Alarms {
			al := &a.Alarms[j]
			if al.Role == RoleCapacity {
				if al.Step == 0 {
					al.Step = 1
				}
				if al.CooldownMinutes == 0 {
					al.CooldownMinutes = 5
				}
			}
		}
	}
}

var (
	appName     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	accountID   = regexp.MustCompile(`^[0-9]{12}$`)
	regionName  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
	ltID        = regexp.MustCompile(`^lt-[0-9a-f]{8,17}$`)
	asgName     = regexp.MustCompile(`^[^:*]{1,255}$`)
	hhmm        = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	weekday     = map[string]bool{"mon": true, "tue": true, "wed": true, "thu": true, "fri": true, "sat": true, "sun": true}
	severities  = map[string]bool{"critical": true, "important": true, "medium": true, "low": true}
	alVersions  = map[string]bool{"1": true, "2": true, "2023": true}
	arnServices = map[string]string{
		"targetGroupArn":  "elasticloadbalancing",
		"listenerArn":     "elasticloadbalancing",
		"ruleArn":         "elasticloadbalancing",
		"topicArn":        "sns",
		"instanceRoleArn": "iam",
	}
)

// FieldError names the configuration field that is wrong.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks the whole file and returns every problem, each naming its
// field (for example `apps[0].blue.asg: required`).
func (f *File) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if !accountID.MatchString(f.Account) {
		add("account", "must be a 12-digit AWS account id, got %q", f.Account)
	}
	if !regionName.MatchString(f.Region) {
		add("region", "must be an AWS region such as eu-west-1, got %q", f.Region)
	}
	if len(f.Apps) == 0 {
		add("apps", "at least one app is required")
	}
	seen := map[string]bool{}
	arn := func(field, v, service string, required bool) {
		if v == "" {
			if required {
				add(field, "required")
			}
			return
		}
		parts := strings.SplitN(v, ":", 6)
		if len(parts) != 6 || parts[0] != "arn" || parts[2] != service {
			add(field, "must be an %s ARN, got %q", service, v)
			return
		}
		if service != "iam" && (parts[3] != f.Region || parts[4] != f.Account) {
			add(field, "ARN must be in region %s and account %s, got %q", f.Region, f.Account, v)
		}
	}
	for i := range f.Apps {
		a := &f.Apps[i]
		p := fmt.Sprintf("apps[%d]", i)
		if !appName.MatchString(a.Name) {
			add(p+".name", "must be lower-case letters, digits and dashes (at most 63), got %q", a.Name)
		} else if seen[a.Name] {
			add(p+".name", "duplicate app %q", a.Name)
		}
		seen[a.Name] = true
		for _, c := range Colors {
			cc := a.Color(c)
			cp := p + "." + string(c)
			if cc.ASG == "" {
				add(cp+".asg", "required")
			} else if !asgName.MatchString(cc.ASG) {
				add(cp+".asg", "not a valid Auto Scaling group name: %q", cc.ASG)
			}
			arn(cp+".targetGroupArn", cc.TargetGroupARN, arnServices["targetGroupArn"], true)
			if !ltID.MatchString(cc.LaunchTemplateID) {
				add(cp+".launchTemplateId", "must be a launch template id (lt-...), got %q", cc.LaunchTemplateID)
			}
		}
		if a.Blue.ASG != "" && a.Blue.ASG == a.Green.ASG {
			add(p+".green.asg", "must differ from blue.asg")
		}
		if a.Blue.TargetGroupARN != "" && a.Blue.TargetGroupARN == a.Green.TargetGroupARN {
			add(p+".green.targetGroupArn", "must differ from blue.targetGroupArn")
		}
		arn(p+".listenerArn", a.ListenerARN, "elasticloadbalancing", true)
		arn(p+".preview.ruleArn", a.Preview.RuleARN, "elasticloadbalancing", true)
		if len(a.Preview.OfficeCIDRs) == 0 {
			add(p+".preview.officeCidrs", "at least one office CIDR is required")
		}
		for j, c := range a.Preview.OfficeCIDRs {
			if _, err := netip.ParsePrefix(c); err != nil {
				add(fmt.Sprintf("%s.preview.officeCidrs[%d]", p, j), "not a CIDR: %q", c)
			}
		}
		if h := a.Preview.Header; h != nil && (h.Name == "" || h.Value == "") {
			add(p+".preview.header", "name and value are both required")
		}
		if a.Floor < 1 {
			add(p+".floor", "must be at least 1: the live color may never reach zero instances")
		}
		if a.PreviewSize < 1 {
			add(p+".previewSize", "must be at least 1")
		}
		if a.BakeMinutes < 0 {
			add(p+".bakeMinutes", "must not be negative")
		}
		if a.CutoverHealthyPercent < 1 || a.CutoverHealthyPercent > 100 {
			add(p+".cutoverHealthyPercent", "must be between 1 and 100")
		}
		if a.CutoverTimeoutMinutes < 1 {
			add(p+".cutoverTimeoutMinutes", "must be at least 1")
		}
		prev := 0
		for j, w := range a.WeightSteps {
			if w <= prev || w > 100 {
				add(fmt.Sprintf("%s.weightSteps[%d]", p, j), "steps must rise strictly, between 1 and 100, got %d", w)
			}
			prev = w
		}
		if len(a.WeightSteps) > 0 && prev != 100 {
			add(p+".weightSteps", "the last step must be 100")
		}
		if a.Approval.Pipeline == "" {
			add(p+".approval.pipeline", "required")
		}
		if a.Approval.Stage == "" {
			add(p+".approval.stage", "required")
		}
		if a.Approval.Action == "" {
			add(p+".approval.action", "required")
		}
		if (a.Rebuild.CodeBuildProject == "") == (a.Rebuild.Pipeline == "") {
			add(p+".rebuild", "set exactly one of codeBuildProject and pipeline")
		}
		names := map[string]bool{}
		for j, al := range a.Alarms {
			ap := fmt.Sprintf("%s.alarms[%d]", p, j)
			if al.Name == "" {
				add(ap+".name", "required")
			} else if names[al.Name] {
				add(ap+".name", "duplicate alarm %q", al.Name)
			}
			names[al.Name] = true
			if al.Role != RoleGuard && al.Role != RoleCapacity {
				add(ap+".role", "must be %q or %q, got %q", RoleGuard, RoleCapacity, al.Role)
			}
			if al.Step < 0 || al.CooldownMinutes < 0 {
				add(ap, "step and cooldownMinutes must not be negative")
			}
		}
		if !alVersions[a.ALAS.AmazonLinux] && len(a.ALAS.Feeds) == 0 {
			add(p+".alas.amazonLinux", `must be "1", "2" or "2023" (or list alas.feeds), got %q`, a.ALAS.AmazonLinux)
		}
		for j, u := range a.ALAS.Feeds {
			if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
				add(fmt.Sprintf("%s.alas.feeds[%d]", p, j), "must be an http(s) URL, got %q", u)
			}
		}
		if !severities[a.ALAS.MinSeverity] {
			add(p+".alas.minSeverity", "must be critical, important, medium or low, got %q", a.ALAS.MinSeverity)
		}
		if a.StagingApp != "" {
			if a.StagingApp == a.Name {
				add(p+".stagingApp", "an app cannot be its own staging")
			} else if _, ok := f.App(a.StagingApp); !ok {
				add(p+".stagingApp", "no app named %q in this file", a.StagingApp)
			}
		}
		arn(p+".topicArn", a.TopicARN, "sns", true)
		arn(p+".instanceRoleArn", a.InstanceRoleARN, "iam", false)
		if w := a.ChangeWindow; w != nil {
			wp := p + ".changeWindow"
			if len(w.Days) == 0 {
				add(wp+".days", "at least one day is required")
			}
			for j, d := range w.Days {
				if !weekday[strings.ToLower(d)] {
					add(fmt.Sprintf("%s.days[%d]", wp, j), "must be mon..sun, got %q", d)
				}
			}
			if !hhmm.MatchString(w.From) {
				add(wp+".from", "must be HH:MM, got %q", w.From)
			}
			if !hhmm.MatchString(w.To) {
				add(wp+".to", "must be HH:MM, got %q", w.To)
			}
			if _, err := time.LoadLocation(w.TimeZone); err != nil || w.TimeZone == "" {
				add(wp+".timeZone", "must be an IANA time zone, got %q", w.TimeZone)
			}
		}
	}
	return errors.Join(errs...)
}
