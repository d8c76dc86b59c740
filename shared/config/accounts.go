package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Apps across accounts and regions. An app with a roleArn lives in the
// role's account: kaizen assumes the role (STS) for every call it makes
// on the app. An app with a region lives in that region (default: the
// file's). Every ARN of the app must name its account and region, and its
// names (groups, templates, alarms, the approval action, the image tag)
// are claimed within them, so apps in different accounts may reuse them.

// memberRoleARN is an IAM role ARN with no wildcard: the one role kaizen
// assumes in the app's account.
var memberRoleARN = regexp.MustCompile(`^arn:(aws(-[a-z]+)*):iam::([0-9]{12}):role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)

// Place is where an app lives: its account and region.
type Place struct {
	Account string `json:"account"`
	Region  string `json:"region"`
}

func (p Place) String() string { return p.Account + "/" + p.Region }

// Place is where the app lives.
func (a *App) Place() Place { return Place{Account: a.Account, Region: a.Region} }

// Home is where kaizen itself runs: the file's account and region.
func (f *File) Home() Place { return Place{Account: f.Account, Region: f.Region} }

// Remote reports whether kaizen reaches the app through an assumed role.
func (a *App) Remote() bool { return a.RoleARN != "" }

// Places lists where the file's apps live, the home first, each once.
func (f *File) Places() []Place {
	out := []Place{f.Home()}
	for i := range f.Apps {
		p := f.Apps[i].Place()
		if !containsPlace(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// Members lists the accounts other than the home that apps live in, each
// once, in the file's order.
func (f *File) Members() []string {
	var out []string
	for i := range f.Apps {
		a := f.Apps[i].Account
		if a != f.Account && a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// AppsIn lists the apps that live in account (any region).
func (f *File) AppsIn(account string) []*App {
	var out []*App
	for i := range f.Apps {
		if f.Apps[i].Account == account {
			out = append(out, &f.Apps[i])
		}
	}
	return out
}

func containsPlace(ps []Place, p Place) bool { return slices.Contains(ps, p) }

// placeOf is the account and region an app lives in: the role's account
// when roleArn names one, the app's region when set, else the file's.
func (f *File) placeOf(a *App) (account, region string) {
	account, region = f.Account, f.Region
	if m := memberRoleARN.FindStringSubmatch(a.RoleARN); m != nil {
		account = m[3]
	}
	if a.Region != "" {
		region = a.Region
	}
	return account, region
}

// accounts checks roleArn and region.
func (v *validator) accounts(p string, a *App) {
	if a.RoleARN != "" {
		switch {
		case strings.ContainsAny(a.RoleARN, "*?"):
			v.add(p+".roleArn", "must name one role, not a wildcard pattern: %q", a.RoleARN)
		case !memberRoleARN.MatchString(a.RoleARN):
			v.add(p+".roleArn", "must be an IAM role ARN like arn:aws:iam::ACCOUNT:role/NAME, got %q", a.RoleARN)
		}
	}
	if a.Region != "" && !regionName.MatchString(a.Region) {
		v.add(p+".region", "must be an AWS region such as eu-west-1, got %q", a.Region)
	}
	if a.DBRefresh != nil && a.Account != v.f.Account {
		v.add(p+".dbRefresh", "not supported for an app in another account (%s, from roleArn)", a.Account)
	}
}

// place is the account and region the current app's ARNs must name, and
// what sets them, for messages.
func (v *validator) place() (account, region, why string) {
	a := v.cur
	if a == nil || (a.RoleARN == "" && (a.Region == "" || a.Region == v.f.Region)) {
		why = " (the file's account and region; an app in another account needs roleArn)"
		if a != nil {
			return a.Account, a.Region, why
		}
		return v.f.Account, v.f.Region, why
	}
	var from []string
	p := v.prefix()
	if a.RoleARN != "" {
		from = append(from, p+".roleArn")
	}
	if a.Region != "" && a.Region != v.f.Region {
		from = append(from, p+".region")
	}
	return a.Account, a.Region, fmt.Sprintf(" (from %s)", strings.Join(from, " and "))
}

// strict reports whether an ARN kind that may name another account or
// region elsewhere (the secret) must name the app's own: an app reached
// through a role is reached nowhere else.
func (v *validator) strict(kind arnKind) bool {
	return kind.service == "secretsmanager" && v.cur != nil && v.cur.Remote()
}

// prefix is the current app's field path ("apps[3]").
func (v *validator) prefix() string {
	for i := range v.f.Apps {
		if &v.f.Apps[i] == v.cur {
			return fmt.Sprintf("apps[%d]", i)
		}
	}
	return "app"
}

// claimScope scopes a claim to the current app's account and region:
// names (groups, templates, alarms, approval actions) are unique there
// only. App names are kaizen's own keys, unique across the file.
func (v *validator) claimScope(kind string) string {
	if v.cur == nil || kind == "app name" {
		return kind
	}
	return kind + " in " + v.cur.Place().String()
}

func samePlace(a, b *App) bool { return a.Place() == b.Place() }
