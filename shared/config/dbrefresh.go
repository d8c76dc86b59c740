package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DBRefresh refreshes a staging app's RDS database from production's newest
// snapshot: copy it (into this account, with this account's key), restore
// the copy as "<target>-<stamp>", run the scrub build against it, then swap
// it in (rename, or the staging secret's host) and delete the old database
// after KeepOldHours. Production is only ever read and copied from.
type DBRefresh struct {
	Source DBSource `json:"source"`
	// SnapshotType picks which of production's snapshots to restore:
	// "automated" (the default) or "manual" in this account, "shared" (the
	// default and only choice) for a source in another account, which shares
	// manual snapshots with this one.
	SnapshotType string `json:"snapshotType,omitempty"`
	// Target is the staging database's identifier: the DB instance, or the
	// Aurora cluster when the source is a cluster.
	Target           string   `json:"target"`
	SubnetGroup      string   `json:"subnetGroup"`
	SecurityGroupIDs []string `json:"securityGroupIds"`
	// InstanceClass sizes the restored instance (an Aurora cluster's writer).
	InstanceClass string `json:"instanceClass"`
	// ParameterGroup is the DB parameter group (the DB cluster parameter
	// group for a cluster); empty keeps the engine's default.
	ParameterGroup string `json:"parameterGroup,omitempty"`
	// KMSKeyID encrypts the copy of the snapshot: required for a source in
	// another account (its key is not this account's to use).
	KMSKeyID string `json:"kmsKeyId,omitempty"`
	// Schedule is a window in which a refresh starts, once per opening.
	Schedule *ChangeWindow `json:"schedule,omitempty"`
	// OnAutomatedSnapshot starts a refresh when production's automated
	// snapshot is created (RDS-EVENT-0091, or RDS-EVENT-0169 for a cluster).
	OnAutomatedSnapshot bool  `json:"onAutomatedSnapshot,omitempty"`
	Scrub               Scrub `json:"scrub"`
	// Endpoint is how staging finds the new database: "rename" (the
	// default: the old one becomes "<target>-old-<stamp>", the new one
	// "<target>", so the endpoint does not change) or "secret" (Secret's
	// SecretHostKey is set to the new endpoint).
	Endpoint      string `json:"endpoint,omitempty"`
	Secret        string `json:"secret,omitempty"`
	SecretHostKey string `json:"secretHostKey,omitempty"`
	// KeepOldHours keeps the previous database after the swap (default 24;
	// 0 deletes it at once).
	KeepOldHours int `json:"keepOldHours"`
	// TimeoutHours bounds the wait for the copy, the restore and the swap
	// (default 6); past it the refresh is undone.
	TimeoutHours int `json:"timeoutHours,omitempty"`
}

// DBSource is production's database: a DB instance or an Aurora cluster.
type DBSource struct {
	DBInstance string `json:"dbInstance,omitempty"`
	DBCluster  string `json:"dbCluster,omitempty"`
	// Account owns the source (default: the file's account).
	Account string `json:"account,omitempty"`
}

// ID is the source's identifier.
func (s DBSource) ID() string {
	if s.DBCluster != "" {
		return s.DBCluster
	}
	return s.DBInstance
}

// Cluster reports whether the source is an Aurora cluster.
func (s DBSource) Cluster() bool { return s.DBCluster != "" }

// Scrub is the build that scrubs the restored copy: a CodeBuild project in
// the VPC that runs the team's SQL against the endpoint kaizen passes.
type Scrub struct {
	CodeBuildProject string `json:"codeBuildProject"`
	// TimeoutMinutes bounds the wait for the build (default 120).
	TimeoutMinutes int `json:"timeoutMinutes,omitempty"`
}

// The values of DBRefresh's enumerations.
const (
	EndpointRename    = "rename"
	EndpointSecret    = "secret"
	SnapshotAutomated = "automated"
	SnapshotManual    = "manual"
	SnapshotShared    = "shared"
)

// MaxTargetLength leaves room in an RDS identifier (63 characters) for the
// longest name kaizen derives from the target: "<target>-old-YYYYMMDD-HHMM".
const MaxTargetLength = 63 - len("-old-20060102-1504")

// CrossAccount reports whether the source lives in another account.
func (d *DBRefresh) CrossAccount(f *File) bool {
	return d.Source.Account != "" && d.Source.Account != f.Account
}

// SourceAccount is the account that owns the source.
func (d *DBRefresh) SourceAccount(f *File) string {
	if d.Source.Account != "" {
		return d.Source.Account
	}
	return f.Account
}

// KeepOld is how long the previous database stays after the swap.
func (d *DBRefresh) KeepOld() time.Duration { return time.Duration(d.KeepOldHours) * time.Hour }

// Timeout bounds the copy, restore and swap waits.
func (d *DBRefresh) Timeout() time.Duration { return time.Duration(d.TimeoutHours) * time.Hour }

