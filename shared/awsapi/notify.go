package awsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Notifier tells an app's people: the port of everything that sends
// notices (the ALAS poller, the secret-change function). SNSNotifier
// implements it, and so does cloud.Fleet; both are NoticeNotifiers too,
// so that Send gives chat its card.
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

// NoticeNotifier sends a whole notice, its chat card included: the
// optional side of Notifier that SNSNotifier and cloud.Fleet implement.
// Send uses it when a Notifier has it.
type NoticeNotifier interface {
	NotifyNotice(ctx context.Context, app *config.App, n Notice) error
}

var _ NoticeNotifier = SNSNotifier{}

// NotifyNotice implements NoticeNotifier.
func (n SNSNotifier) NotifyNotice(ctx context.Context, app *config.App, notice Notice) error {
	if err := PublishNotice(ctx, n.SNS, app.TopicARN, notice); err != nil {
		return fmt.Errorf("publish to %s: %w", app.TopicARN, err)
	}
	return nil
}

// Send sends a notice through nf: whole, chat card included, when nf is a
// NoticeNotifier, and as its subject and text otherwise (a Notifier that
// only takes text, such as a test's).
func Send(ctx context.Context, nf Notifier, app *config.App, n Notice) error {
	if nn, ok := nf.(NoticeNotifier); ok {
		return nn.NotifyNotice(ctx, app, n)
	}
	return nf.Notify(ctx, app, n.Subject, n.Text)
}

// Publish publishes one plain notice to the app's topic, in the
// per-protocol structure PublishNotice sends: the subject is the chat
// title, the message its description.
func Publish(ctx context.Context, api SNSAPI, app *config.App, subject, message string) error {
	return PublishNotice(ctx, api, app.TopicARN, Notice{Subject: subject, Text: message})
}

// Notice is one notice as every subscriber of a topic reads it: email
// readers get Subject and Text, chat channels (AWS Chatbot, now Amazon Q
// Developer in chat applications) a custom notification made of Title,
// Description, Next and Keywords.
type Notice struct {
	// Subject is the email subject (and the chat title when Title is
	// empty). SNS takes at most 100 ASCII characters without line breaks:
	// PublishNotice makes it so.
	Subject string
	// Text is the plain-text body for email and every protocol without a
	// message of its own.
	Text string
	// Title, Description, Next and Keywords are the chat card: what
	// happened, why and the details, the next steps (exact commands,
	// console links), and tags. Description defaults to Text.
	Title, Description string
	Next, Keywords     []string
	// Thread groups a chat channel's notices about one thing (a release)
	// in one thread; EventType names the kind of notice.
	Thread, EventType string
}

// The SNS per-protocol message structure (Publish with MessageStructure
// "json"): Message is a JSON object of strings, "default" required, keyed
// by protocol otherwise. AWS Chatbot (Amazon Q Developer in chat
// applications) subscribes to a topic with an HTTPS endpoint, so its
// message is the "https" entry: the custom-notification JSON it renders
// as a card. Email gets readable text; every other protocol (SQS, Lambda,
// email-json) the "default" entry, the same text.
// Sources: the SNS Publish API reference (MessageStructure, "default")
// and "Custom notifications using Amazon Q Developer in chat
// applications" (the event schema, below).
const (
	MessageStructureJSON = "json"
	ProtocolDefault      = "default"
	ProtocolEmail        = "email"
	ProtocolHTTPS        = "https"
)

// SNS limits: a message is at most 256 KiB of UTF-8 (262,144 bytes), a
// subject at most 100 ASCII characters.
const (
	MaxMessageBytes = 262144
	MaxSubject      = 100
	// maxText bounds each copy of the text (it is sent twice, default and
	// email, beside the chat card), so the whole stays under
	// MaxMessageBytes once JSON-escaped.
	maxText = 80000
)

// ChatNotification is AWS Chatbot's custom notification ("Custom
// notifications using Amazon Q Developer in chat applications", event
// schema): version "1.0" and source "custom" are required, and so is the
// content's description; textType "client-markdown" is the only text type.
type ChatNotification struct {
	Version  string        `json:"version"`
	Source   string        `json:"source"`
	ID       string        `json:"id,omitempty"`
	Content  ChatContent   `json:"content"`
	Metadata *ChatMetadata `json:"metadata,omitempty"`
}

// ChatContent is a custom notification's content.
type ChatContent struct {
	TextType    string   `json:"textType"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description"`
	NextSteps   []string `json:"nextSteps,omitempty"`
	Keywords    []string `json:"keywords,omitempty"`
}

// ChatMetadata is a custom notification's metadata: ThreadID threads
// notices in the channel.
type ChatMetadata struct {
	ThreadID          string            `json:"threadId,omitempty"`
	Summary           string            `json:"summary,omitempty"`
	EventType         string            `json:"eventType,omitempty"`
	RelatedResources  []string          `json:"relatedResources,omitempty"`
	AdditionalContext map[string]string `json:"additionalContext,omitempty"`
}

// Bounds of a chat card. AWS's page lists the fields and which are
// required, not their lengths; these are kaizen's own, set by the smallest
// renderer Chatbot posts to (a Slack section's text is at most 3,000
// characters), so a card is never cut by the chat client.
const (
	ChatTitleMax       = 250
	ChatDescriptionMax = 3000
	ChatNextStepsMax   = 10
	ChatNextStepMax    = 500
	ChatKeywordsMax    = 10
	ChatKeywordMax     = 75
)

