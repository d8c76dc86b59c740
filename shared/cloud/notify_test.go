package cloud_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/cloud"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/sim"
)

// A planner's notice reaches email as text and chat as AWS Chatbot's
// custom notification, in one publish; a plain one (the ALAS poller's) too.
func TestNotifyPerProtocol(t *testing.T) {
	c := sim.New(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	app := &config.App{Name: "shop", TopicARN: "arn:aws:sns:eu-west-1:111122223333:kaizen-shop",
		ListenerARN: "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener/app/shop/1/2"}
	c.AddTopic(app.TopicARN)
	f := &cloud.Fleet{SNS: c.SNS(), Attempts: 1}
	chat := release.Notice{Kind: release.NoticeNotConverging, Why: "the floor was lowered 3 times"}.Chat(app)
	a := release.Action{Kind: release.Notify, Notice: chat.Kind, Subject: chat.Title, Message: chat.Details, Chat: &chat}
	if err := f.Apply(context.Background(), app, release.Observed{}, a); err != nil {
		t.Fatal(err)
	}
	if err := f.Notify(context.Background(), app, "kaizen shop: 2 new advisories", "ALAS2-2025-1: kernel"); err != nil {
		t.Fatal(err)
	}
	pubs := c.Published()
	if len(pubs) != 2 {
		t.Fatalf("%d published", len(pubs))
	}
	for i, p := range pubs {
		if p.Structure != "json" {
			t.Fatalf("message %d published without a structure: %+v", i, p)
		}
		email := p.For("email")
		if json.Valid([]byte(email)) || strings.Contains(email, `{"`) || email != p.Message {
			t.Errorf("message %d: email gets %q", i, email)
		}
		var card awsapi.ChatNotification
		if err := json.Unmarshal([]byte(p.For("https")), &card); err != nil {
			t.Fatalf("message %d: chat gets %q: %v", i, p.For("https"), err)
		}
		if err := card.Validate(); err != nil {
			t.Errorf("message %d: %v", i, err)
		}
	}
	if e := pubs[0].For("email"); !strings.Contains(e, "the floor was lowered 3 times") || !strings.Contains(e, "- Once what fights kaizen is fixed: kaizen resume --app shop") {
		t.Errorf("email text:\n%s", e)
	}
	var card awsapi.ChatNotification
	_ = json.Unmarshal([]byte(pubs[0].For("https")), &card)
	if card.Content.Title != chat.Title || !strings.Contains(strings.Join(card.Content.NextSteps, "\n"), "`kaizen resume --app shop`") ||
		card.Metadata == nil || card.Metadata.EventType != "kaizen.not-converging" {
		t.Errorf("card %+v", card)
	}
}
