// Command infra is kaizen's CDK app: `cdk synth` runs it (see cdk.json). It
// reads and validates the configuration once, stages each function's
// bootstrap with that configuration, and builds the kaizen stack and, when
// asked, the reference fleet and pipeline stacks.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/kaizen-sre/kaizen/infra/stacks"
)

// Context keys (cdk.json, or `cdk synth -c key=value`).
const (
	ctxConfig            = "kaizen:config"
	ctxAssets            = "kaizen:assets"
	ctxStaging           = "kaizen:staging"
	ctxStackName         = "kaizen:stackName"
	ctxApp               = "kaizen:app"
	ctxFleet             = "kaizen:fleet"
	ctxFleetAMI          = "kaizen:fleetAmi"
	ctxFleetInstanceType = "kaizen:fleetInstanceType"
	ctxFleetMaxCapacity  = "kaizen:fleetMaxCapacity"
	ctxCertificateARN    = "kaizen:certificateArn"
	ctxAvailabilityZones = "kaizen:availabilityZones"
	ctxPipeline          = "kaizen:pipeline"
	ctxSourceConnection  = "kaizen:sourceConnectionArn"
	ctxSourceRepository  = "kaizen:sourceRepository"
	ctxSourceBranch      = "kaizen:sourceBranch"
	ctxTracing           = "kaizen:tracing"
)

func main() { os.Exit(run()) }

func run() int {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	if _, err := build(app); err != nil {
		fmt.Fprintln(os.Stderr, "kaizen infra:", err)
		return 1
	}
	app.Synth(nil)
	return 0
}

// build reads the context, validates the configuration, stages the
// function assets and adds the stacks to app.
func build(app awscdk.App) (*stacks.Stacks, error) {
	c := context{app}
	path := c.str(ctxConfig, "")
	if path == "" {
		return nil, fmt.Errorf("context %s: set it to the configuration file (cdk.json or -c %s=path)", ctxConfig, ctxConfig)
	}
	cfg, err := stacks.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	o := stacks.Options{
		Config:    cfg,
		StackName: c.str(ctxStackName, "Kaizen"),
		App:       c.str(ctxApp, ""),
	}
	fleet, err := c.boolean(ctxFleet)
	if err != nil {
		return nil, err
	}
	if fleet {
		maxCap, err := c.integer(ctxFleetMaxCapacity, 10)
		if err != nil {
			return nil, err
		}
		o.Fleet = &stacks.FleetStackProps{
			AMI:               c.str(ctxFleetAMI, ""),
			InstanceType:      c.str(ctxFleetInstanceType, ""),
			CertificateARN:    c.str(ctxCertificateARN, ""),
			AvailabilityZones: c.list(ctxAvailabilityZones),
			MaxCapacity:       maxCap,
		}
		if azs := o.Fleet.AvailabilityZones; len(azs) != 0 && len(azs) != 2 {
			return nil, fmt.Errorf("context %s: give exactly two availability zones, got %q", ctxAvailabilityZones, azs)
		}
	}
	pipeline, err := c.boolean(ctxPipeline)
	if err != nil {
		return nil, err
	}
	if pipeline {
		o.Pipeline = &stacks.PipelineStackProps{
			ConnectionARN: c.str(ctxSourceConnection, ""),
			Repository:    c.str(ctxSourceRepository, ""),
			Branch:        c.str(ctxSourceBranch, ""),
		}
	}
	// X-Ray active tracing is on unless the context turns it off.
	if _, set := c.value(ctxTracing); set {
		on, err := c.boolean(ctxTracing)
		if err != nil {
			return nil, err
		}
		o.NoTracing = !on
	}
	o.Assets, err = stacks.StageAssets(c.str(ctxAssets, "build/lambda/arm64"), c.str(ctxStaging, "build/assets"), cfg.Raw)
	if err != nil {
		return nil, err
	}
	return stacks.Build(app, o)
}

// context reads CDK context values, which are JSON values in cdk.json and
// strings on the command line.
type context struct{ app awscdk.App }

func (c context) value(key string) (any, bool) {
	v := c.app.Node().TryGetContext(jsii.String(key))
	return v, v != nil
}

func (c context) str(key, def string) string {
	v, ok := c.value(key)
	if !ok {
		return def
	}
	if s, ok := v.(string); ok {
		if s == "" {
			return def
		}
		return s
	}
	return fmt.Sprint(v)
}

func (c context) boolean(key string) (bool, error) {
	v, ok := c.value(key)
	if !ok {
		return false, nil
	}
	switch v := v.(type) {
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, fmt.Errorf("context %s: want true or false, got %q", key, v)
		}
		return b, nil
	}
	return false, fmt.Errorf("context %s: want true or false, got %v", key, v)
}

func (c context) integer(key string, def int) (int, error) {
	v, ok := c.value(key)
	if !ok {
		return def, nil
	}
	switch v := v.(type) {
	case float64:
		if v == float64(int(v)) && v > 0 {
			return int(v), nil
		}
	case string:
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n, nil
		}
	}
	return 0, fmt.Errorf("context %s: want a positive whole number, got %v", key, v)
}

func (c context) list(key string) []string {
	v, ok := c.value(key)
	if !ok {
		return nil
	}
	var out []string
	switch v := v.(type) {
	case []any:
		for _, x := range v {
			out = append(out, fmt.Sprint(x))
		}
	case string:
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}
