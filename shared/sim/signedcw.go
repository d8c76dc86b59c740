package sim

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// SignedCloudWatch is the cloud's CloudWatch as one principal sees it:
// the guard alarms' states and metric analysis' GetMetricData, each
// call signed (Signed.sign), so a member account's metrics are read only
// through the role it lends.
type SignedCloudWatch struct {
	*Signed
	cw *CloudWatch
}

// CloudWatch is the signed CloudWatch client.
func (s *Signed) CloudWatch() *SignedCloudWatch { return &SignedCloudWatch{s, s.c.CloudWatch()} }

func (s *SignedCloudWatch) DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.cw.DescribeAlarms(ctx, in, opts...)
}

func (s *SignedCloudWatch) GetMetricData(ctx context.Context, in *cloudwatch.GetMetricDataInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error) {
	ctx, err := s.sign(ctx)
	if err != nil {
		return nil, err
	}
	return s.cw.GetMetricData(ctx, in, opts...)
}
