package cloud

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// Fleet observes and changes one region's blue/green fleets.
type Fleet struct {
	EC2 EC2API
	ASG AutoScalingAPI
	ELB ELBv2API
	SNS SNSAPI
	// CW reads the guard alarms' states for an approval's evidence
	// (alarms.go); nil leaves them out.
	CW AlarmsAPI
	// Attempts per mutating call for retryable errors (throttling, 5xx,
	// timeouts). The SDK clients retry on their own, so main sets 1 for them;
	// the simulation relies on this.
	Attempts int
	// Sleep waits between attempts; nil means no wait (tests, simulation).
	Sleep func(ctx context.Context, d time.Duration)
	// Versions, if set, remembers numbered launch template versions (they
	// never change): a group's pinned version is read once, not every step.
	Versions *VersionCache
}

// retry runs a mutating call with bounded retries and wraps its error with
// the operation's name.
func (f *Fleet) retry(ctx context.Context, op string, call func() error) error {
	n := max(f.Attempts, 1)
	var err error
	for i := 0; i < n; i++ {
		if err = call(); err == nil {
			return nil
		}
		if !IsRetryable(err) || ctx.Err() != nil {
			break
		}
		if f.Sleep != nil && i+1 < n {
			f.Sleep(ctx, time.Duration(50<<i)*time.Millisecond)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// Observe reads what the app's fleet looks like now: weights of the public
// default action, the preview rule's color, and per color the pinned
// template version, its AMI, capacity and healthy targets.
func (f *Fleet) Observe(ctx context.Context, app *config.App) (release.Observed, error) {
	obs := release.Observed{Weights: map[config.Color]int{}, Colors: map[config.Color]*release.ColorView{}}
	byName, err := f.describeGroups(ctx, []string{app.Blue.ASG, app.Green.ASG})
	if err != nil {
		return obs, fmt.Errorf("describe auto scaling groups: %w", err)
	}
	for _, c := range config.Colors {
		cc := app.Color(c)
		g, ok := byName[cc.ASG]
		if !ok {
			return obs, fmt.Errorf("auto scaling group %s (%s) not found", cc.ASG, c)
		}
		v, err := f.colorView(ctx, app, c, g)
		if err != nil {
			return obs, err
		}
		obs.Colors[c] = v
	}
	ls, err := f.describeListeners(ctx, []string{app.ListenerARN})
	if err != nil {
		return obs, fmt.Errorf("describe listener: %w", err)
	}
	rs, err := f.describeRules(ctx, []string{app.Preview.RuleARN})
	if err != nil {
		return obs, fmt.Errorf("describe preview rule: %w", err)
	}
	return obs, traffic(app, &obs, ls, rs)
}

// traffic reads the public weights off the app's listener and the color
// of its preview rule into obs.
func traffic(app *config.App, obs *release.Observed, ls map[string]elbtypes.Listener, rs map[string]elbtypes.Rule) error {
	l, ok := ls[app.ListenerARN]
	if !ok {
		return fmt.Errorf("listener %s not found", app.ListenerARN)
	}
	w, err := weights(app, l.DefaultActions)
	if err != nil {
		return fmt.Errorf("listener %s: %w", app.ListenerARN, err)
	}
	obs.Weights = w
	if r, ok := rs[app.Preview.RuleARN]; ok {
		if w, err := weights(app, r.Actions); err == nil {
			for c, n := range w {
				if n == 100 {
					obs.Preview = c
				}
			}
		}
	}
	return nil
}

func (f *Fleet) colorView(ctx context.Context, app *config.App, c config.Color, g astypes.AutoScalingGroup) (*release.ColorView, error) {
	cc := app.Color(c)
	lt, err := pinned(app, c, g)
	if err != nil {
		return nil, err
	}
	ltv, err := f.templateVersion(ctx, cc.LaunchTemplateID, aws.ToString(lt.Version))
	if err != nil {
		return nil, err
	}
	th, err := f.ELB.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(cc.TargetGroupARN)})
	if err != nil {
		return nil, fmt.Errorf("describe target health of %s: %w", c, err)
	}
	healthy := map[string]bool{}
	for _, d := range th.TargetHealthDescriptions {
		if d.Target != nil && d.TargetHealth != nil && d.TargetHealth.State == elbtypes.TargetHealthStateEnumHealthy {
			healthy[aws.ToString(d.Target.Id)] = true
		}
	}
	return view(g, &ltv, healthy), nil
}

// pinned is the launch template the color's group launches from, which
// must be the configured one.
func pinned(app *config.App, c config.Color, g astypes.AutoScalingGroup) (*astypes.LaunchTemplateSpecification, error) {
	cc := app.Color(c)
	lt := g.LaunchTemplate
	if lt == nil {
		return nil, fmt.Errorf("auto scaling group %s uses no launch template (mixed instances policies are not supported)", cc.ASG)
	}
	if id := aws.ToString(lt.LaunchTemplateId); id != "" && id != cc.LaunchTemplateID {
		return nil, fmt.Errorf("auto scaling group %s uses launch template %s, but the configuration says %s", cc.ASG, id, cc.LaunchTemplateID)
	}
	return lt, nil
}

// view is a color as its group, its pinned template version (nil: not
// read; the version is then the group's as set, and the AMI unknown) and
// its healthy targets (nil: not read, none counted) show it.
func view(g astypes.AutoScalingGroup, ltv *ec2types.LaunchTemplateVersion, healthy map[string]bool) *release.ColorView {
	v := &release.ColorView{Capacity: release.Capacity{
		Min: int(aws.ToInt32(g.MinSize)), Desired: int(aws.ToInt32(g.DesiredCapacity)), Max: int(aws.ToInt32(g.MaxSize)),
	}}
	for _, p := range g.SuspendedProcesses {
		v.Suspended = append(v.Suspended, aws.ToString(p.ProcessName))
	}
	sort.Strings(v.Suspended)
	if g.LaunchTemplate != nil {
		v.Version = aws.ToString(g.LaunchTemplate.Version)
	}
	if ltv != nil {
		v.Version = strconv.FormatInt(aws.ToInt64(ltv.VersionNumber), 10)
		if ltv.LaunchTemplateData != nil {
			v.AMI = aws.ToString(ltv.LaunchTemplateData.ImageId)
		}
	}
	for _, in := range g.Instances {
		if terminating(in.LifecycleState) {
			continue
		}
		v.Instances++
		if in.LaunchTemplate != nil && aws.ToString(in.LaunchTemplate.Version) == v.Version {
			v.OnVersion++
			if healthy[aws.ToString(in.InstanceId)] && in.LifecycleState == astypes.LifecycleStateInService {
				v.Healthy++
			}
		}
	}
	return v
}

func terminating(s astypes.LifecycleState) bool {
	return strings.HasPrefix(string(s), "Terminat") || strings.HasPrefix(string(s), "Detach") || s == astypes.LifecycleStateStandby
}

// weights reads a forward action as percent per color.
func weights(app *config.App, actions []elbtypes.Action) (map[config.Color]int, error) {
	w := map[config.Color]int{}
	for _, a := range actions {
		if a.Type != elbtypes.ActionTypeEnumForward {
			continue
		}
		if a.ForwardConfig != nil && len(a.ForwardConfig.TargetGroups) > 0 {
			total := 0
			raw := map[config.Color]int{}
			for _, tg := range a.ForwardConfig.TargetGroups {
				c, ok := app.ColorOfTargetGroup(aws.ToString(tg.TargetGroupArn))
				if !ok {
					return nil, fmt.Errorf("forwards to target group %s, which is neither blue nor green", aws.ToString(tg.TargetGroupArn))
				}
				n := int(aws.ToInt32(tg.Weight))
				if tg.Weight == nil && len(a.ForwardConfig.TargetGroups) == 1 {
					n = 1
				}
				raw[c] += n
				total += n
			}
			if total == 0 {
				return nil, fmt.Errorf("forward action has zero total weight")
			}
			for c, n := range raw {
				w[c] = n * 100 / total
			}
			// Keep the sum at 100 after integer division.
			if s := w[config.Blue] + w[config.Green]; s != 100 && len(raw) == 2 {
				w[config.Blue] += 100 - s
			}
			return w, nil
		}
		c, ok := app.ColorOfTargetGroup(aws.ToString(a.TargetGroupArn))
		if !ok {
			return nil, fmt.Errorf("forwards to target group %s, which is neither blue nor green", aws.ToString(a.TargetGroupArn))
		}
		w[c] = 100
		return w, nil
	}
	return nil, fmt.Errorf("no forward action")
}

// Image describes one AMI. A missing AMI returns (nil, nil).
func (f *Fleet) Image(ctx context.Context, id string) (*release.Image, error) {
	out, err := f.EC2.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{id}})
	if err != nil {
		if IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("describe image %s: %w", id, err)
	}
	if len(out.Images) == 0 {
		return nil, nil
	}
	img := toImage(out.Images[0])
	return &img, nil
}

