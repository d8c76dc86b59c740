package release

import (
	"fmt"
	"sort"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// PruneDecision says whether an old AMI goes, and why.
type PruneDecision struct {
	Image  Image  `json:"image"`
	Delete bool   `json:"delete"`
	Reason string `json:"reason"`
}

// PlanPrune decides which of an app's AMIs `kaizen images prune` may
// deregister: never one a color's pinned template version launches (the
// rollback target among them), one a release in flight or in the queue
// names, one younger than the app's minimum age, or one of the newest keep.
func PlanPrune(app *config.App, images []Image, st AppState, obs Observed, keep int, now time.Time) []PruneDecision {
	imgs := append([]Image(nil), images...)
	sort.SliceStable(imgs, func(i, j int) bool {
		if !imgs[i].Created.Equal(imgs[j].Created) {
			return imgs[i].Created.After(imgs[j].Created)
		}
		return imgs[i].ID > imgs[j].ID
	})
	protected := map[string]string{}
	for _, c := range config.Colors {
		if ami := obs.Color(c).AMI; ami != "" {
			protected[ami] = fmt.Sprintf("the %s color's launch template uses it", c)
		}
	}
	if r := st.Active; r != nil {
		protected[r.AMI] = fmt.Sprintf("release %s is %s", r.ID, r.State)
	}
	if q := st.Queued; q != nil {
		protected[q.Image.ID] = "it is queued for release"
	}
	minAge := time.Duration(app.MinImageAgeDays) * 24 * time.Hour
	out := make([]PruneDecision, 0, len(imgs))
	for i, img := range imgs {
		d := PruneDecision{Image: img}
		switch why, ok := protected[img.ID]; {
		case ok:
			d.Reason = "kept: " + why
		case i < keep:
			d.Reason = fmt.Sprintf("kept: among the newest %d", keep)
		case now.Sub(img.Created) < minAge:
			d.Reason = fmt.Sprintf("kept: younger than %d days", app.MinImageAgeDays)
		default:
			d.Delete = true
			d.Reason = fmt.Sprintf("older than the newest %d and used by nothing", keep)
		}
		out = append(out, d)
	}
	return out
}
