package stacks

import (
	"fmt"
	"strings"
	"time"

	"github.com/kaizen-sre/kaizen/shared/config"
	"github.com/kaizen-sre/kaizen/shared/route"
)

// DBRefreshSchedule is how often dbrefresh runs: it starts a refresh in
// its window and advances the waits (copy, restore, renames, the old
// database's keep); the scrub build's end and production's snapshot come
// as events.
const DBRefreshSchedule = 5 * time.Minute

// rdsReadOnly are RDS's describes: read-only, and listing production's
// snapshots (a shared one is listed among every snapshot shared with the
// account) is authorized on "*" only.
var rdsReadOnly = []string{
	"rds:DescribeDBClusterSnapshots",
	"rds:DescribeDBClusters",
	"rds:DescribeDBInstances",
	"rds:DescribeDBSnapshots",
}

// dbRefreshGrants scope what dbrefresh does. Production's snapshots get
// one action, the copy; every action that changes something names staging's
// resources only: the target and "<target>-*" (what a refresh creates),
// which config validation keeps apart from every production identifier.
var dbRefreshGrants = []Grant{
	{Sid: "ReadDatabases", Scope: ScopeRDSDescribe, Actions: rdsReadOnly},
	// Checked on the source snapshot (production's) and on the copy.
	{Sid: "CopyProductionSnapshot", Scope: ScopeProductionSnapshots, Actions: []string{"rds:CopyDBSnapshot", "rds:CopyDBClusterSnapshot"}},
	{Sid: "RefreshStagingDatabase", Scope: ScopeStagingDatabases, Actions: []string{
		"rds:AddTagsToResource", "rds:RestoreDBInstanceFromDBSnapshot", "rds:RestoreDBClusterFromSnapshot", "rds:CreateDBInstance",
		"rds:ModifyDBInstance", "rds:ModifyDBCluster", "rds:DeleteDBInstance", "rds:DeleteDBCluster",
		"rds:DeleteDBSnapshot", "rds:DeleteDBClusterSnapshot",
	}},
	{Sid: "ScrubBuild", Scope: ScopeScrubProject, Actions: []string{"codebuild:StartBuild", "codebuild:BatchGetBuilds"}},
	{Sid: "StagingDatabaseSecret", Scope: ScopeStagingSecret, Actions: []string{"secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"}},
	{Sid: "DescribeStagingKey", Scope: ScopeStagingKey, Actions: []string{"kms:DescribeKey"}},
	// The staging apps' topics only, not every app's.
	{Sid: "NotifyStaging", Scope: ScopeRefreshTopic, Actions: []string{"sns:Publish"}},
	{Sid: "GrantStagingKeyToRDS", Scope: ScopeStagingKeyGrant, Actions: []string{"kms:CreateGrant"}},
}

// scopeOwners limits a scope's grants to some functions: CodeBuild's
// actions are granted on the golden-image build to the functions that
// rebuild, and on the scrub build to dbrefresh only, never the other way
// round.
var scopeOwners = map[Scope][]string{
	ScopeRebuildProject: {route.ALASPoll, route.SecretChange},
	ScopeScrubProject:   {route.DBRefresh},
	ScopeTopic:          {route.Stage, route.Promote, route.Guard, route.Tick, route.ALASPoll, route.SecretChange},
	ScopeRefreshTopic:   {route.DBRefresh},
	// The staging database's secret is dbrefresh's; Datadog's keys are
	// the tick's (metric analysis).
	ScopeStagingSecret: {route.DBRefresh},
	ScopeDatadogSecret: {route.Tick},
	ScopeDatadogKey:    {route.Tick},
}

func init() {
	wildcardReasons[ScopeRDSDescribe] = "Read-only RDS describes: listing the snapshots of production's database (and those another account shares) is authorized on '*'; nothing is changed."
	wildcardReasons[ScopeProductionSnapshots] = "Production's snapshots are named by RDS with their date ('rds:<source>-<date>', or '<source>-<date>' shared or manual): the ARN pins the configured source; " +
		"the only action is the copy, which reads them. The copy's own ARN pins the staging target's prefix."
	wildcardReasons[ScopeStagingDatabases] = "A refresh names what it creates '<target>-<stamp>' and '<target>-old-<stamp>': the ARNs pin the configured staging target, " +
		"which configuration validation keeps apart from every production identifier; the default option group's name carries the engine version."
	wildcardReasons[ScopeStagingSecret] = "Secrets Manager appends six random characters to a secret's ARN: the ARN pins the configured staging database secret."
}

// dbRefreshResources resolves the database refresh's scopes for one app
// (none if the app refreshes no database).
func dbRefreshResources(s Scope, f *config.File, a *config.App) []string {
	d := a.DBRefresh
	if d == nil {
		return nil
	}
	p, r := partition(a), f.Region
	arn := func(account, kind, id string) string {
		return fmt.Sprintf("arn:%s:rds:%s:%s:%s:%s", p, r, account, kind, id)
	}
	db, snap, pg := "db", "snapshot", "pg"
	if d.Source.Cluster() {
		db, snap, pg = "cluster", "cluster-snapshot", "cluster-pg"
	}
	src := d.Source.ID()
	switch s {
	case ScopeRDSDescribe:
		return []string{"*"}
	case ScopeProductionSnapshots:
		prod := arn(d.SourceAccount(f), snap, "rds:"+src+"-*")
		if d.SnapshotType != config.SnapshotAutomated {
			prod = arn(d.SourceAccount(f), snap, src+"-*")
		}
		return []string{prod, arn(f.Account, snap, d.Target+"-*")}
	case ScopeStagingDatabases:
		out := []string{
			arn(f.Account, db, d.Target), arn(f.Account, db, d.Target+"-*"),
			arn(f.Account, snap, d.Target+"-*"),
			arn(f.Account, "subgrp", d.SubnetGroup),
			arn(f.Account, "og", "default:*"),
		}
		if d.Source.Cluster() {
			// The cluster's writer instance, "<target>-<stamp>-1".
			out = append(out, arn(f.Account, "db", d.Target+"-*"))
		}
		if d.ParameterGroup != "" {
			out = append(out, arn(f.Account, pg, d.ParameterGroup))
		}
		return uniq(out)
	case ScopeScrubProject:
		return []string{fmt.Sprintf("arn:%s:codebuild:%s:%s:project/%s", p, r, f.Account, d.Scrub.CodeBuildProject)}
	case ScopeStagingSecret:
		if d.Endpoint != config.EndpointSecret {
			return nil
		}
		if strings.HasPrefix(d.Secret, "arn:") {
			return []string{d.Secret}
		}
		return []string{fmt.Sprintf("arn:%s:secretsmanager:%s:%s:secret:%s-??????", p, r, f.Account, d.Secret)}
	case ScopeRefreshTopic:
		return []string{a.TopicARN}
	case ScopeStagingKey, ScopeStagingKeyGrant:
		if d.KMSKeyID == "" {
			return nil
		}
		return []string{d.KMSKeyID}
	}
	return nil
}
