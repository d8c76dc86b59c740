package awsapi

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Notifier tells an app's people: the port of everything that sends
// notices (the ALAS poller, the secret-change function). SNSNotifier
// implements it, and so does cloud.Fleet.
type Notifier interface {
	Notify(ctx context.Context, app *config.App, subject, message string) error
}

// SNSNotifier publishes notices to the app's topic. The SDK client retries
// on its own.
type SNSNotifier struct {
	SNS SNSAPI
}

var _ Notifier = SNSNotifier{}

// Notify implements Notifier.
func (n SNSNotifier) Notify(ctx context.Context, app *config.App, subject, message string) error {
	if err := Publish(ctx, n.SNS, app, subject, message); err != nil {
		return fmt.Errorf("publish to %s: %w", app.TopicARN, err)
	}
	return nil
}

// Publish publishes one notice to the app's topic. SNS subjects are at
// most 100 ASCII characters, so the subject is trimmed.
func Publish(ctx context.Context, api SNSAPI, app *config.App, subject, message string) error {
	if len(subject) > 100 {
		subject = subject[:97] + "..."
	}
	_, err := api.Publish(ctx, &sns.PublishInput{TopicArn: aws.String(app.TopicARN), Subject: aws.String(subject), Message: aws.String(message)})
	return err
}
