package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

type instance struct {
	id, version, ami, zone string
	launched               time.Time
}

type group struct {
	name              string
	min, desired, max int
	ltID              string
	// ltVersion is the launch template version exactly as set: a number,
	// "$Latest" or "$Default". DescribeAutoScalingGroups reports it as it
	// is, as AWS does; only a launch resolves it.
	ltVersion   string
	targetGroup string
	instances   []*instance
	// suspended holds the suspended processes and when each was
	// suspended.
	suspended map[string]time.Time
	arn       string
	created   time.Time
	launches  int
	// scaling holds the group's policies and scheduled actions
	// (scaling.go); instanceTime sums its instances' running time.
	scaling      *scaling
	instanceTime time.Duration
}

// AllProcesses are the scaling processes of an Auto Scaling group.
var AllProcesses = []string{"Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification", "AZRebalance", "HealthCheck", "InstanceRefresh", "ReplaceUnhealthy", "ScheduledActions"}

// AutoScaling is the simulated EC2 Auto Scaling API.
type AutoScaling struct{ c *Cloud }

// AutoScaling returns the Auto Scaling client of the cloud.
func (c *Cloud) AutoScaling() *AutoScaling { return &AutoScaling{c} }

// AddGroup creates an Auto Scaling group pinned to a launch template
// version and attached to a target group. Its initial instances are
// already healthy.
func (c *Cloud) AddGroup(name, ltID, version, targetGroup string, min, desired, max int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := &group{name: name, ltID: ltID, ltVersion: version, targetGroup: targetGroup, min: min, desired: desired, max: max, suspended: map[string]time.Time{},
		created: c.now.Add(-24 * time.Hour)}
	g.arn = fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s", c.Region, c.Account, nameUUID(name), name)
	c.groups[name] = g
	long := c.now.Add(-time.Hour)
	for i := 0; i < desired; i++ {
		c.launch(g, long)
	}
}

func (c *Cloud) launch(g *group, at time.Time) {
	t := c.templates[g.ltID]
	lv, err := t.resolve(g.ltVersion)
	if err != nil {
		return
	}
	zones := c.zones()
	g.instances = append(g.instances, &instance{id: c.id("i"), version: strconv.FormatInt(lv.number, 10), ami: lv.imageID, launched: at,
		zone: zones[g.launches%len(zones)]})
	g.launches++
}

// zones are the Availability Zones every group spans.
func (c *Cloud) zones() []string { return []string{c.Region + "a", c.Region + "b", c.Region + "c"} }

// nameUUID is an id in a UUID's shape derived from name, so that it
// takes nothing from the sequence other ids come from.
func nameUUID(name string) string {
	h := sha256.Sum256([]byte(name))
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-4" + x[13:16] + "-8" + x[17:20] + "-" + x[20:32]
}

// converge brings each group to its desired capacity, as Auto Scaling does
// within seconds of a change. Callers hold mu.
func (c *Cloud) converge() {
	names := make([]string, 0, len(c.groups))
	for n := range c.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		g := c.groups[n]
		_, noLaunch := g.suspended["Launch"]
		_, noTerminate := g.suspended["Terminate"]
		for len(g.instances) < g.desired && !noLaunch {
			c.launch(g, c.now)
		}
		if len(g.instances) > g.desired && !noTerminate {
			cur := g.ltVersion
			if t := c.templates[g.ltID]; t != nil {
				if lv, err := t.resolve(g.ltVersion); err == nil {
					cur = strconv.FormatInt(lv.number, 10)
				}
			}
			// The default termination policy: instances of an older launch
			// template version first, then the oldest.
			sort.SliceStable(g.instances, func(i, j int) bool {
				oi, oj := g.instances[i].version != cur, g.instances[j].version != cur
				if oi != oj {
					return oi
				}
				return g.instances[i].launched.Before(g.instances[j].launched)
			})
			g.instances = append([]*instance(nil), g.instances[len(g.instances)-g.desired:]...)
		}
	}
}

