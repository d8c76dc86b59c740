package awsapi_test

import (
	"context"
	"encoding/json"
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
		byProtocol := map[string]string{}
		if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &byProtocol); err != nil {
			t.Fatal(err)
		}
		if aws.ToString(in.TopicArn) != app.TopicARN || aws.ToString(in.MessageStructure) != "json" ||
			byProtocol["default"] != "body" || byProtocol["email"] != "body" {
			t.Errorf("published %+v", in)
		}
		var card awsapi.ChatNotification
		if err := json.Unmarshal([]byte(byProtocol["https"]), &card); err != nil {
			t.Fatal(err)
		}
		if err := card.Validate(); err != nil || card.Content.Description != "body" || card.Content.Title != strings.Repeat("s", 120) {
			t.Errorf("chat card %+v: %v", card, err)
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

func TestPublishNotice(t *testing.T) {
	topic := "arn:aws:sns:eu-west-1:111122223333:shop"
	n := awsapi.Notice{
		Subject: "[kaizen] shop: rolled back ami-1 — 5xx\nrate", Text: "The public is back on blue.\n\nNext steps:\n- kaizen history --app shop",
		Title: "[kaizen] shop: rolled back ami-1", Description: "*Why:* 5xx rate\nThe public is back on blue.",
		Next: []string{"See what happened: `kaizen history --app shop`", " "}, Keywords: []string{"shop", "rolled-back", strings.Repeat("k", 100)},
		Thread: "kaizen-shop-r1", EventType: "kaizen.rolled-back",
	}
	f := &fakeSNS{}
	if err := awsapi.PublishNotice(context.Background(), f, topic, n); err != nil {
		t.Fatal(err)
	}
	in := f.in[0]
	if s := aws.ToString(in.Subject); s != "[kaizen] shop: rolled back ami-1 ? 5xx rate" {
		t.Errorf("subject %q: want ASCII, no line break", s)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &m); err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m["email"] != n.Text || m["default"] != n.Text {
		t.Errorf("protocols %v", m)
	}
	if json.Valid([]byte(m["email"])) || strings.Contains(m["email"], "{") {
		t.Errorf("email carries JSON: %q", m["email"])
	}
	var card awsapi.ChatNotification
	if err := json.Unmarshal([]byte(m["https"]), &card); err != nil {
		t.Fatal(err)
	}
	if err := card.Validate(); err != nil {
		t.Fatal(err)
	}
	c := card.Content
	if card.Version != "1.0" || card.Source != "custom" || c.TextType != "client-markdown" || c.Title != n.Title || c.Description != n.Description ||
		len(c.NextSteps) != 1 || len(c.Keywords) != 3 || len([]rune(c.Keywords[2])) != awsapi.ChatKeywordMax ||
		card.Metadata == nil || card.Metadata.ThreadID != "kaizen-shop-r1" || card.Metadata.EventType != "kaizen.rolled-back" {
		t.Errorf("card %+v", card)
	}

	t.Run("bounds", func(t *testing.T) {
		long := awsapi.Notice{Subject: "s", Text: strings.Repeat("x", 300000), Next: make([]string, 20)}
		for i := range long.Next {
			long.Next[i] = strings.Repeat("n", 600)
		}
		in, err := long.Message(topic)
		if err != nil {
			t.Fatal(err)
		}
		if len(aws.ToString(in.Message)) > awsapi.MaxMessageBytes {
			t.Errorf("message %d bytes", len(aws.ToString(in.Message)))
		}
		card := long.Chat()
		if err := card.Validate(); err != nil {
			t.Error(err)
		}
		if len(card.Content.NextSteps) != awsapi.ChatNextStepsMax || len([]rune(card.Content.Description)) != awsapi.ChatDescriptionMax {
			t.Errorf("%d steps, description %d", len(card.Content.NextSteps), len([]rune(card.Content.Description)))
		}
	})
	t.Run("validate names the field", func(t *testing.T) {
		for field, c := range map[string]awsapi.ChatNotification{
			"version":             {Source: "custom", Content: awsapi.ChatContent{Description: "d"}},
			"source":              {Version: "1.0", Source: "sns", Content: awsapi.ChatContent{Description: "d"}},
			"content.description": {Version: "1.0", Source: "custom"},
			"content.textType":    {Version: "1.0", Source: "custom", Content: awsapi.ChatContent{TextType: "html", Description: "d"}},
			"content.title":       {Version: "1.0", Source: "custom", Content: awsapi.ChatContent{Title: strings.Repeat("t", 251), Description: "d"}},
			"content.keywords[0]": {Version: "1.0", Source: "custom", Content: awsapi.ChatContent{Description: "d", Keywords: []string{""}}},
		} {
			if err := c.Validate(); err == nil || !strings.HasPrefix(err.Error(), field) {
				t.Errorf("%s: %v", field, err)
			}
		}
	})
}
