package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/release"
	"github.com/kaizen-sre/kaizen/shared/steps"
)

// SecretStatus is the app's last secret change and the images the colors
// run that were built before it, so still carry the previous version.
type SecretStatus struct {
	Changed  release.SecretChange `json:"changed"`
	Carrying []release.ColorImage `json:"carrying,omitempty"`
}

// secretChanges is the store's record of secret changes (store.Dynamo,
// store.Memory).
type secretChanges interface {
	LastSecretChange(ctx context.Context, app string) (*release.SecretChange, error)
}

// statusSecret reads the app's last secret change and, if there is one,
// the images its colors run (one DescribeImages).
func statusSecret(ctx context.Context, d *steps.Reconciler, app *config.App) (*SecretStatus, error) {
	book, ok := d.Store.(secretChanges)
	if !ok || app.Secret == "" {
		return nil, nil
	}
	c, err := book.LastSecretChange(ctx, app.Name)
	if err != nil || c == nil {
		return nil, err
	}
	imgs, err := d.FleetFor(app).ColorImages(ctx, app)
	if err != nil {
		return nil, err
	}
	s := &SecretStatus{Changed: *c}
	for _, ci := range imgs {
		if c.Superseded(&ci.Image) {
			s.Carrying = append(s.Carrying, ci)
		}
	}
	return s, nil
}

// printSecurity adds the approval request's evidence and the images that
// carry a superseded secret to kaizen status.
func printSecurity(w io.Writer, s AppStatus) {
	if r := s.State.Active; r != nil && r.Evidence != nil {
		e := r.Evidence
		var fixed []string
		for _, a := range e.Fixed {
			fixed = append(fixed, a.ID+" ("+orDash(a.Severity)+")")
		}
		fmt.Fprintf(w, "approval\trequested %s (%s); advisories fixed: %s\n", e.At.Format(time.RFC3339), orDash(e.Execution), orDash(strings.Join(fixed, ", ")))
		var alarms []string
		for _, a := range e.Alarms {
			alarms = append(alarms, a.Name+" "+a.State)
		}
		if len(alarms) > 0 {
			fmt.Fprintf(w, "\tguard alarms then: %s\n", strings.Join(alarms, ", "))
		}
		if st := e.Staging; st != nil {
			fmt.Fprintf(w, "\t%s\n", st.About(r.AMI))
		}
	}
	if sec := s.Secret; sec != nil && len(sec.Carrying) > 0 {
		v := sec.Changed.Version
		if v == "" {
			v = "a new version"
		}
		fmt.Fprintf(w, "SECRET\tchanged to %s at %s; these images still carry the previous version, whose credential must stay valid until they are replaced:\n", v, sec.Changed.At.Format(time.RFC3339))
		for _, ci := range sec.Carrying {
			fmt.Fprintf(w, "\t%s (%s) AMI %s, secret version %s\n", ci.Color, ci.Role, ci.Image.ID, orDash(ci.Image.Tags[release.TagSecretVersion]))
		}
	}
}
