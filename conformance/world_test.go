package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/internal/rie"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// account is the account moto answers as.
const account = "123456789012"

// office is the preview rule's source CIDR.
const office = "203.0.113.10/32"

// spec describes the app a test builds.
type spec struct {
	name        string
	region      string
	floor       int
	previewSize int
	bakeMinutes int
	maxSize     int
}

// world is one moto region holding one app's blue/green fleet, built
// through the SDK, with kaizen's configuration and state table for it.
type world struct {
	t      *testing.T
	ctx    context.Context
	spec   spec
	moto   string    // moto's URL, for the test's own reads
	rec    *recorder // moto behind the call recorder, for the functions and the CLI
	cfg    *config.File
	app    *config.App
	cfgDir string

	ec2   *ec2.Client
	asg   *autoscaling.Client
	elb   *elbv2.Client
	sns   *sns.Client
	ddb   *dynamodb.Client
	fleet *cloud.Fleet
	store *store.Dynamo
	table string

	// The fleet as built.
	subnets      []string
	builder      string // the image build's instance, CreateImage's source
	golden0      string // the AMI blue runs at the start
	lt           map[config.Color]string
	tg           map[config.Color]string
	lb, listener string
	rule         string
	topic        string

	inbox *inbox

	mu       sync.Mutex
	finished map[string]string // CodeBuild builds the test ended (fidelity patch 3)

	seq        int
	lastAMISec time.Time
}

// regions hands out moto regions: one moto_server serves the whole test
// binary and keeps its state, so no two worlds may share a region (with
// -count=2 the second round takes other regions).
var regions = struct {
	sync.Mutex
	used map[string]bool
}{used: map[string]bool{}}

var regionPool = []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
	"eu-central-1", "eu-north-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2", "ap-south-1", "sa-east-1"}

func claimRegion(t testing.TB, preferred string) string {
	t.Helper()
	regions.Lock()
	defer regions.Unlock()
	for _, r := range append([]string{preferred}, regionPool...) {
		if !regions.used[r] {
			regions.used[r] = true
			return r
		}
	}
	t.Fatalf("conformance: every moto region of the pool is taken (moto keeps its state for the whole test binary): run with a lower -count")
	return ""
}

func newWorld(t *testing.T, sp spec) *world {
	t.Helper()
	if sp.maxSize == 0 {
		sp.maxSize = 6
	}
	sp.region = claimRegion(t, sp.region)
	rie.WarnStale(t, packaged)
	rie.Bin(t)
	for _, fn := range []string{"stage", "promote", "guard", "tick"} {
		rie.Bootstrap(t, fn)
	}
	url := motoURL(t)
	w := &world{t: t, ctx: context.Background(), spec: sp, moto: url,
		lt: map[config.Color]string{}, tg: map[config.Color]string{}, finished: map[string]string{}}
	w.rec = newRecorder(t, url)
	w.rec.mu.Lock()
	w.rec.patch = w.patchResponse
	w.rec.mu.Unlock()
	creds := credentials.NewStaticCredentialsProvider("test", "test", "")
	w.ec2 = ec2.New(ec2.Options{Region: sp.region, Credentials: creds, BaseEndpoint: aws.String(url)})
	w.asg = autoscaling.New(autoscaling.Options{Region: sp.region, Credentials: creds, BaseEndpoint: aws.String(url)})
	w.elb = elbv2.New(elbv2.Options{Region: sp.region, Credentials: creds, BaseEndpoint: aws.String(url)})
	w.sns = sns.New(sns.Options{Region: sp.region, Credentials: creds, BaseEndpoint: aws.String(url)})
	w.ddb = dynamodb.New(dynamodb.Options{Region: sp.region, Credentials: creds, BaseEndpoint: aws.String(url)})
	w.fleet = &cloud.Fleet{EC2: w.ec2, ASG: w.asg, ELB: w.elb, SNS: w.sns, Attempts: 1}
	w.inbox = newInbox(t)

	start := time.Now()
	w.build()
	w.writeConfig(nil)
	w.table = "kaizen-" + sp.name
	if err := store.CreateTable(w.ctx, w.ddb, w.table); err != nil {
		t.Fatalf("moto DynamoDB: %v", err)
	}
	w.store = &store.Dynamo{DB: w.ddb, Table: w.table}
	t.Logf("fleet %s built in moto (%s) in %s: blue %s on %s, listener → blue, preview rule → green", sp.name, sp.region, time.Since(start).Round(time.Millisecond), w.golden0, w.lt[config.Blue])
	return w
}

