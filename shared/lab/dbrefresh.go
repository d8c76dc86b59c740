package lab

import (
	"context"
	"io"

	"github.com/kaizen-sre/kaizen/shared/awsapi"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh"
	"github.com/kaizen-sre/kaizen/shared/dbrefresh/awscloud"
	"github.com/kaizen-sre/kaizen/shared/store"
)

// seedDBRefresh seeds the databases every app's dbRefresh block names and
// wires the refresh handler to the simulated AWS and the lab's store.
func (l *Lab) seedDBRefresh(logw io.Writer) {
	c := l.Cloud
	for i := range l.Config.Apps {
		c.SeedDBRefresh(l.Config, &l.Config.Apps[i])
	}
	var st dbrefresh.Store
	if m, ok := l.Store.(*store.Memory); ok {
		st = m
	}
	l.DB = &dbrefresh.Handler{
		Config: l.Config, Store: st, Now: c.Now, Log: logger(logw),
		Cloud: &awscloud.Cloud{RDS: c.RDS(), Scrub: c.CodeBuild(), Secrets: c.SecretsManager(), Notifier: awsapi.SNSNotifier{SNS: c.SNS()}},
	}
}

// Refresh runs an event through the dbrefresh function.
func (l *Lab) Refresh(ctx context.Context, raw []byte) ([]dbrefresh.Outcome, error) {
	return l.DB.Handle(ctx, raw)
}

// RefreshTick sends dbrefresh's schedule.
func (l *Lab) RefreshTick(ctx context.Context) ([]dbrefresh.Outcome, error) {
	return l.Refresh(ctx, l.Maker.Schedule("kaizen-dbrefresh-schedule", l.Cloud.Now()))
}
