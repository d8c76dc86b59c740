package secretchange

import (
	"github.com/kaizen-sre/kaizen/shared/config"
)

// Apps in other accounts and regions. An app reached through a role
// (roleArn) names a secret of its own account; the member stack forwards
// that secret's CloudTrail events to kaizen's event bus, and they arrive
// with the member's account and region. An event is taken from a place
// some app lives in, and concerns only the apps living there (Matches).
// The rebuild starts in kaizen's account, where the golden-image build
// runs; the notice and the list of images still carrying the previous
// version go through the app's own account (cloud.Placed, kept out of
// this package so that alaspoll, which runs StartPending, links no fleet).

// placeOf is where app lives: app.Place(), its empty parts the file's (a
// configuration built in code rather than loaded leaves them empty).
func placeOf(cfg *config.File, app *config.App) config.Place {
	p := app.Place()
	if p.Account == "" {
		p.Account = cfg.Account
	}
	if p.Region == "" {
		p.Region = cfg.Region
	}
	return p
}

// serves reports whether some configured app lives at p.
func serves(cfg *config.File, p config.Place) bool {
	for i := range cfg.Apps {
		if placeOf(cfg, &cfg.Apps[i]) == p {
			return true
		}
	}
	return false
}
