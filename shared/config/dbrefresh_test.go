package config

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// refreshBlock is a valid dbRefresh block for apps[1] of base.
func refreshBlock() map[string]any {
	return map[string]any{
		"source":           map[string]any{"dbInstance": "api-prod-db"},
		"target":           "api-staging-db",
		"subnetGroup":      "api-staging",
		"securityGroupIds": []any{"sg-0123456789abcdef0"},
		"instanceClass":    "db.t4g.medium",
		"schedule":         map[string]any{"days": []any{"sun"}, "from": "02:00", "to": "06:00", "timeZone": "Europe/Berlin"},
		"scrub":            map[string]any{"codeBuildProject": "api-staging-scrub"},
	}
}

func withRefresh(t *testing.T) doc {
	return baseDoc(t).set(t, "apps[1].dbRefresh", refreshBlock())
}

func TestDBRefreshDefaults(t *testing.T) {
	f, err := Parse(withRefresh(t).bytes(t))
	if err != nil {
		t.Fatal(err)
	}
	d := f.Apps[1].DBRefresh
	if d.SnapshotType != SnapshotAutomated || d.Endpoint != EndpointRename || d.KeepOldHours != 24 || d.TimeoutHours != 6 ||
		d.Scrub.TimeoutMinutes != 120 || d.SecretHostKey != "" || d.CrossAccount(f) || d.SourceAccount(f) != f.Account {
		t.Errorf("defaults %+v", d)
	}
	if d.KeepOld() != 24*time.Hour || d.Timeout() != 6*time.Hour || d.ScrubTimeout() != 2*time.Hour {
		t.Errorf("durations %s %s %s", d.KeepOld(), d.Timeout(), d.ScrubTimeout())
	}
	if d.Source.ID() != "api-prod-db" || d.Source.Cluster() {
		t.Errorf("source %+v", d.Source)
	}
	if f.Apps[0].DBRefresh != nil {
		t.Error("an app without the block has one")
	}
	// keepOldHours 0 is kept: the old database goes at once.
	g, err := Parse(withRefresh(t).set(t, "apps[1].dbRefresh.keepOldHours", 0).bytes(t))
	if err != nil || g.Apps[1].DBRefresh.KeepOldHours != 0 {
		t.Fatalf("keepOldHours 0: %v", err)
	}
	// and survives a round trip.
	b, _ := json.Marshal(g)
	h, err := Parse(b)
	if err != nil || h.Apps[1].DBRefresh.KeepOldHours != 0 {
		t.Fatalf("round trip: %v", err)
	}
	// A cluster in another account: shared snapshots by default; a secret.
	c, err := Parse(withRefresh(t).
		set(t, "apps[1].dbRefresh.source", map[string]any{"dbCluster": "api-prod", "account": "444455556666"}).
		set(t, "apps[1].dbRefresh.kmsKeyId", "arn:aws:kms:eu-west-1:111122223333:key/0f0e0d0c-0b0a-4908-8706-050403020100").
		set(t, "apps[1].dbRefresh.endpoint", "secret").set(t, "apps[1].dbRefresh.secret", "api/staging-db").bytes(t))
	if err != nil {
		t.Fatal(err)
	}
	cd := c.Apps[1].DBRefresh
	if cd.SnapshotType != SnapshotShared || cd.SecretHostKey != "host" || !cd.CrossAccount(c) || cd.SourceAccount(c) != "444455556666" ||
		cd.Source.ID() != "api-prod" || !cd.Source.Cluster() {
		t.Errorf("cross-account cluster %+v", cd)
	}
}