// ScrubTimeout bounds the scrub build.
func (d *DBRefresh) ScrubTimeout() time.Duration {
	return time.Duration(d.Scrub.TimeoutMinutes) * time.Minute
}

var (
	// RDS identifiers: a letter, then letters, digits and single hyphens;
	// RDS keeps them in lower case, and so must the file.
	rdsIdentifier = regexp.MustCompile(`^[a-z](-?[a-z0-9])*$`)
	subnetGroup   = regexp.MustCompile(`^[a-z0-9][a-z0-9._ -]{0,254}$`)
	sgID          = regexp.MustCompile(`^sg-[0-9a-f]{8,17}$`)
	instanceClass = regexp.MustCompile(`^db\.[a-z0-9-]+\.[a-z0-9]+$`)
	paramGroup    = regexp.MustCompile(`^[a-z](-?[a-z0-9.])*$`)
	projectName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{1,254}$`)
	// A key's ARN, not an alias's: IAM grants on the key (infra/stacks).
	kmsKeyARN = arnKind{"kms", regexp.MustCompile(`^key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`),
		"arn:aws:kms:REGION:ACCOUNT:key/ID (a key, not an alias), in this account and region", true}
)

// dbRefresh validates the app's dbRefresh block, after applying its
// defaults (Parse's defaults() runs before; the block's live here).
func (v *validator) dbRefresh(p string, a *App) {
	d := a.DBRefresh
	if d == nil {
		return
	}
	f := v.f
	dp := p + ".dbRefresh"
	v.dbRefreshDefaults(dp, d)

	if a.StagingApp != "" {
		v.add(dp, "%s names a stagingApp, so it is a production app: a database refresh runs on the staging app", a.Name)
	}
	src := d.Source
	switch {
	case (src.DBInstance == "") == (src.DBCluster == ""):
		v.add(dp+".source", "set exactly one of dbInstance and dbCluster")
	case src.DBInstance != "":
		v.identifier(dp+".source.dbInstance", src.DBInstance, 63)
	default:
		v.identifier(dp+".source.dbCluster", src.DBCluster, 63)
	}
	if src.Account != "" && !accountID.MatchString(src.Account) {
		v.add(dp+".source.account", "must be a 12-digit AWS account id, got %q", src.Account)
	}
	cross := d.CrossAccount(f)
	switch d.SnapshotType {
	case SnapshotAutomated, SnapshotManual:
		if cross {
			v.add(dp+".snapshotType", "%q snapshots of another account cannot be read here: a source in account %s shares them (%q)", d.SnapshotType, src.Account, SnapshotShared)
		}
	case SnapshotShared:
		if !cross {
			v.add(dp+".snapshotType", "%q is for a source in another account (source.account)", SnapshotShared)
		}
	default:
		v.add(dp+".snapshotType", "must be %q, %q or %q, got %q", SnapshotAutomated, SnapshotManual, SnapshotShared, d.SnapshotType)
	}

	if v.identifier(dp+".target", d.Target, MaxTargetLength) {
		v.claim("database refresh target", d.Target, dp+".target")
		// The target can never be production: not any app's source, and
		// no source may extend it with a hyphen, which the IAM grants on
		// "<target>-*" (the copies kaizen makes) would cover.
		for i := range f.Apps {
			o := f.Apps[i].DBRefresh
			if o == nil || o.Source.ID() == "" {
				continue
			}
			id := o.Source.ID()
			switch {
			case id == d.Target:
				v.add(dp+".target", "%q is the production database of apps[%d].dbRefresh.source: the target can never be production", d.Target, i)
			case strings.HasPrefix(id, d.Target+"-"):
				v.add(dp+".target", "%q is a prefix of the production database %q (apps[%d].dbRefresh.source): kaizen's grants on %q would cover it", d.Target, id, i, d.Target+"-*")
			}
		}
	}
	if d.SubnetGroup == "" {
		v.add(dp+".subnetGroup", "required")
	} else if !subnetGroup.MatchString(d.SubnetGroup) || d.SubnetGroup == "default" {
		v.add(dp+".subnetGroup", "must be a DB subnet group name (lower case, not \"default\"), got %q", d.SubnetGroup)
	}
	if len(d.SecurityGroupIDs) == 0 {
		v.add(dp+".securityGroupIds", "at least one VPC security group is required")
	}
	seen := map[string]bool{}
	for j, sg := range d.SecurityGroupIDs {
		field := fmt.Sprintf("%s.securityGroupIds[%d]", dp, j)
		switch {
		case !sgID.MatchString(sg):
			v.add(field, "must be a security group id (sg-...), got %q", sg)
		case seen[sg]:
			v.add(field, "%q is listed twice", sg)
		}
		seen[sg] = true
	}
	if !instanceClass.MatchString(d.InstanceClass) {
		v.add(dp+".instanceClass", "must be a DB instance class such as db.t4g.medium, got %q", d.InstanceClass)
	}
	if d.ParameterGroup != "" && !paramGroup.MatchString(d.ParameterGroup) {
		v.add(dp+".parameterGroup", "must be a DB parameter group name (lower case), got %q", d.ParameterGroup)
	}
	switch {
	case d.KMSKeyID != "":
		v.arn(dp+".kmsKeyId", d.KMSKeyID, kmsKeyARN, true)
	case cross:
		v.add(dp+".kmsKeyId", "required for a source in another account: the copy is re-encrypted with a key of account %s", f.Account)
	}

	if d.Schedule == nil && !d.OnAutomatedSnapshot {
		v.add(dp+".schedule", "set a schedule, onAutomatedSnapshot, or both: otherwise nothing ever starts a refresh")
	}
	if d.Schedule != nil {
		v.window(dp+".schedule", d.Schedule)
	}
	if d.OnAutomatedSnapshot && d.SnapshotType != SnapshotAutomated {
		v.add(dp+".onAutomatedSnapshot", "starts a refresh on production's automated snapshot, but snapshotType is %q", d.SnapshotType)
	}

	sp := dp + ".scrub.codeBuildProject"
	switch proj := d.Scrub.CodeBuildProject; {
	case proj == "":
		v.add(sp, "required: production data reaches staging only through the scrub")
	case !projectName.MatchString(proj):
		v.add(sp, "must be a CodeBuild project name, got %q", proj)
	default:
		for i := range f.Apps {
			rb := f.Apps[i].Rebuild.CodeBuildProject
			if rb == proj || strings.HasSuffix(rb, ":project/"+proj) {
				v.add(sp, "%q is apps[%d]'s golden-image build: the scrub needs a project of its own", proj, i)
			}
		}
		v.claim("scrub project", proj, sp)
	}
	if m := d.Scrub.TimeoutMinutes; m < 5 || m > 24*60 {
		v.add(dp+".scrub.timeoutMinutes", "must be between 5 and 1440 (0 takes the default 120), got %d", m)
	}

	switch d.Endpoint {
	case EndpointRename:
		if d.Secret != "" {
			v.add(dp+".secret", "applies to endpoint %q only (endpoint is %q)", EndpointSecret, EndpointRename)
		}
	case EndpointSecret:
		switch {
		case d.Secret == "":
			v.add(dp+".secret", "required with endpoint %q: the secret whose %q kaizen sets to the new endpoint", EndpointSecret, d.SecretHostKey)
		case strings.HasPrefix(d.Secret, "arn:"):
			v.arn(dp+".secret", d.Secret, secretARN, false)
		case strings.ContainsAny(d.Secret, "*?"):
			v.add(dp+".secret", "must name one secret, not a wildcard pattern: %q", d.Secret)
		}
		if d.Secret != "" && d.Secret == a.Secret {
			v.add(dp+".secret", "is the app's image secret (secret): kaizen keeps the database's host in a secret of its own")
		}
	default:
		v.add(dp+".endpoint", "must be %q or %q, got %q", EndpointRename, EndpointSecret, d.Endpoint)
	}
	if d.KeepOldHours < 0 || d.KeepOldHours > 24*30 {
		v.add(dp+".keepOldHours", "must be between 0 and 720, got %d", d.KeepOldHours)
	}
	if d.TimeoutHours < 1 || d.TimeoutHours > 48 {
		v.add(dp+".timeoutHours", "must be between 1 and 48 (0 takes the default 6), got %d", d.TimeoutHours)
	}
}

func (v *validator) dbRefreshDefaults(dp string, d *DBRefresh) {
	if d.SnapshotType == "" {
		d.SnapshotType = SnapshotAutomated
		if d.CrossAccount(v.f) {
			d.SnapshotType = SnapshotShared
		}
	}
	if d.Endpoint == "" {
		d.Endpoint = EndpointRename
	}
	if d.Endpoint == EndpointSecret && d.SecretHostKey == "" {
		d.SecretHostKey = "host"
	}
	if d.Scrub.TimeoutMinutes == 0 {
		d.Scrub.TimeoutMinutes = 120
	}
	if d.TimeoutHours == 0 {
		d.TimeoutHours = 6
	}
	if v.missing(dp + ".keepOldHours") {
		d.KeepOldHours = 24
	}
}

// identifier checks an RDS identifier of at most max characters and
// reports whether it is valid.
func (v *validator) identifier(field, id string, max int) bool {
	switch {
	case id == "":
		v.add(field, "required")
	case !rdsIdentifier.MatchString(id):
		v.add(field, "must be an RDS identifier: a letter, then lower-case letters, digits and single hyphens, got %q", id)
	case len(id) > max:
		v.add(field, "must be at most %d characters (kaizen appends \"-old-YYYYMMDD-HHMM\"), got %d", max, len(id))
	default:
		return true
	}
	return false
}
