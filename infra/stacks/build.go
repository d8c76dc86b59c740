package stacks

import (
	"fmt"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// Options is everything main gathers from the CDK context.
type Options struct {
	Config *Config
	// Assets are the staged function directories (StageAssets).
	Assets map[string]Asset
	// StackName of the kaizen stack (default "Kaizen"); the reference stacks
	// are named after it and the app.
	StackName string
	// App names the app the reference stacks model (default: the first).
	App string
	// Fleet and Pipeline, if set, add the reference stacks.
	Fleet    *FleetStackProps
	Pipeline *PipelineStackProps
	// NoTracing turns the functions' X-Ray active tracing off (context
	// kaizen:tracing=false).
	NoTracing bool
}

// Stacks are the stacks Build made; Fleet and Pipeline may be nil.
type Stacks struct {
	Kaizen   *KaizenStack
	Fleet    *FleetStack
	Pipeline *PipelineStack
	// Members are the member stacks, one per account and region apps live
	// in besides kaizen's (member.go).
	Members []*MemberStack
}

// All lists the stacks that exist.
func (s *Stacks) All() []awscdk.Stack {
	out := []awscdk.Stack{s.Kaizen.Stack}
	if s.Fleet != nil {
		out = append(out, s.Fleet.Stack)
	}
	if s.Pipeline != nil {
		out = append(out, s.Pipeline.Stack)
	}
	for _, m := range s.Members {
		out = append(out, m.Stack)
	}
	return out
}

// Build adds kaizen's stacks to app and applies the AwsSolutions checks to
// all of them (findings are error annotations, which fail `cdk synth`).
func Build(app awscdk.App, o Options) (*Stacks, error) {
	if o.Config == nil {
		return nil, fmt.Errorf("build: no configuration")
	}
	name := o.StackName
	if name == "" {
		name = "Kaizen"
	}
	env := &awscdk.Environment{Account: jsii.String(o.Config.Account), Region: jsii.String(o.Config.Region)}
	// Check everything before the first construct: a bad option fails
	// synth with one clear error, not a half-built app.
	var fleet *FleetStackProps
	var pipelineProps *PipelineStackProps
	if o.Fleet != nil || o.Pipeline != nil {
		a, err := referenceApp(o.Config.File, o.App)
		if err != nil {
			return nil, err
		}
		if o.Fleet != nil {
			p := *o.Fleet
			p.App, p.Env = a, env
			if p.AMI == "" {
				return nil, fmt.Errorf("fleet stack: set the context key kaizen:fleetAmi to the AMI id the launch templates start with (for example an Amazon Linux 2023 AMI of %s)", o.Config.Region)
			}
			fleet = &p
		}
		if o.Pipeline != nil {
			p := *o.Pipeline
			p.App, p.Env = a, env
			if err := p.Validate(); err != nil {
				return nil, err
			}
			pipelineProps = &p
		}
	}
	for _, fn := range route.Functions {
		if _, ok := o.Assets[fn]; !ok {
			return nil, fmt.Errorf("build: no staged asset for function %q", fn)
		}
	}

	out := &Stacks{}
	out.Kaizen = NewKaizenStack(app, name, &KaizenStackProps{
		StackProps: awscdk.StackProps{
			Env:         env,
			StackName:   jsii.String(name),
			Description: jsii.String("kaizen: event-driven blue/green release and scaling steps"),
		},
		Config:    o.Config,
		Assets:    o.Assets,
		NoTracing: o.NoTracing,
	})
	out.Members = addMembers(app, o, name)
	if fleet != nil {
		id := fmt.Sprintf("%sFleet-%s", name, fleet.App.Name)
		fleet.StackName = jsii.String(id)
		fleet.Description = jsii.String("kaizen reference blue/green fleet of " + fleet.App.Name)
		out.Fleet = NewFleetStack(app, id, fleet)
	}
	if pipelineProps != nil {
		id := fmt.Sprintf("%sPipeline-%s", name, pipelineProps.App.Name)
		pipelineProps.StackName = jsii.String(id)
		pipelineProps.Description = jsii.String("kaizen reference golden-image pipeline of " + pipelineProps.App.Name)
		out.Pipeline = NewPipelineStack(app, id, pipelineProps)
	}
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	return out, nil
}

func referenceApp(f *config.File, name string) (*config.App, error) {
	if name == "" {
		return &f.Apps[0], nil
	}
	a, ok := f.App(name)
	if !ok {
		return nil, fmt.Errorf("context kaizen:app: no app %q in the configuration", name)
	}
	return a, nil
}