func (w *world) must(err error, what string) {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("moto (%s): %s: %v", w.spec.region, what, err)
	}
}

// build creates the fleet in moto through the SDK, as a person or a
// CloudFormation stack would.
func (w *world) build() {
	t, ctx, sp := w.t, w.ctx, w.spec
	t.Helper()
	vpc, err := w.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	w.must(err, "create VPC")
	azs, err := w.ec2.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	w.must(err, "describe availability zones")
	if len(azs.AvailabilityZones) < 2 {
		t.Fatalf("moto (%s): %d availability zones, want 2", sp.region, len(azs.AvailabilityZones))
	}
	for i, az := range azs.AvailabilityZones[:2] {
		s, err := w.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, AvailabilityZone: az.ZoneName, CidrBlock: aws.String(fmt.Sprintf("10.0.%d.0/24", i+1))})
		w.must(err, "create subnet")
		w.subnets = append(w.subnets, aws.ToString(s.Subnet.SubnetId))
	}

	// The image build: an instance from Amazon Linux 2023, imaged with the
	// app's tag.
	base, err := w.ec2.DescribeImages(ctx, &ec2.DescribeImagesInput{Owners: []string{"amazon"},
		Filters: []ec2types.Filter{{Name: aws.String("name"), Values: []string{"al2023-ami-2023.*-x86_64"}}}})
	w.must(err, "describe Amazon Linux 2023 images")
	if len(base.Images) == 0 {
		t.Fatalf("moto (%s): no Amazon Linux 2023 image to build from", sp.region)
	}
	run, err := w.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: base.Images[0].ImageId, InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: aws.String(w.subnets[0])})
	w.must(err, "run the image builder instance")
	w.builder = aws.ToString(run.Instances[0].InstanceId)
	w.golden0 = w.newAMI(sp.name+"-golden-0", "", nil)

	for _, c := range config.Colors {
		lt, err := w.ec2.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
			LaunchTemplateName: aws.String(sp.name + "-" + string(c)),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(w.golden0), InstanceType: ec2types.InstanceTypeT3Micro},
		})
		w.must(err, "create launch template")
		w.lt[c] = aws.ToString(lt.LaunchTemplate.LaunchTemplateId)
		tg, err := w.elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
			Name: aws.String(sp.name + "-" + string(c)), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
			VpcId: vpc.Vpc.VpcId, TargetType: elbtypes.TargetTypeEnumInstance, HealthCheckPath: aws.String("/health"),
		})
		w.must(err, "create target group")
		w.tg[c] = aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	}
	lb, err := w.elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
		Name: aws.String(sp.name), Subnets: w.subnets, Type: elbtypes.LoadBalancerTypeEnumApplication, Scheme: elbtypes.LoadBalancerSchemeEnumInternetFacing,
	})
	w.must(err, "create load balancer")
	w.lb = aws.ToString(lb.LoadBalancers[0].LoadBalancerArn)
	ls, err := w.elb.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: aws.String(w.lb), Protocol: elbtypes.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(w.tg[config.Blue])}},
	})
	w.must(err, "create listener")
	w.listener = aws.ToString(ls.Listeners[0].ListenerArn)
	rule, err := w.elb.CreateRule(ctx, &elbv2.CreateRuleInput{
		ListenerArn: aws.String(w.listener), Priority: aws.Int32(10),
		Conditions: []elbtypes.RuleCondition{{Field: aws.String("source-ip"), SourceIpConfig: &elbtypes.SourceIpConditionConfig{Values: []string{office}}}},
		Actions:    []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(w.tg[config.Green])}},
	})
	w.must(err, "create preview rule")
	w.rule = aws.ToString(rule.Rules[0].RuleArn)

	for _, c := range config.Colors {
		size := int32(0)
		if c == config.Blue {
			size = int32(sp.floor)
		}
		_, err := w.asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String(sp.name + "-" + string(c)),
			LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(w.lt[c]), Version: aws.String("1")},
			MinSize:              aws.Int32(size), DesiredCapacity: aws.Int32(size), MaxSize: aws.Int32(int32(sp.maxSize)),
			VPCZoneIdentifier: aws.String(strings.Join(w.subnets, ",")),
			TargetGroupARNs:   []string{w.tg[c]},
			HealthCheckType:   aws.String("ELB"), HealthCheckGracePeriod: aws.Int32(60),
		})
		w.must(err, "create auto scaling group")
	}

	topic, err := w.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("kaizen-" + sp.name)})
	w.must(err, "create topic")
	w.topic = aws.ToString(topic.TopicArn)
	_, err = w.sns.Subscribe(ctx, &sns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("http"), Endpoint: aws.String(w.inbox.srv.URL)})
	w.must(err, "subscribe the test's inbox")
}