func (c *Cloud) inService(in *instance) bool { return !c.now.Before(in.launched.Add(c.LaunchDelay)) }

func (c *Cloud) healthy(in *instance) bool {
	return !c.never[in.ami] && !c.now.Before(in.launched.Add(c.LaunchDelay+c.HealthyDelay))
}

func (a *AutoScaling) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	return serve(a.c, ctx, OpDescribeAutoScalingGroups, in, a.describeGroups)
}

func (a *AutoScaling) describeGroups(in *autoscaling.DescribeAutoScalingGroupsInput) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	c := a.c
	names, next, err := c.groupPage(in)
	if err != nil {
		return nil, err
	}
	var out []astypes.AutoScalingGroup
	for _, n := range names {
		g := c.groups[n]
		sg := astypes.AutoScalingGroup{
			AutoScalingGroupName: aws.String(g.name), AutoScalingGroupARN: aws.String(g.arn),
			MinSize: aws.Int32(int32(g.min)), DesiredCapacity: aws.Int32(int32(g.desired)), MaxSize: aws.Int32(int32(g.max)),
			LaunchTemplate:    &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(g.ltID), Version: aws.String(g.ltVersion)},
			TargetGroupARNs:   []string{g.targetGroup},
			AvailabilityZones: c.zones(), CreatedTime: aws.Time(g.created),
			DefaultCooldown: aws.Int32(300), HealthCheckType: aws.String("ELB"), HealthCheckGracePeriod: aws.Int32(600), // the reference fleet's
		}
		for _, p := range sortedSet(g.suspended) {
			// As AWS words it: "User suspended at 2019-09-03T17:29:07Z".
			reason := "User suspended at " + g.suspended[p].UTC().Format("2006-01-02T15:04:05Z")
			sg.SuspendedProcesses = append(sg.SuspendedProcesses, astypes.SuspendedProcess{ProcessName: aws.String(p), SuspensionReason: aws.String(reason)})
		}
		for _, i := range g.instances {
			state := astypes.LifecycleStatePending
			if c.inService(i) {
				state = astypes.LifecycleStateInService
			}
			sg.Instances = append(sg.Instances, astypes.Instance{
				InstanceId: aws.String(i.id), LifecycleState: state, HealthStatus: aws.String("Healthy"),
				AvailabilityZone: aws.String(i.zone), ProtectedFromScaleIn: aws.Bool(false),
				LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String(g.ltID), Version: aws.String(i.version)},
			})
		}
		out = append(out, sg)
	}
	return &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: out, NextToken: next}, nil
}

// groupPage is the page of group names a DescribeAutoScalingGroups call
// answers, as AWS pages it: MaxRecords (default 50, at most 100) bounds
// both the names a call may give and the groups a page holds; names AWS
// does not know are left out; without names, every group.
func (c *Cloud) groupPage(in *autoscaling.DescribeAutoScalingGroupsInput) ([]string, *string, error) {
	size, err := pageSize("maxRecords", in.MaxRecords, defaultGroupsPage, maxGroupsPage)
	if err != nil {
		return nil, nil, err
	}
	if len(in.AutoScalingGroupNames) > size {
		return nil, nil, validation("The number of group names (%d) exceeds MaxRecords (%d)", len(in.AutoScalingGroupNames), size)
	}
	if len(in.Filters) > 0 {
		return nil, nil, validation("the simulation does not implement DescribeAutoScalingGroups filters")
	}
	var names []string
	for _, n := range in.AutoScalingGroupNames {
		if c.groups[n] != nil && !contains(names, n) {
			names = append(names, n)
		}
	}
	if len(in.AutoScalingGroupNames) == 0 {
		names = sortedSet(c.groups)
	}
	sort.Strings(names)
	from, to, next, err := pageOf(OpDescribeAutoScalingGroups, aws.ToString(in.NextToken), size, len(names))
	if err != nil {
		return nil, nil, err
	}
	if next == "" {
		return names[from:to], nil, nil
	}
	return names[from:to], aws.String(next), nil
}

