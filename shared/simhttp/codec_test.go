package simhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asschemas "github.com/aws/aws-sdk-go-v2/service/autoscaling/schemas"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbschemas "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/schemas"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snsschemas "github.com/aws/aws-sdk-go-v2/service/sns/schemas"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
)

// The awsQuery codec is checked directly against the SDK's own protocol
// implementation, with values richer than the simulation produces:
// timestamps, maps, blobs, empty lists, nested lists of structs.

var when = time.Date(2025, 3, 1, 9, 30, 15, 250e6, time.UTC)

// sdkForm serializes an input as the SDK client does and returns the form.
func sdkForm(t *testing.T, svc *smithy.ServiceSchema, op *smithy.OperationSchema, in smithy.Serializable) url.Values {
	t.Helper()
	req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	if err := awsquery.New(svc).SerializeRequest(context.Background(), op, in, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(req.GetStream())
	if err != nil {
		t.Fatal(err)
	}
	form, err := url.ParseQuery(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return form
}

func decodeAs[I any](t *testing.T, form url.Values, schema *smithy.Schema) *I {
	t.Helper()
	mustMatch(reflect.TypeFor[I](), schema)
	in := new(I)
	if err := decodeInput(&queryDecoder{next: parseQuery(form)}, schema, in); err != nil {
		t.Fatalf("decode %T: %v\nform: %v", in, err, form)
	}
	return in
}

func TestQueryInputsDecodeAsSent(t *testing.T) {
	{
		sent := &autoscaling.UpdateAutoScalingGroupInput{
			AutoScalingGroupName: aws.String("shop-green"),
			// More than nine items: N.10 sorts after N.9.
			AvailabilityZones:   []string{"z1", "z2", "z3", "z4", "z5", "z6", "z7", "z8", "z9", "z10", "z11", "z12"},
			TerminationPolicies: []string{}, // sent as "TerminationPolicies="
			CapacityRebalance:   aws.Bool(true),
			DefaultCooldown:     aws.Int32(300),
			MixedInstancesPolicy: &astypes.MixedInstancesPolicy{
				InstancesDistribution: &astypes.InstancesDistribution{OnDemandBaseCapacity: aws.Int32(1), SpotAllocationStrategy: aws.String("price-capacity-optimized")},
				LaunchTemplate: &astypes.LaunchTemplate{
					LaunchTemplateSpecification: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-1"), Version: aws.String("$Latest")},
					Overrides: []astypes.LaunchTemplateOverrides{
						{InstanceType: aws.String("m7g.large"), WeightedCapacity: aws.String("2")},
						{InstanceRequirements: &astypes.InstanceRequirements{
							VCpuCount:        &astypes.VCpuCountRequest{Min: aws.Int32(2), Max: aws.Int32(8)},
							MemoryMiB:        &astypes.MemoryMiBRequest{Min: aws.Int32(4096)},
							AcceleratorTypes: []astypes.AcceleratorType{astypes.AcceleratorTypeGpu, astypes.AcceleratorTypeFpga},
						}},
					},
				},
			},
		}
		op := smithy.NewOperationSchema(asschemas.UpdateAutoScalingGroup, asschemas.UpdateAutoScalingGroupType, nil)
		got := decodeAs[autoscaling.UpdateAutoScalingGroupInput](t, sdkForm(t, asschemas.AutoScaling_2011_01_01, op, sent), op.Input)
		if !reflect.DeepEqual(got, sent) {
			t.Errorf("UpdateAutoScalingGroupInput:\n got %s\nsent %s", js(got), js(sent))
		}
	}
	{
		sent := &elbv2.ModifyListenerInput{
			ListenerArn:  aws.String("arn:l"),
			Port:         aws.Int32(443),
			Protocol:     elbtypes.ProtocolEnumHttps,
			AlpnPolicy:   []string{"HTTP2Preferred"},
			Certificates: []elbtypes.Certificate{{CertificateArn: aws.String("arn:c"), IsDefault: aws.Bool(true)}},
			DefaultActions: []elbtypes.Action{
				{Type: elbtypes.ActionTypeEnumAuthenticateOidc, Order: aws.Int32(1), AuthenticateOidcConfig: &elbtypes.AuthenticateOidcActionConfig{
					AuthorizationEndpoint: aws.String("https://idp/authorize"), ClientId: aws.String("id"), Issuer: aws.String("https://idp"),
					TokenEndpoint: aws.String("https://idp/token"), UserInfoEndpoint: aws.String("https://idp/userinfo"),
					AuthenticationRequestExtraParams: map[string]string{"prompt": "login", "display": "page"},
					SessionTimeout:                   aws.Int64(604800),
				}},
				{Type: elbtypes.ActionTypeEnumFixedResponse, Order: aws.Int32(2), FixedResponseConfig: &elbtypes.FixedResponseActionConfig{
					StatusCode: aws.String("503"), ContentType: aws.String("text/plain"), MessageBody: aws.String("down & out <soon>"),
				}},
			},
			MutualAuthentication: &elbtypes.MutualAuthenticationAttributes{Mode: aws.String("verify"), IgnoreClientCertificateExpiry: aws.Bool(false)},
		}
		op := smithy.NewOperationSchema(elbschemas.ModifyListener, elbschemas.ModifyListenerInput, elbschemas.ModifyListenerOutput)
		got := decodeAs[elbv2.ModifyListenerInput](t, sdkForm(t, elbschemas.ElasticLoadBalancing_v10, op, sent), op.Input)
		if !reflect.DeepEqual(got, sent) {
			t.Errorf("ModifyListenerInput:\n got %s\nsent %s", js(got), js(sent))
		}
	}
	{
		sent := &sns.PublishInput{TopicArn: aws.String("arn:t"), Message: aws.String("m"), MessageGroupId: aws.String("g"),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{
				"list": {DataType: aws.String("String.Array"), StringValue: aws.String(`["a","b"]`)},
				"bin":  {DataType: aws.String("Binary"), BinaryValue: bytes.Repeat([]byte{0xfe, 0}, 40)},
			}}
		op := smithy.NewOperationSchema(snsschemas.Publish, snsschemas.PublishInput, snsschemas.PublishResponse)
		got := decodeAs[sns.PublishInput](t, sdkForm(t, snsschemas.AmazonSimpleNotificationService, op, sent), op.Input)
		if !reflect.DeepEqual(got, sent) {
			t.Errorf("PublishInput:\n got %s\nsent %s", js(got), js(sent))
		}
	}
}

// sdkDecode renders out as a response body and decodes it as the SDK client
// does into a new value of out's type.
func sdkDecode[O any, PO interface {
	*O
	smithy.Serializable
	smithy.Deserializable
}](t *testing.T, svc *smithy.ServiceSchema, op *smithy.OperationSchema, types *smithy.TypeRegistry, out PO) PO {
	t.Helper()
	body, err := queryResponse(op.ID().Name, "urn:test", "req-1", out)
	if err != nil {
		t.Fatal(err)
	}
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}}
	got := PO(new(O))
	if err := awsquery.New(svc).DeserializeResponse(context.Background(), op, types, resp, got); err != nil {
		t.Fatalf("decode %T: %v\nbody: %s", out, err, body)
	}
	return got
}

