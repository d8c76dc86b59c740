package sim_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/sim"
)

// Publish with MessageStructure "json" as SNS takes it: a JSON object of
// strings with a "default" entry; each protocol gets its own entry or the
// default. Anything else is refused with SNS's InvalidParameter and
// nothing is kept.
func TestPublishMessageStructure(t *testing.T) {
	ctx := context.Background()
	c := sim.New(t0)
	topic := "arn:aws:sns:eu-west-1:111122223333:kaizen-web"
	c.AddTopic(topic)
	publish := func(msg string) error {
		_, err := c.SNS().Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Subject: aws.String("s"),
			Message: aws.String(msg), MessageStructure: aws.String("json")})
		return err
	}
	for name, msg := range map[string]string{
		"not JSON":         `default: text`,
		"no default":       `{"email": "text", "https": "{}"}`,
		"default not text": `{"default": {"a": 1}}`,
		"entry not text":   `{"default": "text", "email": 1}`,
	} {
		err := publish(msg)
		if code := apiCode(err); code != "InvalidParameter" || !strings.Contains(err.Error(), "Message Structure") {
			t.Errorf("%s: %v (%s)", name, err, code)
		}
	}
	if n := len(c.Published()); n != 0 {
		t.Fatalf("%d refused messages kept", n)
	}
	if err := publish(`{"default": "plain", "email": "for email", "https": "{\"version\":\"1.0\"}"}`); err != nil {
		t.Fatal(err)
	}
	p := c.Published()[0]
	if p.Message != "plain" || p.For("email") != "for email" || p.For("https") != `{"version":"1.0"}` || p.For("sqs") != "plain" || p.Structure != "json" {
		t.Errorf("published %+v", p)
	}
	_, err := c.SNS().Publish(ctx, &sns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(strings.Repeat("x", 262145))})
	if apiCode(err) != "InvalidParameter" {
		t.Errorf("a message over 256 KiB: %v", err)
	}
}
