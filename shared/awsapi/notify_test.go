package awsapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
)

type fakeSNS struct {
	in  []*sns.PublishInput
	err error
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.in = append(f.in, in)
	return &sns.PublishOutput{}, f.err
}

func TestSNSNotifier(t *testing.T) {
	app := &config.App{Name: "shop", TopicARN: "arn:aws:sns:eu-west-1:111122223333:shop"}
	t.Run("publishes to the app's topic, subject trimmed to 100", func(t *testing.T) {
		f := &fakeSNS{}
		if err := (awsapi.SNSNotifier{SNS: f}).Notify(context.Background(), app, strings.Repeat("s", 120), "body"); err != nil {
			t.Fatal(err)
		}
		if len(f.in) != 1 {
			t.Fatalf("%d publishes", len(f.in))
		}
		in := f.in[0]
		if aws.ToString(in.TopicArn) != app.TopicARN || aws.ToString(in.Message) != "body" {
			t.Errorf("published %+v", in)
		}
		if s := aws.ToString(in.Subject); len(s) != 100 || !strings.HasSuffix(s, "...") {
			t.Errorf("subject %q (%d)", s, len(s))
		}
	})
	t.Run("an error names the topic", func(t *testing.T) {
		boom := errors.New("boom")
		err := (awsapi.SNSNotifier{SNS: &fakeSNS{err: boom}}).Notify(context.Background(), app, "s", "m")
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), app.TopicARN) {
			t.Errorf("error %v", err)
		}
	})
}
