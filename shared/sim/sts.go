package sim

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/kaizen-sre/kaizen/shared/cloud"
)

// Accounts in the simulation. STS hands out credentials for the roles
// member accounts lend (Trust), and remembers which role each access key
// belongs to. A Cloud's As gives clients that sign every call with a
// credentials provider, as the SDK's clients do: each call retrieves the
// credentials, and the Cloud records who made it (Call.Principal). A
// call with credentials of a role in another account is refused, as AWS
// would find none of this account's resources for it.

// STS is the simulated Security Token Service, shared by the accounts.
type STS struct {
	mu      sync.Mutex
	trusted map[string]bool   // role ARN -> may be assumed
	issued  map[string]string // access key -> role ARN
	assumed []AssumedRole
	seq     int
}

// AssumedRole is one AssumeRole call that succeeded.
type AssumedRole struct {
	RoleARN, Session, AccessKeyID string
}

// NewSTS returns an STS that trusts no role yet.
func NewSTS() *STS { return &STS{trusted: map[string]bool{}, issued: map[string]string{}} }

// Trust lets kaizen assume role (the member stack's trust policy).
func (s *STS) Trust(role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trusted[role] = true
}

// AssumeRole answers with fresh credentials for a trusted role, valid for
// the requested duration (default an hour), and AccessDenied otherwise.
func (s *STS) AssumeRole(_ context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	role := aws.ToString(in.RoleArn)
	session := aws.ToString(in.RoleSessionName)
	if session == "" || len(session) > 64 {
		return nil, APIError("ValidationError", "RoleSessionName must be 2 to 64 characters", smithy.FaultClient)
	}
	if !s.trusted[role] {
		return nil, APIError("AccessDenied", fmt.Sprintf("not authorized to perform sts:AssumeRole on resource %s", role), smithy.FaultClient)
	}
	s.seq++
	key := fmt.Sprintf("ASIASIM%013d", s.seq)
	s.issued[key] = role
	s.assumed = append(s.assumed, AssumedRole{RoleARN: role, Session: session, AccessKeyID: key})
	d := time.Hour
	if in.DurationSeconds != nil {
		d = time.Duration(*in.DurationSeconds) * time.Second
	}
	return &sts.AssumeRoleOutput{
		Credentials: &ststypes.Credentials{
			AccessKeyId: aws.String(key), SecretAccessKey: aws.String("sim-secret-" + key), SessionToken: aws.String("sim-token-" + key),
			Expiration: aws.Time(time.Now().Add(d)),
		},
		AssumedRoleUser: &ststypes.AssumedRoleUser{
			Arn:           aws.String(strings.Replace(strings.Replace(role, ":iam::", ":sts::", 1), ":role/", ":assumed-role/", 1) + "/" + session),
			AssumedRoleId: aws.String("AROASIM:" + session),
		},
	}, nil
}

// Assumed lists the successful AssumeRole calls, in order.
func (s *STS) Assumed() []AssumedRole {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]AssumedRole(nil), s.assumed...)
}

// RoleOf is the role an access key was issued for ("" for none).
func (s *STS) RoleOf(accessKey string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued[accessKey]
}

var _ cloud.STSAPI = (*STS)(nil)

type principalKey struct{}

// principalOf is who signed the call in ctx ("" for an unsigned call: a
// test or the seeding speaking to the simulation directly).
func principalOf(ctx context.Context) string {
	p, _ := ctx.Value(principalKey{}).(string)
	return p
}

// Signed is a Cloud's clients as one principal sees them.
type Signed struct {
	c     *Cloud
	creds aws.CredentialsProvider
	sts   *STS
}

// As returns clients that sign every call with creds: the principal
// recorded for each call is the role sts issued the credentials for, or
// the access key itself (the account's own credentials).
func (c *Cloud) As(creds aws.CredentialsProvider, s *STS) *Signed {
	return &Signed{c: c, creds: creds, sts: s}
}

