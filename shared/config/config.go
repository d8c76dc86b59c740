// Package config describes the apps kaizen releases and scales: one file, read
// by the functions and by the CDK app alike, validated once with errors that
// name the field.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
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

	// present holds the keys the JSON document set (canonical paths such as
	// "apps[0].bakeMinutes"); nil for a File not made by Parse.
	present map[string]bool
}

// App is one blue/green fleet.
type App struct {
	Name string `json:"name"`
	// Account is the account the app lives in: the role's (RoleARN) or the
	// file's (accounts.go). Its own AMIs, and those of ImageOwners, may be
	// staged.
	Account string `json:"-"`
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
	// ScalingPolicies says what kaizen does when the new color's scaling
	// policies and scheduled actions differ from the live color's:
	// "copy" (the default) makes them equal at staging and before the
	// cutover; "verify" refuses to cut over while they differ.
	ScalingPolicies string `json:"scalingPolicies,omitempty"`
	// DBRefresh, on a staging app, refreshes its database from production's
	// RDS snapshots (see dbrefresh.go).
	DBRefresh *DBRefresh `json:"dbRefresh,omitempty"`
	// StagingSoakMinutes, on an app with a StagingApp, refuses an approval
	// until the same AMI has been live and healthy on staging that long
	// (0: no gate).
	StagingSoakMinutes int `json:"stagingSoakMinutes,omitempty"`
	// PreviewURL is where people preview a staged release (from the
	// office); approval requests link to it.
	PreviewURL string `json:"previewUrl,omitempty"`
	// RoleARN, when set, is the role kaizen assumes (STS) to act on an app
	// that lives in another account; Region, when set, is the region it
	// lives in (default: the file's region).
	RoleARN string `json:"roleArn,omitempty"`
	Region  string `json:"region,omitempty"`
	// Analysis judges a release by its own metrics (see analysis.go).
	Analysis *Analysis `json:"analysis,omitempty"`
}

// The values of App.ScalingPolicies.
const (
	ScalingCopy   = "copy"
	ScalingVerify = "verify"
)

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

// Parse decodes and validates configuration JSON, returning every problem
// at once, each naming its field. Stricter than encoding/json: unknown keys,
// keys that differ from a known one only by case, duplicate keys, values of
// the wrong type and data after the document are all errors. A typo in a
// config file must not silently fall back to a default.
func Parse(b []byte) (*File, error) {
	s, err := scan(b, reflect.TypeFor[File]())
	if err != nil {
		return nil, err
	}
	if s.nType > 0 {
		// A mistyped value would come out zero and raise errors of its own.
		return nil, errors.Join(s.errs...)
	}
	var f File
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	f.present = s.present
	f.defaults()
	if errs := append(s.errs, f.validate()...); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &f, nil
}

func (f *File) defaults() {
	for i := range f.Apps {
		a := &f.Apps[i]
		a.Account, a.Region = f.placeOf(a) // accounts.go
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
		if a.ScalingPolicies == "" {
			a.ScalingPolicies = ScalingCopy
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