// NewestImage finds the newest available AMI tagged for the app; AMI state
// change events are best effort, so tick sweeps with this.
func (f *Fleet) NewestImage(ctx context.Context, app *config.App) (*release.Image, error) {
	images, err := f.describeImages(ctx, &ec2.DescribeImagesInput{
		// The account's own images and those of the app's image accounts:
		// anyone can tag a public AMI with the app's tag.
		Owners: append([]string{"self"}, app.ImageOwners...),
		Filters: []ec2types.Filter{
			{Name: aws.String("tag:" + app.ImageTag.Key), Values: []string{app.ImageTag.Value}},
			{Name: aws.String("state"), Values: []string{"available"}},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("describe images tagged %s=%s: %w", app.ImageTag.Key, app.ImageTag.Value, err)
	}
	var newest *release.Image
	for _, i := range images {
		img := toImage(i)
		if newest == nil || img.Created.After(newest.Created) || (img.Created.Equal(newest.Created) && img.ID > newest.ID) {
			newest = &img
		}
	}
	return newest, nil
}

func toImage(i ec2types.Image) release.Image {
	img := release.Image{
		ID: aws.ToString(i.ImageId), Name: aws.ToString(i.Name), State: string(i.State), Tags: map[string]string{},
		Owner: aws.ToString(i.OwnerId), Public: aws.ToBool(i.Public),
	}
	if t, err := time.Parse(time.RFC3339, aws.ToString(i.CreationDate)); err == nil {
		img.Created = t
	}
	for _, t := range i.Tags {
		img.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	for _, b := range i.BlockDeviceMappings {
		if b.Ebs != nil && b.Ebs.SnapshotId != nil {
			img.Snapshots = append(img.Snapshots, aws.ToString(b.Ebs.SnapshotId))
		}
	}
	return img
}

// Images lists every AMI tagged for the app, whatever its state.
func (f *Fleet) Images(ctx context.Context, app *config.App) ([]release.Image, error) {
	images, err := f.describeImages(ctx, &ec2.DescribeImagesInput{
		Owners:  []string{"self"},
		Filters: []ec2types.Filter{{Name: aws.String("tag:" + app.ImageTag.Key), Values: []string{app.ImageTag.Value}}},
	})
	if err != nil {
		return nil, fmt.Errorf("describe images tagged %s=%s: %w", app.ImageTag.Key, app.ImageTag.Value, err)
	}
	imgs := make([]release.Image, 0, len(images))
	for _, i := range images {
		imgs = append(imgs, toImage(i))
	}
	return imgs, nil
}

// DeleteImage deregisters an AMI, then deletes its snapshots (a snapshot
// cannot go while a registered AMI uses it). An AMI already deregistered
// (InvalidAMIID.Unavailable: a retry after a response that was lost) or
// gone (*.NotFound) counts as deregistered, so a retried prune finishes.
func (f *Fleet) DeleteImage(ctx context.Context, img release.Image) error {
	if err := f.retry(ctx, "deregister image "+img.ID, func() error {
		_, err := f.EC2.DeregisterImage(ctx, &ec2.DeregisterImageInput{ImageId: aws.String(img.ID)})
		var ae smithy.APIError
		if IsNotFound(err) || errors.As(err, &ae) && ae.ErrorCode() == "InvalidAMIID.Unavailable" {
			return nil // already gone: deleting is idempotent
		}
		return err
	}); err != nil {
		return err
	}
	for _, s := range img.Snapshots {
		if err := f.retry(ctx, "delete snapshot "+s, func() error {
			_, err := f.EC2.DeleteSnapshot(ctx, &ec2.DeleteSnapshotInput{SnapshotId: aws.String(s)})
			if IsNotFound(err) {
				return nil
			}
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// Ours reports whether an image carries the app's tag.
func Ours(app *config.App, img *release.Image) bool {
	return img != nil && img.Tags[app.ImageTag.Key] == app.ImageTag.Value
}

// Apply performs one action. obs is the observation the plan was made from
// (it names the template version a new version derives from).
func (f *Fleet) Apply(ctx context.Context, app *config.App, obs release.Observed, a release.Action) error {
	switch a.Kind {
	case release.PutAMI:
		return f.putAMI(ctx, app, obs, a)
	case release.SetCapacity:
		return f.retry(ctx, "update auto scaling group "+app.Color(a.Color).ASG, func() error {
			_, err := f.ASG.UpdateAutoScalingGroup(ctx, capacityInput(app.Color(a.Color).ASG, *a.Capacity))
			return err
		})
	case release.Shift:
		return f.retry(ctx, "modify listener", func() error {
			_, err := f.ELB.ModifyListener(ctx, &elbv2.ModifyListenerInput{
				ListenerArn: aws.String(app.ListenerARN), DefaultActions: forward(app, a.Weights),
			})
			return err
		})
	case release.PointPreview:
		return f.retry(ctx, "modify preview rule", func() error {
			_, err := f.ELB.ModifyRule(ctx, &elbv2.ModifyRuleInput{
				RuleArn: aws.String(app.Preview.RuleARN),
				Actions: forward(app, map[config.Color]int{a.Color: 100}),
			})
			return err
		})
	case release.Suspend:
		return f.retry(ctx, "suspend processes", func() error {
			_, err := f.ASG.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{
				AutoScalingGroupName: aws.String(app.Color(a.Color).ASG), ScalingProcesses: a.Processes,
			})
			return err
		})
	case release.Resume:
		return f.retry(ctx, "resume processes", func() error {
			_, err := f.ASG.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{
				AutoScalingGroupName: aws.String(app.Color(a.Color).ASG), ScalingProcesses: a.Processes,
			})
			return err
		})
	case release.PutScaling, release.DeleteScaling:
		return f.applyScaling(ctx, app, a)
	case release.Notify:
		if a.Chat != nil {
			return f.publish(ctx, app, ChatNotice(*a.Chat))
		}
		return f.Notify(ctx, app, a.Subject, a.Message)
	}
	return fmt.Errorf("unknown action %q", a.Kind)
}

func (f *Fleet) putAMI(ctx context.Context, app *config.App, obs release.Observed, a release.Action) error {
	cc := app.Color(a.Color)
	src := obs.Color(a.Color).Version
	if src == "" || strings.HasPrefix(src, "(") {
		src = "$Default"
	}
	var version int64
	err := f.retry(ctx, "create launch template version of "+cc.LaunchTemplateID, func() error {
		out, err := f.EC2.CreateLaunchTemplateVersion(ctx, &ec2.CreateLaunchTemplateVersionInput{
			LaunchTemplateId:   aws.String(cc.LaunchTemplateID),
			SourceVersion:      aws.String(src),
			ClientToken:        aws.String(a.Token),
			VersionDescription: aws.String("kaizen: " + a.AMI),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String(a.AMI)},
		})
		if err != nil {
			return err
		}
		if out.LaunchTemplateVersion == nil {
			return fmt.Errorf("no version returned")
		}
		version = aws.ToInt64(out.LaunchTemplateVersion.VersionNumber)
		return nil
	})
	if err != nil {
		return err
	}
	in := &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(cc.ASG),
		// Pinned, never $Latest: an instance launched later (scale-out,
		// replacement) must run the AMI this release put there.
		LaunchTemplate: &astypes.LaunchTemplateSpecification{
			LaunchTemplateId: aws.String(cc.LaunchTemplateID), Version: aws.String(strconv.FormatInt(version, 10)),
		},
	}
	if a.Capacity != nil {
		c := capacityInput(cc.ASG, *a.Capacity)
		in.MinSize, in.DesiredCapacity, in.MaxSize = c.MinSize, c.DesiredCapacity, c.MaxSize
	}
	return f.retry(ctx, "update auto scaling group "+cc.ASG, func() error {
		_, err := f.ASG.UpdateAutoScalingGroup(ctx, in)
		return err
	})
}

func capacityInput(name string, c release.Capacity) *autoscaling.UpdateAutoScalingGroupInput {
	return &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		MinSize:              aws.Int32(int32(c.Min)),
		DesiredCapacity:      aws.Int32(int32(c.Desired)),
		MaxSize:              aws.Int32(int32(c.Max)),
	}
}

// forward builds a forward action: a plain target group at 100%, or a
// weighted forward config during a shift.
func forward(app *config.App, w map[config.Color]int) []elbtypes.Action {
	for _, c := range config.Colors {
		if w[c] == 100 {
			return []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: aws.String(app.Color(c).TargetGroupARN)}}
		}
	}
	var tgs []elbtypes.TargetGroupTuple
	for _, c := range config.Colors {
		tgs = append(tgs, elbtypes.TargetGroupTuple{TargetGroupArn: aws.String(app.Color(c).TargetGroupARN), Weight: aws.Int32(int32(w[c]))})
	}
	return []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, ForwardConfig: &elbtypes.ForwardActionConfig{TargetGroups: tgs}}}
}