// newAMI images the builder instance as the golden-image build would, with
// the app's tag (and the pipeline execution's, if given), and returns the
// AMI id. moto dates AMIs to the second, as AWS does; kaizen orders an
// app's AMIs by that date, so a new AMI waits for the next second.
func (w *world) newAMI(name, execution string, tags map[string]string) string {
	w.t.Helper()
	for time.Now().UTC().Truncate(time.Second).Equal(w.lastAMISec) {
		time.Sleep(time.Until(w.lastAMISec.Add(time.Second)) + 5*time.Millisecond)
	}
	return w.newAMIAlongside(name, execution, tags)
}

// newAMIAlongside is newAMI without the wait: the AMI may share its
// creation second with the previous one, so only for AMIs whose order
// among the app's does not matter.
func (w *world) newAMIAlongside(name, execution string, tags map[string]string) string {
	w.t.Helper()
	all := map[string]string{"kaizen:app": w.spec.name}
	if execution != "" {
		all["kaizen:pipeline-execution"] = execution
	}
	for k, v := range tags {
		if v == "" {
			delete(all, k)
		} else {
			all[k] = v
		}
	}
	var ts []ec2types.Tag
	for k, v := range all {
		ts = append(ts, ec2types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	in := &ec2.CreateImageInput{InstanceId: aws.String(w.builder), Name: aws.String(name), NoReboot: aws.Bool(true)}
	if len(ts) > 0 {
		in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeImage, Tags: ts}}
	}
	out, err := w.ec2.CreateImage(w.ctx, in)
	w.must(err, "create image "+name)
	id := aws.ToString(out.ImageId)
	img := w.image(id)
	if img == nil || img.CreationDate == nil {
		w.t.Fatalf("moto (%s): image %s has no creation date", w.spec.region, id)
	}
	created, err := time.Parse(time.RFC3339, aws.ToString(img.CreationDate))
	w.must(err, "parse the creation date of "+id)
	w.lastAMISec = created.UTC().Truncate(time.Second)
	return id
}

