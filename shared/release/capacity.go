package release

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
)

// Capacity rules. The groups' own scaling policies (target tracking,
// predictive) follow load on the live color; kaizen keeps them equal on
// both colors, keeps the floor, copies the live color's current need at
// approval, and steps the live color up while a capacity alarm fires and
// back down once it is OK:
//
//   - up: a capacity alarm's ALARM adds its step to the desired capacity of
//     each color serving the public (within its MaxSize), and again every
//     cooldown while it stays in ALARM. The first step of an episode
//     records the live color's desired capacity before it (CapacityBase).
//   - down: once every capacity alarm is OK and the longest capacity
//     cooldown has passed since the last OK (and the last step), each color
//     serving the public, and the previous color kept warm through a bake,
//     goes down to max(CapacityBase, floor, its MinSize): no less than
//     before the alarm, the floor, and what its own policies ask for. MinSize is the lower bound the policies and
//     scheduled actions keep; a desired capacity they moved since kaizen
//     last set it (Sized) is theirs, and kaizen leaves it. It never steps
//     up on the way down. INSUFFICIENT_DATA holds the step down until OK.
//   - approval: the new color gets the live color's current need, its
//     desired capacity (at least the floor, within the new color's own
//     MaxSize), with MinSize at the floor: not a peak minimum.
//   - floor: the colors serving the public never have MinSize or desired
//     capacity below the floor (within MaxSize); a tick that finds them
//     below restores them and tells people once.

// need is the capacity the new color c must have before the public moves
// to it from the color from: from's current need (desired capacity), at
// least the floor, within c's own MaxSize (kaizen never raises it), with
// MinSize at the floor.
func (p *planner) need(from, c Color) Capacity {
	v, l := p.obs.Color(c), p.obs.Color(from)
	f := min(p.app.Floor, v.Max)
	return Capacity{Min: f, Desired: max(min(l.Desired, v.Max), f), Max: v.Max}
}

// cooldown is how long the step down waits after the capacity alarms are
// OK: the longest cooldown of the app's capacity alarms.
func (p *planner) cooldown() time.Duration {
	m := 0
	for _, a := range p.app.Alarms {
		if a.Role == config.RoleCapacity {
			m = max(m, a.CooldownMinutes)
		}
	}
	return time.Duration(m) * time.Minute
}

// stepDown ends a capacity-alarm episode (see the rules above).
func (p *planner) stepDown() {
	base := p.st.CapacityBase
	p.st.CapacityBase, p.st.CapacityOKAt = 0, time.Time{}
	warm := Color("")
	if r := p.st.Active; r != nil && r.State == Baking {
		warm = r.From // kept warm for a rollback: it would take the public as it is
	}
	for _, c := range config.Colors {
		if p.obs.Weights[c] == 0 && c != warm {
			continue
		}
		v := p.obs.Color(c)
		if set, ok := p.st.Sized[c]; ok && set != v.Desired {
			p.note("capacity alarms OK: %s's desired capacity %d was moved since kaizen set %d (its scaling policies, a scheduled action or a person): left as it is", c, v.Desired, set)
			continue
		}
		target := max(base, min(p.app.Floor, v.Max), v.Min)
		if v.Desired <= target {
			p.note("capacity alarms OK: %s at %d, no more than before the alarm (%d)", c, v.Desired, target)
			continue
		}
		cp := v.Capacity
		cp.Desired = target
		p.do(Action{Kind: SetCapacity, Color: c, Capacity: &cp,
			Why: fmt.Sprintf("capacity alarms OK for %s: step %s back down by %d to %d", p.cooldown(), c, v.Desired-target, target)})
	}
}

// scalingDiff lists what makes idle's scaling equal live's: the items to
// put (live's, under live's names) and those to delete from idle. Items
// match on kind and definition, whatever their names (the groups of a
// CloudFormation stack get generated policy names).
func scalingDiff(live, idle []ScalingItem) (put, del []ScalingItem) {
	used := make([]bool, len(idle))
	match := func(l ScalingItem, sameName bool) bool {
		for j, i := range idle {
			if !used[j] && i.Kind == l.Kind && i.Spec == l.Spec && (!sameName || i.Name == l.Name) {
				used[j] = true
				return true
			}
		}
		return false
	}
	var rest []ScalingItem
	for _, l := range live {
		if !match(l, true) {
			rest = append(rest, l)
		}
	}
	for _, l := range rest {
		if !match(l, false) {
			put = append(put, l)
		}
	}
	for j, i := range idle {
		if used[j] {
			continue
		}
		replaced := false
		for _, l := range put {
			replaced = replaced || l.Kind == i.Kind && l.Name == i.Name
		}
		if !replaced {
			del = append(del, i)
		}
	}
	return put, del
}

// describeDiff says how c's scaling differs from live's, for people.
func describeDiff(c, live Color, put, del []ScalingItem) string {
	var parts []string
	for _, it := range put {
		parts = append(parts, fmt.Sprintf("%s lacks %s's %s", c, live, it))
	}
	for _, it := range del {
		parts = append(parts, fmt.Sprintf("%s has %s, which %s lacks", c, it, live))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// matchScaling makes color c's scaling policies and scheduled actions
// equal those of the color the public is on. With scalingPolicies "copy"
// it plans the puts and deletes; with "verify" it only reports. It
// returns what still differs ("" if nothing), and whether both colors'
// scaling was observed at all.
func (p *planner) matchScaling(c Color) (differs string, known bool) {
	live := c.Other()
	lv, cv := p.obs.Color(live).Scaling, p.obs.Color(c).Scaling
	if lv == nil || cv == nil {
		return "", false
	}
	// A name that carries the live group's name carries c's on c.
	want := make([]ScalingItem, len(lv.Items))
	for i, it := range lv.Items {
		if g := p.app.Color(live).ASG; g != "" {
			it.Name = strings.ReplaceAll(it.Name, g, p.app.Color(c).ASG)
		}
		want[i] = it
	}
	put, del := scalingDiff(want, cv.Items)
	if len(put) == 0 && len(del) == 0 {
		return "", true
	}
	if p.app.ScalingPolicies == config.ScalingVerify {
		return describeDiff(c, live, put, del), true
	}
	for _, it := range del {
		p.do(Action{Kind: DeleteScaling, Color: c, Item: &it, Why: fmt.Sprintf("%s's scaling follows %s's: %s has no %s", c, live, live, it)})
	}
	for _, it := range put {
		p.do(Action{Kind: PutScaling, Color: c, Item: &it, Why: fmt.Sprintf("%s's scaling follows %s's: copy %s", c, live, it)})
	}
	return "", true
}

// scalingDiffers tells people once per difference that the new color's
// scaling differs from the live color's and how to fix it.
func (p *planner) scalingDiffers(c Color, differs string) {
	h := sha256.Sum256([]byte(differs))
	p.tellOnce("scaling-differs:"+string(c)+":"+hex.EncodeToString(h[:8]), Notice{Kind: NoticeScalingDiffers, Color: c, Why: differs})
}