// Chat makes the custom notification of a notice, within the bounds
// above (longer text is cut with an ellipsis).
func (n Notice) Chat() ChatNotification {
	title := n.Title
	if title == "" {
		title = n.Subject
	}
	desc := n.Description
	if desc == "" {
		desc = n.Text
	}
	if strings.TrimSpace(desc) == "" {
		desc = title // the description is required
	}
	c := ChatNotification{Version: "1.0", Source: "custom", Content: ChatContent{
		TextType:    "client-markdown",
		Title:       cut(title, ChatTitleMax),
		Description: cut(desc, ChatDescriptionMax),
	}}
	for _, s := range n.Next {
		if len(c.Content.NextSteps) == ChatNextStepsMax {
			break
		}
		if s = strings.TrimSpace(s); s != "" {
			c.Content.NextSteps = append(c.Content.NextSteps, cut(s, ChatNextStepMax))
		}
	}
	for _, k := range n.Keywords {
		if len(c.Content.Keywords) == ChatKeywordsMax {
			break
		}
		if k = strings.TrimSpace(k); k != "" {
			c.Content.Keywords = append(c.Content.Keywords, cut(k, ChatKeywordMax))
		}
	}
	if n.Thread != "" || n.EventType != "" {
		c.Metadata = &ChatMetadata{ThreadID: n.Thread, EventType: n.EventType, Summary: cut(title, ChatTitleMax)}
	}
	return c
}

// Validate checks a custom notification against the schema's required
// fields and kaizen's bounds; the error names the field.
func (c ChatNotification) Validate() error {
	switch {
	case c.Version != "1.0":
		return fmt.Errorf("version: %q, want \"1.0\"", c.Version)
	case c.Source != "custom":
		return fmt.Errorf("source: %q, want \"custom\"", c.Source)
	case c.Content.TextType != "" && c.Content.TextType != "client-markdown":
		return fmt.Errorf("content.textType: %q, want \"client-markdown\"", c.Content.TextType)
	case strings.TrimSpace(c.Content.Description) == "":
		return fmt.Errorf("content.description: required")
	case utf8.RuneCountInString(c.Content.Title) > ChatTitleMax:
		return fmt.Errorf("content.title: %d characters, at most %d", utf8.RuneCountInString(c.Content.Title), ChatTitleMax)
	case utf8.RuneCountInString(c.Content.Description) > ChatDescriptionMax:
		return fmt.Errorf("content.description: %d characters, at most %d", utf8.RuneCountInString(c.Content.Description), ChatDescriptionMax)
	case len(c.Content.NextSteps) > ChatNextStepsMax:
		return fmt.Errorf("content.nextSteps: %d steps, at most %d", len(c.Content.NextSteps), ChatNextStepsMax)
	case len(c.Content.Keywords) > ChatKeywordsMax:
		return fmt.Errorf("content.keywords: %d keywords, at most %d", len(c.Content.Keywords), ChatKeywordsMax)
	}
	for i, s := range c.Content.NextSteps {
		if strings.TrimSpace(s) == "" || utf8.RuneCountInString(s) > ChatNextStepMax {
			return fmt.Errorf("content.nextSteps[%d]: %d characters, want 1 to %d", i, utf8.RuneCountInString(s), ChatNextStepMax)
		}
	}
	for i, k := range c.Content.Keywords {
		if strings.TrimSpace(k) == "" || utf8.RuneCountInString(k) > ChatKeywordMax {
			return fmt.Errorf("content.keywords[%d]: %d characters, want 1 to %d", i, utf8.RuneCountInString(k), ChatKeywordMax)
		}
	}
	return nil
}

// Message is the Publish input of a notice: the per-protocol structure.
func (n Notice) Message(topic string) (*sns.PublishInput, error) {
	chat, err := json.Marshal(n.Chat())
	if err != nil {
		return nil, err
	}
	text := cut(n.Text, maxText)
	if strings.TrimSpace(text) == "" {
		text = n.Subject
	}
	body, err := json.Marshal(map[string]string{
		ProtocolDefault: text,
		ProtocolEmail:   text,
		ProtocolHTTPS:   string(chat),
	})
	if err != nil {
		return nil, err
	}
	if len(body) > MaxMessageBytes {
		return nil, fmt.Errorf("message: %d bytes, SNS takes at most %d", len(body), MaxMessageBytes)
	}
	return &sns.PublishInput{
		TopicArn:         aws.String(topic),
		Subject:          aws.String(Subject(n.Subject)),
		Message:          aws.String(string(body)),
		MessageStructure: aws.String(MessageStructureJSON),
	}, nil
}

// PublishNotice publishes a notice to topic with a message per protocol:
// plain text for email (and by default), AWS Chatbot's custom
// notification for chat.
func PublishNotice(ctx context.Context, api SNSAPI, topic string, n Notice) error {
	in, err := n.Message(topic)
	if err != nil {
		return err
	}
	_, err = api.Publish(ctx, in)
	return err
}

// Subject makes s a valid SNS subject: ASCII (other characters become
// '?'), no line breaks or control characters (they become spaces), at
// most MaxSubject characters (cut with "...").
func Subject(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		case r > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(r)
		}
	}
	out := strings.TrimSpace(b.String())
	if len(out) > MaxSubject {
		out = out[:MaxSubject-3] + "..."
	}
	return out
}

// cut shortens s to at most n characters, ending with an ellipsis when it
// cuts.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