// image describes one AMI, nil if moto no longer has it.
func (w *world) image(id string) *ec2types.Image {
	w.t.Helper()
	out, err := w.ec2.DescribeImages(w.ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if cloud.IsNotFound(err) {
		return nil
	}
	w.must(err, "describe image "+id)
	if len(out.Images) == 0 {
		return nil
	}
	return &out.Images[0]
}

// writeConfig writes kaizen's configuration for the fleet (after edit, if
// given) where the functions read it, and checks that it validates.
func (w *world) writeConfig(edit func(app map[string]any)) {
	w.t.Helper()
	sp := w.spec
	color := func(c config.Color) map[string]any {
		return map[string]any{"asg": sp.name + "-" + string(c), "targetGroupArn": w.tg[c], "launchTemplateId": w.lt[c]}
	}
	app := map[string]any{
		"name":        sp.name,
		"blue":        color(config.Blue),
		"green":       color(config.Green),
		"listenerArn": w.listener,
		"preview":     map[string]any{"ruleArn": w.rule, "officeCidrs": []string{office}},
		"previewSize": sp.previewSize,
		"floor":       sp.floor,
		// Always explicit: 0 ends a release at its cutover, without waiting
		// on a real clock.
		"bakeMinutes": sp.bakeMinutes,
		"approval":    map[string]any{"pipeline": sp.name + "-release", "stage": "Approve", "action": "ProductionApproval"},
		"rebuild":     map[string]any{"codeBuildProject": sp.name + "-golden-ami"},
		"alarms": []map[string]any{
			{"name": sp.name + "-5xx-rate", "role": "guard"},
			{"name": sp.name + "-cpu-high", "role": "capacity", "step": 2, "cooldownMinutes": 5},
		},
		"alas":     map[string]any{"amazonLinux": "2023", "minSeverity": "important"},
		"topicArn": w.topic,
	}
	if edit != nil {
		edit(app)
	}
	raw := map[string]any{"account": account, "region": sp.region, "apps": []any{app}}
	b, err := json.MarshalIndent(raw, "", "  ")
	if err != nil {
		w.t.Fatal(err)
	}
	cfg, err := config.Parse(b)
	if err != nil {
		w.t.Fatalf("the configuration of the moto fleet does not validate: %v\n%s", err, b)
	}
	if w.cfgDir == "" {
		w.cfgDir = w.t.TempDir()
	}
	if err := os.WriteFile(w.configPath(), b, 0o644); err != nil {
		w.t.Fatal(err)
	}
	w.cfg, w.app = cfg, &cfg.Apps[0]
}

func (w *world) configPath() string { return filepath.Join(w.cfgDir, "kaizen.json") }

// env is a function's environment in this world: every AWS call, DynamoDB's
// included, goes to moto through the recorder.
func (w *world) env() map[string]string {
	return map[string]string{
		"AWS_ENDPOINT_URL": w.rec.URL(),
		"KAIZEN_CONFIG":    w.configPath(),
		"KAIZEN_TABLE":     w.table,
	}
}

func (w *world) start(fn string) *rie.Function { return rie.Start(w.t, fn, w.spec.region, w.env()) }

// state is the app's record in (moto's) DynamoDB.
func (w *world) state() release.AppState {
	w.t.Helper()
	st, err := w.store.Load(w.ctx, w.app.Name)
	if err != nil {
		w.t.Fatalf("load state: %v", err)
	}
	return st
}

// observe reads the fleet as kaizen sees it, through the SDK adapters.
func (w *world) observe() release.Observed {
	w.t.Helper()
	w.patchMoto()
	obs, err := w.fleet.Observe(w.ctx, w.app)
	if err != nil {
		w.t.Fatalf("observe through the SDK adapters: %v", err)
	}
	return obs
}

// step is what one invocation did.
type step struct {
	st    release.AppState
	obs   release.Observed
	calls []apiCall
}

func (s step) mutations() map[string]int { return mutations(s.calls) }

// send invokes a function with an event, fails on a function error, then
// checks every invariant on what the store records and moto shows.
func (w *world) send(f *rie.Function, what string, event []byte) step {
	w.t.Helper()
	w.patchMoto()
	mark := w.rec.mark()
	if err := f.MustInvoke(w.t, event).Err(); err != nil {
		w.t.Fatalf("%s: %s: %v\nmoto errors: %v\n%s log:\n%s", f.Name, what, err, failed(w.rec.since(mark)), f.Name, f.Log())
	}
	s := step{calls: w.rec.since(mark)}
	s.st, s.obs = w.state(), w.observe()
	for _, err := range release.Check(w.app, s.st, s.obs) {
		w.t.Errorf("after %s (%s): %v [%s]", what, f.Name, err, s.obs.Summary())
	}
	if bad := failed(s.calls); len(bad) > 0 {
		w.t.Errorf("after %s (%s): moto answered errors: %v\n%s log:\n%s", what, f.Name, bad, f.Name, f.Log())
	}
	return s
}

// tickUntil invokes tick until done holds, at most max times. moto has no
// clock to advance: instances are InService and healthy as soon as they
// launch.
func (w *world) tickUntil(tick *rie.Function, what string, max int, done func(step) bool) step {
	w.t.Helper()
	for i := 1; i <= max; i++ {
		s := w.send(tick, "tick", w.tick())
		if done(s) {
			w.t.Logf("%s after %d tick(s): %s", what, i, s.obs.Summary())
			return s
		}
	}
	st, obs := w.state(), w.observe()
	b, _ := json.Marshal(st)
	w.t.Fatalf("%s: not reached after %d ticks; state %s, observed %s\ntick log:\n%s", what, max, b, obs.Summary(), tick.Log())
	return step{}
}

// cliEnv is the CLI's environment: dummy credentials and nothing of the
// developer's AWS setup.
func (w *world) cliEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "TZ=UTC",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
	}
}

