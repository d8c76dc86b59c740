package awsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
)

func goodNotice() awsapi.Notice {
	return awsapi.Notice{
		Subject: "kaizen shop: rebuild started", Text: "Started build b-1.\n\nNext steps:\n- See where the app stands: kaizen status --app shop",
		Title: "kaizen shop: rebuild started", Description: "*Why:* a new advisory\nStarted build b-1.",
		Next:     []string{"See where the app stands: `kaizen status --app shop`", "Watch the build: https://eu-west-1.console.aws.amazon.com/codesuite/codebuild/projects/p/history?region=eu-west-1"},
		Keywords: []string{"shop", "alas-rebuild-started"}, Thread: "kaizen-shop-alas", EventType: "kaizen.alas-rebuild-started",
	}
}

func TestCheckNotice(t *testing.T) {
	if err := awsapi.CheckNotice(goodNotice()); err != nil {
		t.Fatalf("a good notice fails: %v", err)
	}
	// Every way a notice falls short is caught, and the error names it.
	for want, change := range map[string]func(*awsapi.Notice){
		"subject":                func(n *awsapi.Notice) { n.Subject = " \n" },
		"content.nextSteps: mis": func(n *awsapi.Notice) { n.Next = nil },
		"no exact command":       func(n *awsapi.Notice) { n.Next = []string{"Wait and see"} },
		"content.keywords":       func(n *awsapi.Notice) { n.Keywords = nil },
		"email: carries JSON":    func(n *awsapi.Notice) { n.Text = `{"default":"x"}` },
		"email: carries markup":  func(n *awsapi.Notice) { n.Text = "run `kaizen status`" },
	} {
		n := goodNotice()
		change(&n)
		if err := awsapi.CheckNotice(n); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}

func TestCheckPublished(t *testing.T) {
	in, err := goodNotice().Message("arn:aws:sns:eu-west-1:111122223333:shop")
	if err != nil {
		t.Fatal(err)
	}
	var good map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &good); err != nil {
		t.Fatal(err)
	}
	card, err := awsapi.CheckPublished(good)
	if err != nil || len(card.Content.NextSteps) != 2 {
		t.Fatalf("card %+v: %v", card, err)
	}
	for want, change := range map[string]func(map[string]string){
		`no "https" entry`: func(m map[string]string) { delete(m, "https") },
		"differs":          func(m map[string]string) { m["email"] = "other" },
		"chat: invalid":    func(m map[string]string) { m["https"] = "not json" },
		"chat: version":    func(m map[string]string) { m["https"] = strings.Replace(m["https"], `"1.0"`, `"2.0"`, 1) },
		"content.textType: mis": func(m map[string]string) {
			m["https"] = strings.Replace(m["https"], `"textType":"client-markdown",`, "", 1)
		},
	} {
		m := map[string]string{}
		for k, v := range good {
			m[k] = v
		}
		change(m)
		if _, err := awsapi.CheckPublished(m); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", want, err)
		}
	}
}

// textOnly is a Notifier without NotifyNotice.
type textOnly struct{ subject, message string }

func (n *textOnly) Notify(_ context.Context, _ *config.App, subject, message string) error {
	n.subject, n.message = subject, message
	return nil
}

func TestSend(t *testing.T) {
	app := &config.App{Name: "shop", TopicARN: "arn:aws:sns:eu-west-1:111122223333:shop"}
	t.Run("a NoticeNotifier gets the card", func(t *testing.T) {
		f := &fakeSNS{}
		if err := awsapi.Send(context.Background(), awsapi.SNSNotifier{SNS: f}, app, goodNotice()); err != nil {
			t.Fatal(err)
		}
		var m map[string]string
		if len(f.in) != 1 || json.Unmarshal([]byte(aws.ToString(f.in[0].Message)), &m) != nil {
			t.Fatalf("published %+v", f.in)
		}
		card, err := awsapi.CheckPublished(m)
		if err != nil || card.Metadata == nil || card.Metadata.EventType != "kaizen.alas-rebuild-started" || len(card.Content.NextSteps) != 2 {
			t.Errorf("card %+v: %v", card, err)
		}
	})
	t.Run("a text-only Notifier gets subject and text", func(t *testing.T) {
		n := &textOnly{}
		if err := awsapi.Send(context.Background(), n, app, goodNotice()); err != nil {
			t.Fatal(err)
		}
		if n.subject != goodNotice().Subject || n.message != goodNotice().Text {
			t.Errorf("got %q %q", n.subject, n.message)
		}
	})
	t.Run("an error names the topic", func(t *testing.T) {
		boom := errors.New("boom")
		err := awsapi.Send(context.Background(), awsapi.SNSNotifier{SNS: &fakeSNS{err: boom}}, app, goodNotice())
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), app.TopicARN) {
			t.Errorf("error %v", err)
		}
	})
}