func TestDBRefreshRefuses(t *testing.T) {
	const p = "apps[1].dbRefresh"
	key := "arn:aws:kms:eu-west-1:111122223333:key/0f0e0d0c-0b0a-4908-8706-050403020100"
	cases := []struct {
		name string
		edit func(t *testing.T, d doc) doc
		want []string
	}{
		{"no source", func(t *testing.T, d doc) doc { return d.set(t, p+".source", map[string]any{}) }, []string{p + ".source: set exactly one of dbInstance and dbCluster"}},
		{"both sources", func(t *testing.T, d doc) doc {
			return d.set(t, p+".source", map[string]any{"dbInstance": "a", "dbCluster": "b"})
		}, []string{p + ".source: set exactly one"}},
		{"source not an identifier", func(t *testing.T, d doc) doc { return d.set(t, p+".source.dbInstance", "Api_Prod") }, []string{p + ".source.dbInstance: must be an RDS identifier"}},
		{"cluster not an identifier", func(t *testing.T, d doc) doc { return d.set(t, p+".source", map[string]any{"dbCluster": "9api"}) }, []string{p + ".source.dbCluster: must be an RDS identifier"}},
		{"source account", func(t *testing.T, d doc) doc { return d.set(t, p+".source.account", "4444") }, []string{p + ".source.account: must be a 12-digit"}},
		{"target missing", func(t *testing.T, d doc) doc { return d.del(t, p+".target") }, []string{p + ".target: required"}},
		{"target is production", func(t *testing.T, d doc) doc { return d.set(t, p+".target", "api-prod-db") }, []string{p + ".target: \"api-prod-db\" is the production database of apps[1].dbRefresh.source"}},
		{"target is a prefix of production", func(t *testing.T, d doc) doc { return d.set(t, p+".target", "api-prod") }, []string{p + ".target: \"api-prod\" is a prefix of the production database"}},
		{"target is another app's production", func(t *testing.T, d doc) doc {
			b := refreshBlock()
			b["source"] = map[string]any{"dbInstance": "api-staging-db"}
			b["target"] = "shop-staging-db"
			b["scrub"] = map[string]any{"codeBuildProject": "shop-scrub"}
			return d.set(t, "apps[0].dbRefresh", b)
		}, []string{p + ".target: \"api-staging-db\" is the production database of apps[0].dbRefresh.source"}},
		{"target too long", func(t *testing.T, d doc) doc { return d.set(t, p+".target", strings.Repeat("a", MaxTargetLength+1)) }, []string{p + ".target: must be at most 45 characters"}},
		{"target double hyphen", func(t *testing.T, d doc) doc { return d.set(t, p+".target", "api--staging") }, []string{p + ".target: must be an RDS identifier"}},
		{"subnet group", func(t *testing.T, d doc) doc { return d.set(t, p+".subnetGroup", "default") }, []string{p + ".subnetGroup: must be a DB subnet group name"}},
		{"subnet group name", func(t *testing.T, d doc) doc { return d.set(t, p+".subnetGroup", "Staging_DB") }, []string{p + ".subnetGroup: must be a DB subnet group name"}},
		{"scrub is the golden-image build, by ARN", func(t *testing.T, d doc) doc {
			return d.set(t, "apps[0].rebuild.codeBuildProject", "arn:aws:codebuild:eu-west-1:111122223333:project/api-staging-scrub")
		}, []string{p + ".scrub.codeBuildProject: \"api-staging-scrub\" is apps[0]'s golden-image build"}},
		{"source too long", func(t *testing.T, d doc) doc { return d.set(t, p+".source.dbInstance", "a"+strings.Repeat("b", 63)) }, []string{p + ".source.dbInstance: must be at most 63 characters"}},
		{"subnet group missing", func(t *testing.T, d doc) doc { return d.del(t, p+".subnetGroup") }, []string{p + ".subnetGroup: required"}},
		{"no security group", func(t *testing.T, d doc) doc { return d.set(t, p+".securityGroupIds", []any{}) }, []string{p + ".securityGroupIds: at least one"}},
		{"security group id", func(t *testing.T, d doc) doc { return d.set(t, p+".securityGroupIds", []any{"staging-db"}) }, []string{p + ".securityGroupIds[0]: must be a security group id"}},
		{"security group twice", func(t *testing.T, d doc) doc {
			return d.set(t, p+".securityGroupIds", []any{"sg-0123456789abcdef0", "sg-0123456789abcdef0"})
		}, []string{p + ".securityGroupIds[1]: \"sg-0123456789abcdef0\" is listed twice"}},
		{"instance class", func(t *testing.T, d doc) doc { return d.set(t, p+".instanceClass", "t4g.medium") }, []string{p + ".instanceClass: must be a DB instance class"}},
		{"parameter group", func(t *testing.T, d doc) doc { return d.set(t, p+".parameterGroup", "My_PG") }, []string{p + ".parameterGroup: must be a DB parameter group name"}},
		{"kms key alias", func(t *testing.T, d doc) doc {
			return d.set(t, p+".kmsKeyId", "arn:aws:kms:eu-west-1:111122223333:alias/staging")
		}, []string{p + ".kmsKeyId: must be an ARN like"}},
		{"kms key of another account", func(t *testing.T, d doc) doc {
			return d.set(t, p+".kmsKeyId", strings.Replace(key, "111122223333", "444455556666", 1))
		}, []string{p + ".kmsKeyId: ARN must be in region eu-west-1 and account 111122223333"}},
		{"cross-account without a key", func(t *testing.T, d doc) doc { return d.set(t, p+".source.account", "444455556666") }, []string{p + ".kmsKeyId: required for a source in another account"}},
		{"cross-account automated", func(t *testing.T, d doc) doc {
			return d.set(t, p+".source.account", "444455556666").set(t, p+".kmsKeyId", key).set(t, p+".snapshotType", "automated")
		}, []string{p + ".snapshotType: \"automated\" snapshots of another account cannot be read here"}},
		{"shared in the same account", func(t *testing.T, d doc) doc { return d.set(t, p+".snapshotType", "shared") }, []string{p + ".snapshotType: \"shared\" is for a source in another account"}},
		{"snapshot type", func(t *testing.T, d doc) doc { return d.set(t, p+".snapshotType", "latest") }, []string{p + ".snapshotType: must be"}},
		{"nothing starts a refresh", func(t *testing.T, d doc) doc { return d.del(t, p+".schedule") }, []string{p + ".schedule: set a schedule, onAutomatedSnapshot, or both"}},
		{"schedule window", func(t *testing.T, d doc) doc { return d.set(t, p+".schedule.to", "02:00") }, []string{p + ".schedule.to: must differ from from"}},
		{"automated snapshot trigger with manual snapshots", func(t *testing.T, d doc) doc {
			return d.set(t, p+".onAutomatedSnapshot", true).set(t, p+".snapshotType", "manual")
		}, []string{p + ".onAutomatedSnapshot: starts a refresh on production's automated snapshot, but snapshotType is \"manual\""}},
		{"no scrub", func(t *testing.T, d doc) doc { return d.del(t, p+".scrub") }, []string{p + ".scrub.codeBuildProject: required"}},
		{"scrub project name", func(t *testing.T, d doc) doc { return d.set(t, p+".scrub.codeBuildProject", "arn:aws:codebuild:x") }, []string{p + ".scrub.codeBuildProject: must be a CodeBuild project name"}},
		{"scrub is the golden-image build", func(t *testing.T, d doc) doc { return d.set(t, p+".scrub.codeBuildProject", "shop-golden-ami") }, []string{p + ".scrub.codeBuildProject: \"shop-golden-ami\" is apps[0]'s golden-image build"}},
		{"scrub timeout low", func(t *testing.T, d doc) doc { return d.set(t, p+".scrub.timeoutMinutes", 4) }, []string{p + ".scrub.timeoutMinutes: must be between 5 and 1440"}},
		{"scrub timeout high", func(t *testing.T, d doc) doc { return d.set(t, p+".scrub.timeoutMinutes", 1441) }, []string{p + ".scrub.timeoutMinutes: must be between 5 and 1440"}},
		{"endpoint", func(t *testing.T, d doc) doc { return d.set(t, p+".endpoint", "cname") }, []string{p + ".endpoint: must be \"rename\" or \"secret\""}},
		{"secret without endpoint secret", func(t *testing.T, d doc) doc { return d.set(t, p+".secret", "api/staging-db") }, []string{p + ".secret: applies to endpoint \"secret\" only"}},
		{"endpoint secret without a secret", func(t *testing.T, d doc) doc { return d.set(t, p+".endpoint", "secret") }, []string{p + ".secret: required with endpoint \"secret\""}},
		{"secret wildcard", func(t *testing.T, d doc) doc { return d.set(t, p+".endpoint", "secret").set(t, p+".secret", "api/*") }, []string{p + ".secret: must name one secret"}},
		{"secret ARN", func(t *testing.T, d doc) doc {
			return d.set(t, p+".endpoint", "secret").set(t, p+".secret", "arn:aws:secretsmanager:eu-west-1:111122223333:parameter/x")
		}, []string{p + ".secret: must be an ARN like"}},
		{"secret is the image secret", func(t *testing.T, d doc) doc {
			s := "arn:aws:secretsmanager:eu-west-1:111122223333:secret:api/production-AbCdEf"
			return d.set(t, "apps[1].secret", s).set(t, p+".endpoint", "secret").set(t, p+".secret", s)
		}, []string{p + ".secret: is the app's image secret"}},
		{"keepOldHours negative", func(t *testing.T, d doc) doc { return d.set(t, p+".keepOldHours", -1) }, []string{p + ".keepOldHours: must be between 0 and 720"}},
		{"keepOldHours too long", func(t *testing.T, d doc) doc { return d.set(t, p+".keepOldHours", 721) }, []string{p + ".keepOldHours: must be between 0 and 720"}},
		{"timeoutHours", func(t *testing.T, d doc) doc { return d.set(t, p+".timeoutHours", 49) }, []string{p + ".timeoutHours: must be between 1 and 48"}},
		{"timeoutHours negative", func(t *testing.T, d doc) doc { return d.set(t, p+".timeoutHours", -1) }, []string{p + ".timeoutHours: must be between 1 and 48"}},
		{"on a production app", func(t *testing.T, d doc) doc { return d.set(t, "apps[1].stagingApp", "shop") }, []string{p + ": api names a stagingApp, so it is a production app"}},
		{"two apps, one target", func(t *testing.T, d doc) doc {
			b := refreshBlock()
			b["scrub"] = map[string]any{"codeBuildProject": "shop-scrub"}
			return d.set(t, "apps[0].dbRefresh", b)
		}, []string{p + ".target: \"api-staging-db\" is already apps[0].dbRefresh.target"}},
		{"two apps, one scrub project", func(t *testing.T, d doc) doc {
			b := refreshBlock()
			b["target"] = "shop-staging-db"
			return d.set(t, "apps[0].dbRefresh", b)
		}, []string{p + ".scrub.codeBuildProject: \"api-staging-scrub\" is already apps[0].dbRefresh.scrub.codeBuildProject"}},
		{"unknown key", func(t *testing.T, d doc) doc { return d.set(t, p+".keepOld", 3) }, []string{p + ".keepOld: unknown key"}},
		{"key in other case", func(t *testing.T, d doc) doc { return d.rename(t, p+".target", "Target") }, []string{p + ".Target: unknown key \"Target\": the field is spelled \"target\""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.edit(t, withRefresh(t)).bytes(t))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestDBRefreshAccepts(t *testing.T) {
	const p = "apps[1].dbRefresh"
	for name, edit := range map[string]func(t *testing.T, d doc) doc{
		"longest target": func(t *testing.T, d doc) doc {
			return d.set(t, p+".target", "a"+strings.Repeat("b", MaxTargetLength-1))
		},
		"target extends prod":   func(t *testing.T, d doc) doc { return d.set(t, p+".target", "api-prod-db-staging") },
		"snapshot trigger only": func(t *testing.T, d doc) doc { return d.del(t, p+".schedule").set(t, p+".onAutomatedSnapshot", true) },
		"manual snapshots":      func(t *testing.T, d doc) doc { return d.set(t, p+".snapshotType", "manual") },
		"own account named":     func(t *testing.T, d doc) doc { return d.set(t, p+".source.account", "111122223333") },
		"longest source":        func(t *testing.T, d doc) doc { return d.set(t, p+".source.dbInstance", "a"+strings.Repeat("b", 62)) },
		"bounds": func(t *testing.T, d doc) doc {
			return d.set(t, p+".keepOldHours", 720).set(t, p+".timeoutHours", 48).set(t, p+".scrub.timeoutMinutes", 5)
		},
		"low bounds": func(t *testing.T, d doc) doc {
			return d.set(t, p+".timeoutHours", 1).set(t, p+".scrub.timeoutMinutes", 1440)
		},
		"parameter group": func(t *testing.T, d doc) doc { return d.set(t, p+".parameterGroup", "api-staging-pg16") },
		"secret by ARN": func(t *testing.T, d doc) doc {
			return d.set(t, p+".endpoint", "secret").set(t, p+".secret", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:api/staging-db-AbCdEf").set(t, p+".secretHostKey", "DB_HOST")
		},
		"multi-region key": func(t *testing.T, d doc) doc {
			return d.set(t, p+".kmsKeyId", "arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef")
		},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(edit(t, withRefresh(t)).bytes(t)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