// kaizen runs the operator CLI against moto (through the recorder).
func (w *world) kaizen(args ...string) (code int, stdout, stderr string) {
	w.t.Helper()
	w.patchMoto()
	flags := []string{"--config", w.configPath(), "--endpoint", w.rec.URL(), "--dynamodb-endpoint", w.rec.URL(), "--table", w.table}
	// Flags go after the subcommand ("images prune" has two words).
	n := 1
	if len(args) > 1 && args[0] == "images" {
		n = 2
	}
	all := append(append(append([]string(nil), args[:n]...), flags...), args[n:]...)
	return runCLI(w.t, w.cliEnv(), all...)
}

// ---- moto state, read back through the SDK ----

// group describes a color's Auto Scaling group.
func (w *world) group(c config.Color) astypes.AutoScalingGroup {
	w.t.Helper()
	out, err := w.asg.DescribeAutoScalingGroups(w.ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{w.spec.name + "-" + string(c)}})
	w.must(err, "describe auto scaling group")
	if len(out.AutoScalingGroups) != 1 {
		w.t.Fatalf("moto (%s): group %s-%s not found", w.spec.region, w.spec.name, c)
	}
	return out.AutoScalingGroups[0]
}

// templateImage is the AMI of a launch template version.
func (w *world) templateImage(c config.Color, version string) string {
	w.t.Helper()
	out, err := w.ec2.DescribeLaunchTemplateVersions(w.ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(w.lt[c]), Versions: []string{version}})
	w.must(err, "describe launch template versions")
	if len(out.LaunchTemplateVersions) != 1 || out.LaunchTemplateVersions[0].LaunchTemplateData == nil {
		w.t.Fatalf("moto (%s): launch template %s version %s not found", w.spec.region, w.lt[c], version)
	}
	return aws.ToString(out.LaunchTemplateVersions[0].LaunchTemplateData.ImageId)
}

// forwardsTo names the colors a forward action sends to, with weights.
func (w *world) forwardsTo(actions []elbtypes.Action) string {
	name := func(arn string) string {
		for _, c := range config.Colors {
			if w.tg[c] == arn {
				return string(c)
			}
		}
		return arn
	}
	var parts []string
	for _, a := range actions {
		if a.Type != elbtypes.ActionTypeEnumForward {
			parts = append(parts, string(a.Type))
			continue
		}
		if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
			var ws []string
			for _, tg := range a.ForwardConfig.TargetGroups {
				ws = append(ws, fmt.Sprintf("%s:%d", name(aws.ToString(tg.TargetGroupArn)), aws.ToInt32(tg.Weight)))
			}
			parts = append(parts, strings.Join(ws, ","))
			continue
		}
		parts = append(parts, name(aws.ToString(a.TargetGroupArn)))
	}
	return strings.Join(parts, ";")
}

// public is where the listener's default action sends the public.
func (w *world) public() string {
	w.t.Helper()
	out, err := w.elb.DescribeListeners(w.ctx, &elbv2.DescribeListenersInput{ListenerArns: []string{w.listener}})
	w.must(err, "describe listener")
	return w.forwardsTo(out.Listeners[0].DefaultActions)
}

// preview is where the office preview rule sends, with its conditions
// checked to be untouched.
func (w *world) preview() string {
	w.t.Helper()
	out, err := w.elb.DescribeRules(w.ctx, &elbv2.DescribeRulesInput{RuleArns: []string{w.rule}})
	w.must(err, "describe preview rule")
	r := out.Rules[0]
	if len(r.Conditions) != 1 || aws.ToString(r.Conditions[0].Field) != "source-ip" || r.Conditions[0].SourceIpConfig == nil ||
		strings.Join(r.Conditions[0].SourceIpConfig.Values, ",") != office {
		w.t.Errorf("the preview rule's conditions changed: %+v", r.Conditions)
	}
	return w.forwardsTo(r.Actions)
}

// colorState is a one-line view of a color's group as moto has it.
func (w *world) colorState(c config.Color) string {
	g := w.group(c)
	return fmt.Sprintf("%s: v%s %d/%d/%d, %d instances", c, aws.ToString(g.LaunchTemplate.Version),
		aws.ToInt32(g.MinSize), aws.ToInt32(g.DesiredCapacity), aws.ToInt32(g.MaxSize), len(g.Instances))
}

// ---- events, from the samples in events/ ----