func (a *AutoScaling) UpdateAutoScalingGroup(ctx context.Context, in *autoscaling.UpdateAutoScalingGroupInput, _ ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
	return serve(a.c, ctx, OpUpdateAutoScalingGroup, in, a.updateGroup)
}

func (a *AutoScaling) updateGroup(in *autoscaling.UpdateAutoScalingGroupInput) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
	c := a.c
	g := c.groups[aws.ToString(in.AutoScalingGroupName)]
	if g == nil {
		return nil, validation("AutoScalingGroup name not found - null")
	}
	mn, des, mx := g.min, g.desired, g.max
	if in.MinSize != nil {
		mn = int(*in.MinSize)
	}
	if in.MaxSize != nil {
		mx = int(*in.MaxSize)
	}
	if in.DesiredCapacity != nil {
		des = int(*in.DesiredCapacity)
	} else {
		// As AWS does: a new bound without a desired capacity drags the
		// desired capacity into range.
		des = max(min(des, mx), mn)
	}
	if mn < 0 || mx < 0 || des < 0 {
		return nil, validation("sizes must not be negative")
	}
	if mx < mn {
		return nil, validation("Max bound, %d, must be greater than or equal to min bound, %d", mx, mn)
	}
	if des < mn || des > mx {
		return nil, validation("Desired capacity:%d must be between the specified min size:%d and max size:%d", des, mn, mx)
	}
	ltID, ver := g.ltID, g.ltVersion
	if lt := in.LaunchTemplate; lt != nil {
		ltID, ver = aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.Version)
		if ver == "" {
			ver = "$Default" // AWS's default, and what it then reports
		}
		t := c.templates[ltID]
		if t == nil {
			return nil, validation("You must use a valid fully-formed launch template. The specified launch template, with template ID %s, does not exist.", ltID)
		}
		if _, err := t.resolve(ver); err != nil {
			return nil, validation("You must use a valid fully-formed launch template. %v", err)
		}
	}
	g.min, g.desired, g.max, g.ltID, g.ltVersion = mn, des, mx, ltID, ver
	return &autoscaling.UpdateAutoScalingGroupOutput{}, nil
}

// processes suspends (set) or resumes the named processes of a group.
// Callers hold mu.
func (a *AutoScaling) processes(name *string, procs []string, set bool) error {
	g := a.c.groups[aws.ToString(name)]
	if g == nil {
		return validation("AutoScalingGroup name not found - %s", aws.ToString(name))
	}
	if len(procs) == 0 {
		procs = AllProcesses
	}
	for _, p := range procs {
		if !contains(AllProcesses, p) {
			return validation("Invalid scaling process %s", p)
		}
	}
	for _, p := range procs {
		if set {
			// Suspending a suspended process again keeps the first time
			// (AWS does not document which it reports).
			if _, ok := g.suspended[p]; !ok {
				g.suspended[p] = a.c.now
			}
		} else {
			delete(g.suspended, p)
		}
	}
	return nil
}

func (a *AutoScaling) SuspendProcesses(ctx context.Context, in *autoscaling.SuspendProcessesInput, _ ...func(*autoscaling.Options)) (*autoscaling.SuspendProcessesOutput, error) {
	return serve(a.c, ctx, OpSuspendProcesses, in, func(in *autoscaling.SuspendProcessesInput) (*autoscaling.SuspendProcessesOutput, error) {
		return &autoscaling.SuspendProcessesOutput{}, a.processes(in.AutoScalingGroupName, in.ScalingProcesses, true)
	})
}

func (a *AutoScaling) ResumeProcesses(ctx context.Context, in *autoscaling.ResumeProcessesInput, _ ...func(*autoscaling.Options)) (*autoscaling.ResumeProcessesOutput, error) {
	return serve(a.c, ctx, OpResumeProcesses, in, func(in *autoscaling.ResumeProcessesInput) (*autoscaling.ResumeProcessesOutput, error) {
		return &autoscaling.ResumeProcessesOutput{}, a.processes(in.AutoScalingGroupName, in.ScalingProcesses, false)
	})
}

func sortedSet[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