func TestQueryOutputsDecodeAsSent(t *testing.T) {
	{
		sent := &autoscaling.DescribeAutoScalingGroupsOutput{NextToken: aws.String("next"), AutoScalingGroups: []astypes.AutoScalingGroup{{
			AutoScalingGroupName: aws.String("shop-blue"), CreatedTime: aws.Time(when),
			MinSize: aws.Int32(2), DesiredCapacity: aws.Int32(2), MaxSize: aws.Int32(6),
			AvailabilityZones: []string{"eu-west-1a"}, LoadBalancerNames: []string{},
			HealthCheckType: aws.String("ELB"), DefaultCooldown: aws.Int32(300), CapacityRebalance: aws.Bool(false),
			Tags:           []astypes.TagDescription{{Key: aws.String("kaizen:app"), Value: aws.String("shop"), PropagateAtLaunch: aws.Bool(true), ResourceId: aws.String("shop-blue"), ResourceType: aws.String("auto-scaling-group")}},
			EnabledMetrics: []astypes.EnabledMetric{{Metric: aws.String("GroupInServiceInstances"), Granularity: aws.String("1Minute")}},
			Instances: []astypes.Instance{{InstanceId: aws.String("i-1"), LifecycleState: astypes.LifecycleStateInService, HealthStatus: aws.String("Healthy"),
				AvailabilityZone: aws.String("eu-west-1a"), ProtectedFromScaleIn: aws.Bool(false), WeightedCapacity: aws.String("1"),
				LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateId: aws.String("lt-1"), Version: aws.String("3")}}},
			SuspendedProcesses:    []astypes.SuspendedProcess{{ProcessName: aws.String("Launch"), SuspensionReason: aws.String("User suspended")}},
			WarmPoolConfiguration: &astypes.WarmPoolConfiguration{MinSize: aws.Int32(0), PoolState: astypes.WarmPoolStateStopped, InstanceReusePolicy: &astypes.InstanceReusePolicy{ReuseOnScaleIn: aws.Bool(true)}},
		}}}
		op := smithy.NewOperationSchema(asschemas.DescribeAutoScalingGroups, asschemas.AutoScalingGroupNamesType, asschemas.AutoScalingGroupsType)
		got := sdkDecode(t, asschemas.AutoScaling_2011_01_01, op, autoscaling.TypeRegistry, sent)
		if !reflect.DeepEqual(got, sent) {
			t.Errorf("DescribeAutoScalingGroupsOutput:\n got %s\nsent %s", js(got), js(sent))
		}
	}
	{
		sent := &elbv2.DescribeListenersOutput{Listeners: []elbtypes.Listener{{
			ListenerArn: aws.String("arn:l"), Port: aws.Int32(443), Protocol: elbtypes.ProtocolEnumHttps, AlpnPolicy: []string{"None"},
			Certificates: []elbtypes.Certificate{{CertificateArn: aws.String("arn:c")}},
			DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumAuthenticateOidc, AuthenticateOidcConfig: &elbtypes.AuthenticateOidcActionConfig{
				AuthorizationEndpoint: aws.String("a"), ClientId: aws.String("b"), Issuer: aws.String("c"), TokenEndpoint: aws.String("d"), UserInfoEndpoint: aws.String("e"),
				AuthenticationRequestExtraParams: map[string]string{"k1": "v1", "k2": "<v2>"},
			}}},
		}}}
		op := smithy.NewOperationSchema(elbschemas.DescribeListeners, elbschemas.DescribeListenersInput, elbschemas.DescribeListenersOutput)
		got := sdkDecode(t, elbschemas.ElasticLoadBalancing_v10, op, elbv2.TypeRegistry, sent)
		if !reflect.DeepEqual(got, sent) {
			t.Errorf("DescribeListenersOutput:\n got %s\nsent %s", js(got), js(sent))
		}
	}
	{
		sent := &elbv2.DescribeTargetHealthOutput{TargetHealthDescriptions: []elbtypes.TargetHealthDescription{{
			Target: &elbtypes.TargetDescription{Id: aws.String("i-1"), Port: aws.Int32(80)}, HealthCheckPort: aws.String("80"),
			TargetHealth: &elbtypes.TargetHealth{State: elbtypes.TargetHealthStateEnumUnhealthy, Reason: elbtypes.TargetHealthReasonEnumFailedHealthChecks, Description: aws.String("Health checks failed")},
		}}}
		op := smithy.NewOperationSchema(elbschemas.DescribeTargetHealth, elbschemas.DescribeTargetHealthInput, elbschemas.DescribeTargetHealthOutput)
		got := sdkDecode(t, elbschemas.ElasticLoadBalancing_v10, op, elbv2.TypeRegistry, sent)
		if !reflect.DeepEqual(got, sent) {
			t.Errorf("DescribeTargetHealthOutput:\n got %s\nsent %s", js(got), js(sent))
		}
	}
	{
		// An operation without output members writes no Result element.
		body, err := queryResponse("UpdateAutoScalingGroup", "urn:test", "req-1", &autoscaling.UpdateAutoScalingGroupOutput{})
		if err != nil || bytes.Contains(body, []byte("Result")) {
			t.Errorf("UpdateAutoScalingGroup response %s, %v", body, err)
		}
	}
}