// event reads a sample event from events/ and makes it this world's: a
// fresh id, moto's account, the world's region, the given time, resources
// and detail fields.
func (w *world) event(sample string, at time.Time, resources []string, detail map[string]any) []byte {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(root(w.t), "events", sample))
	if err != nil {
		w.t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(b, &e); err != nil {
		w.t.Fatalf("events/%s: %v", sample, err)
	}
	w.seq++
	e["id"] = fmt.Sprintf("conformance-%s-%d-%d", w.spec.name, os.Getpid(), w.seq)
	e["account"], e["region"] = account, w.spec.region
	e["time"] = at.UTC().Format(time.RFC3339)
	e["resources"] = resources
	d, _ := e["detail"].(map[string]any)
	merge(d, detail)
	out, err := json.Marshal(e)
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// merge sets src's fields in dst, recursing into objects.
func merge(dst, src map[string]any) {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			if d, ok := dst[k].(map[string]any); ok {
				merge(d, sub)
				continue
			}
		}
		dst[k] = v
	}
}

func (w *world) amiAvailable(ami string) []byte {
	return w.event("ami-available.json", time.Now(), []string{"arn:aws:ec2:" + w.spec.region + "::image/" + ami},
		map[string]any{"ImageId": ami, "State": "available", "RequestId": fmt.Sprintf("00000000-0000-4000-8000-%012d", w.seq)})
}

func (w *world) approval(execution, state string) []byte {
	a := w.app.Approval
	return w.event("approval-started.json", time.Now(), []string{"arn:aws:codepipeline:" + w.spec.region + ":" + account + ":" + a.Pipeline},
		map[string]any{"pipeline": a.Pipeline, "stage": a.Stage, "action": a.Action, "execution-id": execution, "state": state, "region": w.spec.region})
}

func (w *world) tick() []byte {
	return w.event("tick.json", time.Now(), []string{"arn:aws:events:" + w.spec.region + ":" + account + ":rule/kaizen-tick"}, nil)
}

// alarm builds a CloudWatch Alarm State Change from the sample of the
// alarm's role; its transition is at `at`.
func (w *world) alarm(name, state, previous string, at time.Time) []byte {
	al, ok := w.app.Alarm(name)
	if !ok {
		w.t.Fatalf("no alarm %s in the configuration", name)
	}
	sample, dims := "alarm-guard.json", map[string]any{"TargetGroup": w.tg[config.Green][strings.Index(w.tg[config.Green], "targetgroup/"):]}
	if al.Role == config.RoleCapacity {
		sample, dims = "alarm-capacity.json", map[string]any{"AutoScalingGroupName": w.app.Blue.ASG}
	}
	const cw = "2006-01-02T15:04:05.000+0000"
	b := w.event(sample, at, []string{"arn:aws:cloudwatch:" + w.spec.region + ":" + account + ":alarm:" + name}, map[string]any{
		"alarmName":     name,
		"state":         map[string]any{"value": state, "timestamp": at.UTC().Format(cw)},
		"previousState": map[string]any{"value": previous, "timestamp": at.Add(-5 * time.Minute).UTC().Format(cw)},
	})
	// The metric's dimensions name this world's resources.
	var e map[string]any
	_ = json.Unmarshal(b, &e)
	for _, m := range e["detail"].(map[string]any)["configuration"].(map[string]any)["metrics"].([]any) {
		m.(map[string]any)["metricStat"].(map[string]any)["metric"].(map[string]any)["dimensions"] = dims
	}
	b, _ = json.Marshal(e)
	return b
}

// ---- the SNS topic's subscriber ----

// inbox is an HTTP endpoint subscribed to the app's topic: moto delivers
// every published message to it, as SNS would.
type inbox struct {
	srv  *httptest.Server
	mu   sync.Mutex
	msgs []notification
}

type notification struct {
	Type     string
	TopicArn string
	Subject  string
	Message  string
}

func newInbox(t *testing.T) *inbox {
	in := &inbox{}
	in.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var n notification
		if err := json.Unmarshal(b, &n); err == nil {
			in.mu.Lock()
			in.msgs = append(in.msgs, n)
			in.mu.Unlock()
		}
	}))
	t.Cleanup(in.srv.Close)
	return in
}

// subjects lists the subjects delivered so far.
func (in *inbox) subjects() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	var out []string
	for _, m := range in.msgs {
		if m.Type == "Notification" {
			out = append(out, m.Subject)
		}
	}
	return out
}
