package cloud

import (
	"context"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
)

// Placed answers each app through the fleet of the account and region it
// lives in (Accounts: an assumed role's clients for a member account):
// the images its colors run and its notices, whose topic lives in its
// account. It is secretchange.Handler's Images and Notifier when apps
// live elsewhere than kaizen. (A function that only notifies there uses
// awsapi.PlacedNotifier, which links no fleet.)
type Placed struct {
	Fleets Fleets
}

var (
	_ awsapi.Notifier       = Placed{}
	_ awsapi.NoticeNotifier = Placed{}
)

// ColorImages lists the images app's colors run, read in its account.
func (p Placed) ColorImages(ctx context.Context, app *config.App) ([]release.ColorImage, error) {
	return p.Fleets.FleetFor(app).ColorImages(ctx, app)
}

// Notify publishes to app's topic from its account.
func (p Placed) Notify(ctx context.Context, app *config.App, subject, message string) error {
	return p.Fleets.FleetFor(app).Notify(ctx, app, subject, message)
}

// NotifyNotice publishes the notice whole to app's topic from its account.
func (p Placed) NotifyNotice(ctx context.Context, app *config.App, n awsapi.Notice) error {
	return p.Fleets.FleetFor(app).NotifyNotice(ctx, app, n)
}