// Notifier tells an app's people: the port of everything that sends
// notices (the ALAS poller, the secret-change function). Fleet implements
// it over SNS, as does awsapi.SNSNotifier, which the functions that run no
// release step use (see api.go).
type Notifier = awsapi.Notifier

var (
	_ Notifier              = (*Fleet)(nil)
	_ awsapi.NoticeNotifier = (*Fleet)(nil)
)

// Notify implements Notifier: it publishes to the app's topic (see
// awsapi.Publish).
func (f *Fleet) Notify(ctx context.Context, app *config.App, subject, message string) error {
	return f.publish(ctx, app, awsapi.Notice{Subject: subject, Text: message})
}

// NotifyNotice implements awsapi.NoticeNotifier: the notice whole, chat
// card included.
func (f *Fleet) NotifyNotice(ctx context.Context, app *config.App, n awsapi.Notice) error {
	return f.publish(ctx, app, n)
}

// publish sends a notice with a message per protocol: text for email, a
// card for chat (awsapi.PublishNotice).
func (f *Fleet) publish(ctx context.Context, app *config.App, n awsapi.Notice) error {
	return f.retry(ctx, "publish to "+app.TopicARN, func() error {
		return awsapi.PublishNotice(ctx, f.SNS, app.TopicARN, n)
	})
}

// ChatNotice is a planner's notice as SNS subscribers read it.
func ChatNotice(c release.Chat) awsapi.Notice {
	return awsapi.Notice{
		Subject: c.Title, Text: c.Text(),
		Title: c.Title, Description: c.Description(), Next: c.NextMarkdown(), Keywords: c.Keywords,
		Thread: c.Thread, EventType: "kaizen." + string(c.Kind),
	}
}