func (s *Signed) sign(ctx context.Context) (context.Context, error) {
	v, err := s.creds.Retrieve(ctx)
	if err != nil {
		return ctx, fmt.Errorf("get credentials: %w", err)
	}
	p := v.AccessKeyID
	if s.sts != nil {
		if role := s.sts.RoleOf(v.AccessKeyID); role != "" {
			if acct := strings.Split(role, ":"); len(acct) > 4 && acct[4] != s.c.Account {
				return ctx, APIError("AccessDenied", fmt.Sprintf("%s of account %s has no access to account %s", role, acct[4], s.c.Account), smithy.FaultClient)
			}
			p = role
		}
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

// EC2, AutoScaling, ELBv2 and SNS are the signed clients.
// A method the interfaces gain later passes through unsigned until it
// is added here.
func (s *Signed) EC2() cloud.EC2API { return signedEC2{s, s.c.EC2()} }
func (s *Signed) AutoScaling() cloud.AutoScalingAPI {
	return signedAutoScaling{s, s.c.AutoScaling()}
}
func (s *Signed) ELBv2() cloud.ELBv2API { return signedELBv2{s, s.c.ELBv2()} }
func (s *Signed) SNS() cloud.SNSAPI     { return signedSNS{s, s.c.SNS()} }

type (
	signedEC2 struct {
		*Signed
		cloud.EC2API
	}
	signedAutoScaling struct {
		*Signed
		cloud.AutoScalingAPI
	}
	signedELBv2 struct {
		*Signed
		cloud.ELBv2API
	}
	signedSNS struct {
		*Signed
		cloud.SNSAPI
	}
)

func (s signedAutoScaling) DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.AutoScalingAPI.DescribeAutoScalingGroups(ctx, in, opts...)
}

func (s signedAutoScaling) UpdateAutoScalingGroup(ctx context.Context, in *autoscaling.UpdateAutoScalingGroupInput, opts ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.AutoScalingAPI.UpdateAutoScalingGroup(ctx, in, opts...)
}

func (s signedAutoScaling) SuspendProcesses(ctx context.Context, in *autoscaling.SuspendProcessesInput, opts ...func(*autoscaling.Options)) (*autoscaling.SuspendProcessesOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.AutoScalingAPI.SuspendProcesses(ctx, in, opts...)
}

func (s signedAutoScaling) ResumeProcesses(ctx context.Context, in *autoscaling.ResumeProcessesInput, opts ...func(*autoscaling.Options)) (*autoscaling.ResumeProcessesOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.AutoScalingAPI.ResumeProcesses(ctx, in, opts...)
}

func (s signedEC2) DescribeImages(ctx context.Context, in *ec2.DescribeImagesInput, opts ...func(*ec2.Options)) (*ec2.DescribeImagesOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.EC2API.DescribeImages(ctx, in, opts...)
}

func (s signedEC2) DescribeLaunchTemplateVersions(ctx context.Context, in *ec2.DescribeLaunchTemplateVersionsInput, opts ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.EC2API.DescribeLaunchTemplateVersions(ctx, in, opts...)
}

func (s signedEC2) CreateLaunchTemplateVersion(ctx context.Context, in *ec2.CreateLaunchTemplateVersionInput, opts ...func(*ec2.Options)) (*ec2.CreateLaunchTemplateVersionOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.EC2API.CreateLaunchTemplateVersion(ctx, in, opts...)
}

func (s signedEC2) DeregisterImage(ctx context.Context, in *ec2.DeregisterImageInput, opts ...func(*ec2.Options)) (*ec2.DeregisterImageOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.EC2API.DeregisterImage(ctx, in, opts...)
}

func (s signedEC2) DeleteSnapshot(ctx context.Context, in *ec2.DeleteSnapshotInput, opts ...func(*ec2.Options)) (*ec2.DeleteSnapshotOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.EC2API.DeleteSnapshot(ctx, in, opts...)
}

func (s signedELBv2) DescribeListeners(ctx context.Context, in *elbv2.DescribeListenersInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeListenersOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.ELBv2API.DescribeListeners(ctx, in, opts...)
}

func (s signedELBv2) ModifyListener(ctx context.Context, in *elbv2.ModifyListenerInput, opts ...func(*elbv2.Options)) (*elbv2.ModifyListenerOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.ELBv2API.ModifyListener(ctx, in, opts...)
}

func (s signedELBv2) DescribeRules(ctx context.Context, in *elbv2.DescribeRulesInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeRulesOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.ELBv2API.DescribeRules(ctx, in, opts...)
}

func (s signedELBv2) ModifyRule(ctx context.Context, in *elbv2.ModifyRuleInput, opts ...func(*elbv2.Options)) (*elbv2.ModifyRuleOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.ELBv2API.ModifyRule(ctx, in, opts...)
}

func (s signedELBv2) DescribeTargetHealth(ctx context.Context, in *elbv2.DescribeTargetHealthInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.ELBv2API.DescribeTargetHealth(ctx, in, opts...)
}

func (s signedSNS) Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.SNSAPI.Publish(ctx, in, opts...)
}

func (s signedAutoScaling) DescribePolicies(ctx context.Context, in *autoscaling.DescribePoliciesInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribePoliciesOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.AutoScalingAPI.DescribePolicies(ctx, in, opts...)
}

func (s signedAutoScaling) PutScalingPolicy(ctx context.Context, in *autoscaling.PutScalingPolicyInput, opts ...func(*autoscaling.Options)) (*autoscaling.PutScalingPolicyOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.AutoScalingAPI.PutScalingPolicy(ctx, in, opts...)
}

func (s signedAutoScaling) DeletePolicy(ctx context.Context, in *autoscaling.DeletePolicyInput, opts ...func(*autoscaling.Options)) (*autoscaling.DeletePolicyOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.AutoScalingAPI.DeletePolicy(ctx, in, opts...)
}

func (s signedAutoScaling) DescribeScheduledActions(ctx context.Context, in *autoscaling.DescribeScheduledActionsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeScheduledActionsOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.AutoScalingAPI.DescribeScheduledActions(ctx, in, opts...)
}

func (s signedAutoScaling) PutScheduledUpdateGroupAction(ctx context.Context, in *autoscaling.PutScheduledUpdateGroupActionInput, opts ...func(*autoscaling.Options)) (*autoscaling.PutScheduledUpdateGroupActionOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.AutoScalingAPI.PutScheduledUpdateGroupAction(ctx, in, opts...)
}

func (s signedAutoScaling) DeleteScheduledAction(ctx context.Context, in *autoscaling.DeleteScheduledActionInput, opts ...func(*autoscaling.Options)) (*autoscaling.DeleteScheduledActionOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.AutoScalingAPI.DeleteScheduledAction(ctx, in, opts...)
}
