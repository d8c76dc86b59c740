package release

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
)

// sampleNotice is a notice of kind k with every field its words may use.
func sampleNotice(k NoticeKind) Notice {
	st, _ := fleet(Baking)
	r := *st.Active
	r.Reason = "guard alarm shop-5xx-rate: Threshold Crossed"
	r.Weight = 10
	return Notice{Kind: k, Release: r,
		Image: Image{ID: "ami-newer", Name: "shop-golden-3", Tags: map[string]string{"kaizen:app": "shop"}},
		Why:   "the AMI's owner 999988887777 is not in imageOwners", Who: "alice", Execution: "exec-2",
		Color: config.Green, Want: 3, Max: 2, Healthy: 1, Need: 2, LiveAMI: "ami-old", Until: t0.Add(time.Hour),
		Alarm: Alarm{Name: "shop-5xx-rate", Role: config.RoleGuard, State: "ALARM", Reason: "Threshold Crossed", At: t0, Muted: "maintenance"},
	}
}

func TestChatEveryKind(t *testing.T) {
	app := shopApp(t)
	seen := map[NoticeKind]bool{}
	for _, k := range AllNoticeKinds {
		t.Run(string(k), func(t *testing.T) {
			if seen[k] {
				t.Fatalf("%s listed twice in AllNoticeKinds", k)
			}
			seen[k] = true
			n := sampleNotice(k)
			c := n.Chat(app)
			subject, msg := n.Render(app)
			// What happened, why, and what to do next.
			if c.Title != subject || c.Details != msg || c.Kind != k {
				t.Errorf("title %q details %q, want Render's %q %q", c.Title, c.Details, subject, msg)
			}
			if strings.HasPrefix(msg, "{") || strings.Contains(c.Title, string(k)+"{") {
				t.Errorf("%s fell through to the default words: %q", k, msg)
			}
			if strings.TrimSpace(c.Why) == "" {
				t.Error("no why")
			}
			exact := false
			for _, s := range c.Next {
				exact = exact || strings.HasPrefix(s.Command, "kaizen ") && strings.Contains(s.Command, "--app shop") ||
					strings.HasPrefix(s.Command, "kaizen config") || strings.HasPrefix(s.Link, "https://eu-west-1.console.aws.amazon.com/")
			}
			if !exact {
				t.Errorf("no exact command or console link among the next steps %+v", c.Next)
			}
			if !slices.Contains(c.Keywords, "shop") || !slices.Contains(c.Keywords, string(k)) || c.Thread != "kaizen-shop-r1" {
				t.Errorf("keywords %v thread %q", c.Keywords, c.Thread)
			}

			// Email: readable text, no JSON, no markup.
			text := c.Text()
			if json.Valid([]byte(text)) || strings.Contains(text, `{"`) || strings.Contains(text, "`") {
				t.Errorf("email text carries JSON or markup:\n%s", text)
			}
			if !strings.Contains(text, "Next steps:\n- ") || !strings.Contains(text, c.Why) {
				t.Errorf("email text lacks why or next steps:\n%s", text)
			}

			// Chat: the custom notification passes the schema, with the
			// check every kind of notice passes, whoever sends it.
			notice := awsapi.Notice{Subject: c.Title, Text: text, Title: c.Title, Description: c.Description(),
				Next: c.NextMarkdown(), Keywords: c.Keywords, Thread: c.Thread, EventType: "kaizen." + string(k)}
			if err := awsapi.CheckNotice(notice); err != nil {
				t.Fatal(err)
			}
			if card := notice.Chat(); len(c.Next) <= awsapi.ChatNextStepsMax && len(card.Content.NextSteps) != len(c.Next) {
				t.Errorf("next steps dropped: %d of %d", len(card.Content.NextSteps), len(c.Next))
			}
		})
	}
}

// A kind chat.go does not know (the lead adds kinds to notices.go) still
// makes a valid card with next steps.
func TestChatUnknownKind(t *testing.T) {
	app := shopApp(t)
	c := Notice{Kind: "brand-new", Why: "something new happened"}.Chat(app)
	if c.Why != "something new happened" || len(c.Next) == 0 || c.Next[0].Command != "kaizen status --app shop" {
		t.Errorf("%+v", c)
	}
	if err := awsapi.CheckNotice(awsapi.Notice{Subject: c.Title, Text: c.Text(), Description: c.Description(), Next: c.NextMarkdown(), Keywords: c.Keywords}); err != nil {
		t.Error(err)
	}
}

// Every NoticeKind constant in notices.go is in AllNoticeKinds.
func TestAllNoticeKindsIsComplete(t *testing.T) {
	src, err := readSource("notices.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(src, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && strings.HasPrefix(f[0], "Notice") && f[1] == "NoticeKind" && f[2] == "=" {
			k := NoticeKind(strings.Trim(f[3], `"`))
			if !slices.Contains(AllNoticeKinds, k) {
				t.Errorf("%s (%q) is not in AllNoticeKinds", f[0], k)
			}
		}
	}
}

// The planner's Notify actions carry the chat form.
func TestNotifyActionCarriesChat(t *testing.T) {
	app := shopApp(t)
	st, obs := fleet(Baking)
	plan := Decide(app, st, obs, t0, guard)
	n := 0
	for _, a := range plan.Actions {
		if a.Kind != Notify {
			continue
		}
		n++
		if a.Chat == nil || a.Chat.Title != a.Subject || a.Chat.Details != a.Message || a.Chat.Kind != a.Notice {
			t.Errorf("action %+v chat %+v", a, a.Chat)
		}
	}
	if n == 0 || plan.IgnoredAlarm != "" {
		t.Fatalf("a guard alarm during the bake notified %d times (ignored %q): %v", n, plan.IgnoredAlarm, plan.Notes)
	}
}

func TestIgnoredAlarmReasons(t *testing.T) {
	app := shopApp(t)
	st, obs := fleet(Baking)
	muted := *guard.Alarm
	muted.Muted = "maintenance"
	if p := Decide(app, st, obs, t0, Event{Kind: EvAlarm, ID: "m", Alarm: &muted}); p.IgnoredAlarm != IgnoredSilenced {
		t.Errorf("muted: %q", p.IgnoredAlarm)
	}
	old := *guard.Alarm
	old.At = t0.Add(-time.Hour) // before the bake took the public
	if p := Decide(app, st, obs, t0, Event{Kind: EvAlarm, ID: "o", Alarm: &old}); p.IgnoredAlarm != IgnoredBeforeRelease {
		t.Errorf("before the release: %q", p.IgnoredAlarm)
	}
	none, nobs := fleet(None)
	if p := Decide(app, none, nobs, t0, guard); p.IgnoredAlarm != IgnoredNoRelease {
		t.Errorf("no release: %q", p.IgnoredAlarm)
	}
	late := st.Clone()
	late.Alarms = map[string]AlarmMark{"shop-5xx-rate": {State: "OK", At: t0}}
	if p := Decide(app, late, obs, t0, guard); p.IgnoredAlarm != IgnoredLate {
		t.Errorf("late: %q", p.IgnoredAlarm)
	}
}

func readSource(name string) (string, error) {
	b, err := os.ReadFile(name)
	return string(b), err
}
