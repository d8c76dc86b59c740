package cloud

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// The APIs' page sizes and per-call limits (sources in shared/sim/limits.go).
const (
	// GroupsPerCall is DescribeAutoScalingGroups' most names per call and
	// groups per page (MaxRecords at most 100).
	GroupsPerCall = 100
	// ELBPageSize is DescribeListeners' and DescribeRules' largest page
	// (PageSize at most 400). ELB documents no maximum number of ARNs per
	// call, so ARNs are sent in chunks of a page.
	ELBPageSize = 400
	// ImagesPageSize is the DescribeImages page kaizen asks for: EC2
	// recommends paginating describe calls, and answers at most 1,000.
	ImagesPageSize = 1000
)

// chunks splits xs into slices of at most n.
func chunks(xs []string, n int) [][]string {
	var out [][]string
	for len(xs) > n {
		out = append(out, xs[:n])
		xs = xs[n:]
	}
	if len(xs) > 0 {
		out = append(out, xs)
	}
	return out
}

// describeGroups describes the named groups, GroupsPerCall names per
// call, following NextToken. Names AWS does not know are missing from the
// answer.
func (f *Fleet) describeGroups(ctx context.Context, names []string) (map[string]astypes.AutoScalingGroup, error) {
	out := map[string]astypes.AutoScalingGroup{}
	for _, chunk := range chunks(names, GroupsPerCall) {
		in := &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: chunk, MaxRecords: aws.Int32(GroupsPerCall)}
		for {
			page, err := f.ASG.DescribeAutoScalingGroups(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, g := range page.AutoScalingGroups {
				out[aws.ToString(g.AutoScalingGroupName)] = g
			}
			if aws.ToString(page.NextToken) == "" {
				break
			}
			in.NextToken = page.NextToken
		}
	}
	return out, nil
}

// describeListeners describes listeners by ARN, in pages of ELBPageSize.
func (f *Fleet) describeListeners(ctx context.Context, arns []string) (map[string]elbtypes.Listener, error) {
	out := map[string]elbtypes.Listener{}
	for _, chunk := range chunks(arns, ELBPageSize) {
		in := &elbv2.DescribeListenersInput{ListenerArns: chunk, PageSize: aws.Int32(ELBPageSize)}
		for {
			page, err := f.ELB.DescribeListeners(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, l := range page.Listeners {
				out[aws.ToString(l.ListenerArn)] = l
			}
			if aws.ToString(page.NextMarker) == "" {
				break
			}
			in.Marker = page.NextMarker
		}
	}
	return out, nil
}

// describeRules describes rules by ARN, in pages of ELBPageSize.
func (f *Fleet) describeRules(ctx context.Context, arns []string) (map[string]elbtypes.Rule, error) {
	out := map[string]elbtypes.Rule{}
	for _, chunk := range chunks(arns, ELBPageSize) {
		in := &elbv2.DescribeRulesInput{RuleArns: chunk, PageSize: aws.Int32(ELBPageSize)}
		for {
			page, err := f.ELB.DescribeRules(ctx, in)
			if err != nil {
				return nil, err
			}
			for _, r := range page.Rules {
				out[aws.ToString(r.RuleArn)] = r
			}
			if aws.ToString(page.NextMarker) == "" {
				break
			}
			in.Marker = page.NextMarker
		}
	}
	return out, nil
}

// describeImages runs a filtered DescribeImages to its last page.
func (f *Fleet) describeImages(ctx context.Context, in *ec2.DescribeImagesInput) ([]ec2types.Image, error) {
	in.MaxResults = aws.Int32(ImagesPageSize)
	var out []ec2types.Image
	for {
		page, err := f.EC2.DescribeImages(ctx, in)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Images...)
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// VersionCache remembers the launch template versions kaizen has read. A
// numbered version never changes (EC2 creates a new version for every
// change and never reuses a number), so what is remembered stays true;
// $Latest and $Default move, and are never cached. One cache serves one
// account and Region (a Fleet's).
type VersionCache struct {
	mu sync.Mutex
	m  map[string]ec2types.LaunchTemplateVersion
}

func versionKey(template, version string) string { return template + "\x00" + version }

// Get returns the cached version, if any.
func (c *VersionCache) Get(template, version string) (ec2types.LaunchTemplateVersion, bool) {
	if c == nil {
		return ec2types.LaunchTemplateVersion{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[versionKey(template, version)]
	return v, ok
}

func (c *VersionCache) put(template, version string, v ec2types.LaunchTemplateVersion) {
	if c == nil {
		return
	}
	if _, err := strconv.ParseInt(version, 10, 64); err != nil {
		return // $Latest, $Default: they move
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]ec2types.LaunchTemplateVersion{}
	}
	c.m[versionKey(template, version)] = v
}

// templateVersion reads one version of a launch template, from the cache
// when it is a number the Fleet has read before.
func (f *Fleet) templateVersion(ctx context.Context, template, version string) (ec2types.LaunchTemplateVersion, error) {
	if v, ok := f.Versions.Get(template, version); ok {
		return v, nil
	}
	out, err := f.EC2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{
		LaunchTemplateId: aws.String(template), Versions: []string{version},
	})
	if err != nil {
		return ec2types.LaunchTemplateVersion{}, fmt.Errorf("describe launch template %s version %s: %w", template, version, err)
	}
	if len(out.LaunchTemplateVersions) != 1 {
		return ec2types.LaunchTemplateVersion{}, fmt.Errorf("launch template %s version %s not found", template, version)
	}
	v := out.LaunchTemplateVersions[0]
	f.Versions.put(template, version, v)
	return v, nil
}
