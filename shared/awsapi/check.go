package awsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// CheckNotice reports the first way a notice falls short of one people can
// act on, read from the message SNS would receive: every protocol has its
// entry; email gets plain text (no JSON, no markup); the chat card passes
// the custom-notification schema (Validate, and the JSON field names AWS
// Chatbot reads) with a title, a description, every next step (up to
// ChatNextStepsMax), at least one of them an exact command (`...`) or a
// link, and keywords. It is the check every kind of notice is tested
// with, whichever package sends it.
func CheckNotice(n Notice) error {
	if Subject(n.Subject) == "" {
		return errors.New("subject: empty")
	}
	in, err := n.Message("arn:aws:sns:us-east-1:111122223333:check")
	if err != nil {
		return fmt.Errorf("message: %w", err)
	}
	var byProtocol map[string]string
	if err := json.Unmarshal([]byte(*in.Message), &byProtocol); err != nil {
		return fmt.Errorf("message: not a JSON object of strings: %w", err)
	}
	card, err := CheckPublished(byProtocol)
	if err != nil {
		return err
	}
	want := 0
	for _, s := range n.Next {
		if strings.TrimSpace(s) != "" {
			want++
		}
	}
	if want > ChatNextStepsMax {
		want = ChatNextStepsMax
	}
	if got := len(card.Content.NextSteps); got != want {
		return fmt.Errorf("chat: content.nextSteps: %d of %d steps", got, want)
	}
	return nil
}

// CheckPublished is CheckNotice's check of a published message, read per
// protocol (as the SNS Publish message with MessageStructure "json"): it
// returns the chat card.
func CheckPublished(byProtocol map[string]string) (ChatNotification, error) {
	var card ChatNotification
	for _, p := range []string{ProtocolDefault, ProtocolEmail, ProtocolHTTPS} {
		if strings.TrimSpace(byProtocol[p]) == "" {
			return card, fmt.Errorf("message: no %q entry", p)
		}
	}
	email := byProtocol[ProtocolEmail]
	switch {
	case email != byProtocol[ProtocolDefault]:
		return card, errors.New("email: differs from the default text")
	case json.Valid([]byte(email)) || strings.Contains(email, `{"`):
		return card, fmt.Errorf("email: carries JSON: %.200q", email)
	case strings.Contains(email, "`"):
		return card, fmt.Errorf("email: carries markup: %.200q", email)
	}

	raw := []byte(byProtocol[ProtocolHTTPS])
	if err := json.Unmarshal(raw, &card); err != nil {
		return card, fmt.Errorf("chat: %w", err)
	}
	if err := card.Validate(); err != nil {
		return card, fmt.Errorf("chat: %w", err)
	}
	// The names AWS Chatbot reads, not only what this package's structs
	// happen to decode.
	var back struct {
		Version string         `json:"version"`
		Source  string         `json:"source"`
		Content map[string]any `json:"content"`
	}
	if err := json.Unmarshal(raw, &back); err != nil {
		return card, fmt.Errorf("chat: %w", err)
	}
	if back.Version != "1.0" || back.Source != "custom" {
		return card, fmt.Errorf("chat: version %q source %q", back.Version, back.Source)
	}
	for _, key := range []string{"textType", "title", "description", "nextSteps", "keywords"} {
		if v, ok := back.Content[key]; !ok || v == "" || v == nil {
			return card, fmt.Errorf("chat: content.%s: missing", key)
		}
	}
	exact := false
	for _, s := range card.Content.NextSteps {
		exact = exact || strings.Count(s, "`") >= 2 || strings.Contains(s, "https://")
	}
	if !exact {
		return card, fmt.Errorf("chat: content.nextSteps: no exact command or link among %q", card.Content.NextSteps)
	}
	return card, nil
}
